"""What the block runner leaves out for a source nothing of which was delivered before, and
that the run is the same without it: no record is classified against the history (each is new),
while a rerun, which has a past, classifies every record it offers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import EXACT_PROFILE, EXAMPLES

from exportc.orchestrate import run_profile
from exportc.runtime.blocks import BlockRun
from exportc.runtime.execute import RunOptions
from exportc.runtime.production import HistoryTracker


def _two_runs(tmp_path: Path) -> tuple[list[bytes], list[list[str]], list[Any], list[int]]:
    """A first production run and a rerun with one invoice changed: their files, summaries, the
    history's deliveries, and how many records each classified."""
    tmp_path.mkdir()
    invoices = (EXAMPLES / "invoices.jsonl").read_text("utf-8").splitlines()
    changed = json.loads(invoices[0])
    changed["Omschrijving"] = "changed"
    (tmp_path / "v1.jsonl").write_text("\n".join([json.dumps(changed), *invoices[1:]]) + "\n", "utf-8")
    files, summaries, calls = [], [], []
    classify = HistoryTracker.classify
    for n, data in enumerate((EXAMPLES / "invoices.jsonl", tmp_path / "v1.jsonl")):
        counted: list[str] = []

        def counting(self: HistoryTracker, block: object, key: str, record: object) -> object:
            counted.append(key)  # noqa: B023
            return classify(self, block, key, record)  # type: ignore[arg-type]
        with pytest.MonkeyPatch.context() as m:
            m.setattr(HistoryTracker, "classify", counting)
            opts = RunOptions(sources={"customers": str(EXAMPLES / "customers.jsonl"), "invoices": str(data)},
                              params={"invoice_export": "false"}, out_dir=tmp_path / f"r{n}",
                              mode="production", whole=True, first_delivery=n == 0)
            report = run_profile(str(EXACT_PROFILE), opts, db=str(tmp_path / "history.db")).report
        assert report is not None and report.status == "succeeded", report and report.summary()
        files += [Path(f).read_bytes() for f in report.files]
        summaries.append(report.summary())
        calls.append(len(counted))
    with sqlite3.connect(tmp_path / "history.db") as db:
        deliveries = db.execute("SELECT source, record_key, hash, payload, run_id, deleted, raw_hash "
                                "FROM exportc_deliveries ORDER BY source, record_key").fetchall()
        deliveries += db.execute("SELECT run_id, source, record_key, change, hash FROM exportc_delivery_log "
                                 "ORDER BY id").fetchall()
    volatile = ("started", "file:", "copied to:", "history:", "timings:")  # times and paths
    counts = [[line for line in s.splitlines() if not line.strip().startswith(volatile)] for s in summaries]
    return files, counts, deliveries, calls


def test_a_source_never_delivered_is_not_classified_and_the_run_is_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    short = _two_runs(tmp_path / "short")
    assert short[3][0] == 0 and short[3][1] > 0  # the first run classified nothing; the rerun did
    # the general path: every record classified, whatever the source's past
    monkeypatch.setattr(BlockRun, "classifies", property(lambda _self: True, lambda _self, _value: None),
                        raising=False)
    general = _two_runs(tmp_path / "general")
    assert general[3][0] > 0
    assert short[:3] == general[:3]
