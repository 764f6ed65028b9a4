"""Live progress: a run tells whoever follows it (the console's run page) how many records it
read per source and how many it wrote per block, while it runs and once per source at the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, EXAMPLES
from helpers import run

from exportc.runtime import blocks
from exportc.runtime.context import RunOptions
from exportc.runtime.history import RunRow
from exportc.web.runner import Runner


def test_progress_names_records_read_per_source_and_written_per_block(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "PROGRESS_EVERY", 2)
    calls: list[tuple[str, int, dict[str, int]]] = []
    report = run(EXACT_PROFILE, tmp_path, {"customers": EXAMPLES / "customers.jsonl",
                                           "invoices": EXAMPLES / "invoices.jsonl"},
                 params={"invoice_export": "true"},
                 progress=lambda source, n, written: calls.append((source, n, dict(written))))
    assert report.status == "succeeded"
    # every second record while reading, then once per source at its end
    assert [(s, n) for s, n, _ in calls] == [("customers", 2), ("customers", 4), ("customers", 4),
                                             ("invoices", 2), ("invoices", 4), ("invoices", 4)]
    assert calls[1][2]["Accounts/Account"] == 3  # mid-run: written before the 4th record was read
    final = calls[-1][2]
    assert final == {name: c.written for name, c in report.blocks.items()}
    assert final["Invoices/Invoice"] == 4


def test_the_console_progress_record_carries_the_written_counts() -> None:
    runner = Runner.__new__(Runner)
    runner.progress = {}
    row = RunRow.__new__(RunRow)
    object.__setattr__(row, "id", 7)
    opts = RunOptions(sources={})
    runner._observe(row, opts)
    assert opts.progress is not None and opts.phase is not None
    opts.phase("writing")
    opts.progress("invoices", 5000, {"Invoices/Invoice": 4990})
    live = runner.progress[7].to_json()
    assert (live["phase"], live["records"], live["written"]) == (
        "writing", {"invoices": 5000}, {"Invoices/Invoice": 4990})


def test_plain_progress_says_nothing_of_a_source_that_read_no_record(
        capsys: pytest.CaptureFixture[str]) -> None:
    from exportc.cli import _progress
    show = _progress()  # stderr is not a terminal under pytest: plain lines
    show("invoices", 0, {})  # every row failed: the report says why, progress has nothing to add
    show("invoices", 100_000, {})
    assert capsys.readouterr().err == "invoices: 100,000 records\n"
