"""The bad-input corpus (tests/corpus/bad-input/*.toml): every bad input an operator can give gets
a clear message and exit code, never a traceback or a hang, and records what it should."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, EXACT_PROFILE, EXAMPLES, ROOT
from typer.testing import CliRunner

from exportc.cli import app
from exportc.orchestrate import close_histories

CASES = sorted((CORPUS / "bad-input").glob("*.toml"))
TIMEOUT = 30  # seconds; a hang is a failure, not a stuck suite


def _fill(text: str, tmp: Path) -> str:
    """The placeholders replaced (not str.format: JSON and `${NAME}` have braces)."""
    for key, value in (("{tmp}", tmp), ("{root}", ROOT), ("{examples}", EXAMPLES),
                       ("{profile}", EXACT_PROFILE)):
        text = text.replace(key, str(value))
    return text


def _invoke(args: list[str], tmp: Path, env: dict[str, str] | None = None) -> Any:
    def hang(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"`exportc {' '.join(args)}` did not finish in {TIMEOUT}s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(TIMEOUT)
    try:
        return CliRunner().invoke(app, [_fill(a, tmp) for a in args],
                                  env={k: _fill(v, tmp) for k, v in (env or {}).items()})
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


@contextmanager
def _immutable(files: list[Path]) -> Iterator[None]:
    """Files nobody may write, not even root (chattr +i); the case is skipped where that is not
    allowed (a container without CAP_LINUX_IMMUTABLE)."""
    done: list[Path] = []
    try:
        for f in files:
            if subprocess.run(["chattr", "+i", str(f)], capture_output=True).returncode != 0:
                pytest.skip("chattr +i is not allowed here")
            done.append(f)
        yield
    finally:
        for f in done:
            subprocess.run(["chattr", "-i", str(f)], check=True)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_bad_input(path: Path, tmp_path: Path) -> None:
    case = tomllib.loads(path.read_text("utf-8"))
    for name, content in case.get("files", {}).items():
        (tmp_path / name).write_text(_fill(content, tmp_path).lstrip("\n"), "utf-8", newline="")
    for args in case.get("prepare", []):
        done = _invoke(args, tmp_path)
        assert done.exit_code == 0, done.output
    close_histories()  # the command opens its history afresh, as a new process would
    with _immutable([tmp_path / name for name in case.get("immutable", [])]):
        result = _invoke(case["command"], tmp_path, case.get("env"))
    output = result.output
    assert not isinstance(result.exception, (TimeoutError, AssertionError)), output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert result.exit_code == case["exit"], output
    for words in case.get("output", []):
        assert _fill(words, tmp_path) in output, output
    for words in case.get("absent", []):
        assert _fill(words, tmp_path) not in output, output
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("h.db*"))  # with its WAL
    for words in case.get("history_absent", []):
        assert words.encode() not in stored, f"{words!r} is stored in the history"
    if "recorded" in case:
        assert _recorded(tmp_path / "h.db") == case["recorded"]
