"""The bad-input corpus (tests/corpus/bad-input/*.toml): every bad input an operator can give gets
a clear message and exit code, never a traceback or a hang, and records what it should."""

from __future__ import annotations

import signal
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, EXACT_PROFILE, EXAMPLES, ROOT
from typer.testing import CliRunner

from exportc.cli import app

CASES = sorted((CORPUS / "bad-input").glob("*.toml"))
TIMEOUT = 30  # seconds; a hang is a failure, not a stuck suite


def _fill(arg: str, tmp: Path) -> str:
    return arg.format(tmp=tmp, examples=EXAMPLES, profile=EXACT_PROFILE, root=ROOT)


def _invoke(args: list[str], tmp: Path) -> Any:
    def hang(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"`exportc {' '.join(args)}` did not finish in {TIMEOUT}s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(TIMEOUT)
    try:
        return CliRunner().invoke(app, [_fill(a, tmp) for a in args])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _recorded(db: Path) -> str:
    """The statuses of the runs a SQLite history holds, or `none` (also when there is no file)."""
    if not db.is_file():
        return "none"
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT status FROM exportc_runs ORDER BY id").fetchall()
    except sqlite3.DatabaseError:
        return "none"
    return ",".join(r[0] for r in rows) or "none"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_bad_input(path: Path, tmp_path: Path) -> None:
    case = tomllib.loads(path.read_text("utf-8"))
    for name, content in case.get("files", {}).items():
        (tmp_path / name).write_text(content.lstrip("\n"), "utf-8", newline="")
    for args in case.get("prepare", []):
        done = _invoke(args, tmp_path)
        assert done.exit_code == 0, done.output
    before = _recorded(tmp_path / "h.db")
    result = _invoke(case["command"], tmp_path)
    output = result.output
    assert not isinstance(result.exception, (TimeoutError, AssertionError)), output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert result.exit_code == case["exit"], output
    for words in case.get("output", []):
        assert _fill(words, tmp_path) in output, output
    for words in case.get("absent", []):
        assert _fill(words, tmp_path) not in output, output
    if "recorded" in case:
        expected = case["recorded"].replace("{before}", before)
        assert _recorded(tmp_path / "h.db") == expected
