"""A document's pages go to disk while it is written (``runtime/writeback.py``); a flush that
fails is never lost: the run fails, delivers nothing and records nothing, as when the fsync
that ends the document fails."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_history import XML, cli_run, delivered, invoice, produce, write_world
from typer.testing import CliRunner

from exportc.cli import app
from exportc.orchestrate import open_history
from exportc.runtime import execute, writeback
from exportc.runtime.writeback import Writeback

WORLD = [invoice("A1", "121.00"), invoice("A2", "60.50")]


def test_the_pages_are_flushed_while_the_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        flushed.append(fd)
        real(fd)
    monkeypatch.setattr(writeback.os, "fdatasync", counting)
    with open(tmp_path / "doc.xml", "w") as fh:
        fd = fh.fileno()
        wb = Writeback(fd, every=0.001)
        for _ in range(20):
            fh.write("x" * 10_000)
            fh.flush()
            time.sleep(0.005)
        wb.stop()
        after = len(flushed)
        time.sleep(0.02)
    assert after >= 2 and set(flushed) == {fd}
    assert len(flushed) == after  # stopped: no flush once stop returned
    assert not any(t.name == "exportc-writeback" for t in threading.enumerate())


def _failing(fd: int) -> None:
    raise OSError(errno.EIO, "Input/output error")


def test_a_failed_flush_is_raised_by_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeback.os, "fdatasync", _failing)
    with open(tmp_path / "doc.xml", "w") as fh:
        wb = Writeback(fh.fileno(), every=0.001)
        time.sleep(0.05)
        with pytest.raises(OSError, match="Input/output error"):
            wb.stop()
        quiet = Writeback(fh.fileno(), every=0.001)
        time.sleep(0.05)
        quiet.stop(check=False)  # a file being discarded: nothing to say


@pytest.fixture
def failing_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every flush of a document fails (EIO), and its writing lasts long enough to flush."""
    monkeypatch.setattr(writeback, "EVERY", 0.001)
    monkeypatch.setattr(writeback.os, "fdatasync", _failing)
    close = execute._Output.close

    def slow_close(self: Any) -> None:
        time.sleep(0.05)
        close(self)
    monkeypatch.setattr(execute._Output, "close", slow_close)


def test_a_production_run_whose_flush_failed_delivers_nothing(
        tmp_path: Path, failing_flush: None, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    sources = write_world(tmp_path / "src", WORLD)
    with pytest.raises(OSError, match="Input/output error"):
        produce(db, sources, tmp_path / "out1")
    assert not (tmp_path / "out1" / XML).exists()
    assert not [p for p in (tmp_path / "out1").glob(".*")]  # no temporary file left behind
    runs = open_history(db).list_runs()
    assert [(r.mode, r.status) for r in runs] == [("P", "failed")]
    monkeypatch.undo()  # the disk is back: the next run delivers both invoices, once
    report = produce(db, sources, tmp_path / "out2")
    assert report.status == "succeeded"
    assert sorted(k for k, _ in delivered(tmp_path / "out2")["invoices"]) == ["A1", "A2"]


def test_the_command_says_what_the_disk_refused(tmp_path: Path, failing_flush: None) -> None:
    sources = write_world(tmp_path / "src", WORLD)
    args = ["run", "profiles/exact-online/exact-online.map", "--param", "invoice_export=true",
            "--out", str(tmp_path / "out"), "--db", str(tmp_path / "h.db"), "--production", "--all",
            "--first-delivery", *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "error: the run stopped: [Errno 5] Input/output error" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_run_as_a_process_writes_and_flushes_its_document(tmp_path: Path) -> None:
    sources = write_world(tmp_path / "src", WORLD)
    proc = cli_run(f"sqlite:///{tmp_path / 'h.db'}", sources, tmp_path / "out", "--production",
                   "--first-delivery")
    assert proc.returncode == 0, proc.stderr
    assert sorted(k for k, _ in delivered(tmp_path / "out")["invoices"]) == ["A1", "A2"]
