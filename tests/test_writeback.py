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
    runs = open_history(db).list_runs()
    assert [(r.mode, r.status) for r in runs] == [("P", "failed")]
    assert runs[0].out_dir is not None  # the run's own folder: nothing of the document left there
    assert not [p.name for p in Path(runs[0].out_dir).iterdir() if p.name.endswith((".xml", ".tmp"))]
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


def test_a_production_run_as_a_process_delivers_its_document(tmp_path: Path) -> None:
    """The write-back thread in a real process: it ends with the document, and the run with it."""
    sources = write_world(tmp_path / "src", WORLD)
    proc = cli_run(f"sqlite:///{tmp_path / 'h.db'}", sources, tmp_path / "out", "--production",
                   "--first-delivery")
    assert proc.returncode == 0, proc.stderr
    assert sorted(k for k, _ in delivered(tmp_path / "out")["invoices"]) == ["A1", "A2"]


def test_a_split_run_flushes_one_document_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--split`: its documents are written one after the other, and so flushed: a thread for
    each at once would be hundreds at 5,000 records a document."""
    live: list[Writeback] = []
    most = 0

    class Counted(Writeback):
        def __init__(self, fd: int, every: float | None = None) -> None:
            nonlocal most
            super().__init__(fd, every)
            live.append(self)
            most = max(most, sum(1 for w in live if w._thread.is_alive()))
    monkeypatch.setattr(execute, "Writeback", Counted)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    report = produce(db, write_world(tmp_path / "src", [invoice(f"S{n}", "12.10") for n in range(1, 10)]),
                     tmp_path / "o", split=2)
    assert report.status == "succeeded" and len(report.files) == 7  # 4 accounts + 9 invoices
    assert len(live) == 7 and most == 1
    assert not any(w._thread.is_alive() for w in live)


def test_a_full_disk_while_discarding_leaves_no_document_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first document's buffer cannot be flushed (the disk is full): the others are
    discarded all the same, their threads stopped and their temporary files gone."""
    real_join = execute.BlockSet.join_split

    def full(self: Any, open_file: Any, per_file: int) -> None:
        real_join(self, open_file, per_file)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(execute.BlockSet, "join_split", full)
    close = execute._Output.discard

    def first_fails(self: Any) -> None:
        if self.final.name.endswith("-1.xml") and not self.fh.closed:
            self.fh.write("x" * 100)  # still in the buffer: its flush fails at close

            def refuse(*_: Any) -> None:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.fh.flush = refuse  # type: ignore[method-assign]
        close(self)
    monkeypatch.setattr(execute._Output, "discard", first_fails)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    with pytest.raises(OSError, match="No space left"):
        produce(db, write_world(tmp_path / "src", [invoice(f"D{n}", "12.10") for n in range(1, 6)]),
                tmp_path / "o", split=2)
    [row] = open_history(db).list_runs()
    assert row.status == "failed" and row.out_dir is not None  # the run's own folder: no document
    assert not [p.name for p in Path(row.out_dir).iterdir() if p.name.endswith((".xml", ".tmp"))]
    assert not any(t.name == "exportc-writeback" for t in threading.enumerate())


def test_a_run_that_fails_after_its_commit_stays_recorded_as_delivered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its report cannot be written (the disk filled up after the commit): the history keeps
    the run as it committed it, succeeded with its file, which is in place; marking it failed
    would hide a delivery that went out, and the next run delivers nothing again."""
    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(execute, "write_report", full)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    sources = write_world(tmp_path / "src", WORLD)
    with pytest.raises(OSError, match="No space left"):
        produce(db, sources, tmp_path / "out1")
    [row] = open_history(db).list_runs()
    assert (row.mode, row.status) == ("P", "succeeded") and row.files
    assert Path(row.files[0]).exists()
    assert sorted(k for k, _ in delivered(Path(row.files[0]).parent)["invoices"]) == ["A1", "A2"]
    monkeypatch.undo()
    assert produce(db, sources, tmp_path / "out2").nothing_to_deliver
