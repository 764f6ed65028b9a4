"""What the block runner leaves out, and that the run is the same without it: for a source
nothing of which was delivered before, no record is classified against the history (each is
new), while a rerun, which has a past, classifies every record it offers; for a source whose
records go to one block without documents, no record is held in a ``_Pending`` to be settled
(``BlockSet._alone``): its element is delivered as it is written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import EXACT_PROFILE, EXAMPLES
from helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ireserve_property import _world

from exportc.orchestrate import run_profile
from exportc.runtime.blocks import BlockRun, BlockSet, _ReadOrder
from exportc.runtime.execute import RunOptions
from exportc.runtime.tracker import HistoryTracker


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


def _odd(invoices: list[dict[str, Any]], odd: list[str]) -> list[dict[str, Any]]:
    """The invoices with a duplicate, a row of a bad value and an unknown customer added."""
    out = list(invoices)
    for kind in odd:
        if kind == "duplicate":
            out.append(dict(invoices[0]))
        elif kind == "bad value":
            out.append({**invoices[0], "Factuurnummer": "bad", "Factuurdatum": "2026-02-30"})
        else:
            out.append({**invoices[0], "Factuurnummer": "orphan", "cust_id": -1})
    return out


def _outcome(tmp: Path, sources: dict[str, Path], out: str, **kw: object) -> tuple[object, ...]:
    report = run(EXACT_PROFILE, tmp / out, sources, **kw)
    problems = [repr(p) for p in report.problems]  # (every field, its spans too)
    files = [Path(f).read_bytes() for f in report.files]
    return report.status, problems, files, report.records, {k: vars(v) for k, v in report.blocks.items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(_world(), st.lists(st.sampled_from(["duplicate", "bad value", "unknown customer"]), max_size=3),
       st.booleans(), st.booleans())
def test_a_record_one_block_reads_is_delivered_as_the_general_path_delivers_it(
        tmp_path_factory: pytest.TempPathFactory, world: tuple[Any, Any, Any], odd: list[str],
        invoice_mode: bool, skip_invalid: bool) -> None:
    customers, invoices, _defects = world
    tmp = tmp_path_factory.mktemp("alone")
    sources = {"customers": tmp / "customers.jsonl", "invoices": tmp / "invoices.jsonl"}
    for name, rows in (("customers", customers), ("invoices", _odd(invoices, odd))):
        sources[name].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    kw = {"params": {"invoice_export": str(invoice_mode).lower()}, "skip_invalid": skip_invalid}
    taken: list[int] = []
    alone = BlockSet._alone
    with pytest.MonkeyPatch.context() as m:
        m.setattr(BlockSet, "_alone", lambda self, *a: taken.append(1) or alone(self, *a))
        short = _outcome(tmp, sources, "short", **kw)
    assert taken  # every source of these runs goes to one block
    with pytest.MonkeyPatch.context() as m:
        m.setattr(BlockSet, "_alone_fits", lambda self, runs: False)
        general = _outcome(tmp, sources, "general", **kw)
    assert short == general


def test_problems_are_put_in_read_order_when_a_late_finding_arrives() -> None:
    """_ReadOrder tags only when problems came (it counts what it tagged): a record's late
    finding (its business rules, settled after later records) still goes back to its record."""
    problems: list[Any] = ["before"]
    order = _ReadOrder(problems)
    first = order.next()
    problems.append("first's bad value")
    second = order.next()  # the problem so far belongs to the first record
    problems.append("second's")
    order.tag(second)
    order.next()  # a third record adds nothing
    problems.append("first's late finding")
    order.tag(first)
    order.restore()
    assert problems == ["before", "first's bad value", "first's late finding", "second's"]
