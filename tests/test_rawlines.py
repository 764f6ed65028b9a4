"""A rerun knows the source lines it delivered unchanged (``runtime/rawlines``): it neither
decodes, coerces nor encodes them, and classifies every record exactly as a full read would."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from test_history import BASE, CUSTOMERS, delivered, invoice, produce, write_world

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.runtime import records, tracker
from exportc.runtime.history import HistoryStore
from exportc.runtime.knownlines import TAG_BYTES
from exportc.runtime.rawlines import LineIndex
from exportc.runtime.tracker import HistoryTracker


class Probe:
    """Counts the lines decoded and the records canonically encoded during a run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoded = 0
        self.hashed = 0
        decode, hashed = records.typed_line, HistoryTracker._hashed

        def counting_decode(*args: Any) -> Any:
            self.decoded += 1
            return decode(*args)

        def counting_hash(history: HistoryTracker, *args: Any) -> Any:
            self.hashed += 1
            return hashed(history, *args)
        monkeypatch.setattr(records, "typed_line", counting_decode)
        monkeypatch.setattr(HistoryTracker, "_hashed", counting_hash)

    def reset(self) -> None:
        self.decoded = self.hashed = 0


def _forget_lines(db: str) -> None:
    """The history as a release before line digests left it (all NULL)."""
    store = HistoryStore(db)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE exportc_deliveries SET raw_hash = NULL"))
    store.dispose()


def _summary(report: Any) -> tuple[Any, ...]:
    return (report.status, report.records, {n: (c.records, c.written, dict(c.by_change))
                                            for n, c in report.blocks.items()},
            [(p.code, p.record, p.span.line if p.span else None, p.message) for p in report.problems])


def test_an_unchanged_rerun_decodes_no_line(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = write_world(tmp_path / "v1", BASE)
    assert produce(db, sources, tmp_path / "p1").status == "succeeded"
    probe = Probe(monkeypatch)
    again = produce(db, sources, tmp_path / "p2", first_delivery=False)
    assert again.records == {"customers": {"unchanged": len(CUSTOMERS)}, "invoices": {"unchanged": len(BASE)}}
    assert (probe.decoded, probe.hashed) == (0, 0)
    assert all(c.written == 0 for c in again.blocks.values())


def test_only_the_changed_line_is_decoded(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "p1")
    changed = [invoice("A1", "999.99"), *BASE[1:]]
    probe = Probe(monkeypatch)
    report = produce(db, write_world(tmp_path / "v2", changed), tmp_path / "p2", first_delivery=False)
    assert report.records["invoices"] == {"changed": 1, "unchanged": len(BASE) - 1}
    assert probe.decoded == 1  # the changed invoice; every other line was known
    assert probe.hashed >= 1


def test_other_bytes_for_the_same_values_stay_unchanged_and_are_learnt(
        db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = write_world(tmp_path / "v1", BASE)
    produce(db, sources, tmp_path / "p1")
    # other whitespace, keys in another order, an amount as a JSON number: the same values
    path = Path(sources["invoices"])
    path.write_text("".join(json.dumps(dict(reversed(list(r.items()))), indent=None, separators=(" ,", ":  "))
                            .replace('"Factuurbedrag":  "121.00"', '"Factuurbedrag":  121.00') + "\r\n"
                            for r in BASE), "utf-8")
    probe = Probe(monkeypatch)
    report = produce(db, sources, tmp_path / "p2", first_delivery=False)
    assert report.records["invoices"] == {"unchanged": len(BASE)}
    assert all(c.written == 0 for c in report.blocks.values())
    assert probe.decoded >= len(BASE)  # new bytes: read the full way once...
    probe.reset()
    third = produce(db, sources, tmp_path / "p3", first_delivery=False)
    assert third.records["invoices"] == {"unchanged": len(BASE)}
    assert probe.decoded == 0  # ...and known by their line from then on


@pytest.mark.parametrize("opts", [{"params": {"debtors": "7"}},  # a `where` that reads the record
                                  {"whole": False, "date_from": "2026-11-05", "date_to": "2026-11-30"}],
                         ids=["where", "window"])
def test_known_lines_count_as_a_full_read_does(db: str, tmp_path: Path, opts: dict[str, Any]) -> None:
    """The same rerun, once with the history's line digests and once without them, reports the
    same: which records each block selected, unchanged, changed or deleted."""
    kw = {k: dt.date.fromisoformat(v) if k.startswith("date") else v for k, v in opts.items()}
    world = [*BASE, invoice("W1", "50.00", day=2, cust=7), invoice("W2", "60.00", day=9, cust=7)]
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    for history in (db, copy):
        produce(history, write_world(tmp_path / "v1", world), tmp_path / "p1")
    # A1 deleted, W2 changed, the rest as it was (W1 outside the window)
    later = write_world(tmp_path / "v2", [*BASE[1:], world[-2], invoice("W2", "61.00", day=9, cust=7)])
    params = {"invoice_export": "true", **kw.pop("params", {})}
    fast = _run(db, later, tmp_path / "fast", params, kw)
    _forget_lines(copy)
    full = _run(copy, later, tmp_path / "full", params, kw)
    assert _summary(fast) == _summary(full)
    assert fast.records["invoices"].get("unchanged")


def _run(db: str, sources: dict[str, str], out: Path, params: dict[str, str], kw: dict[str, Any]) -> Any:
    from conftest import EXACT_PROFILE, ROOT

    from exportc.orchestrate import run_profile
    from exportc.runtime.execute import RunOptions
    opts = RunOptions(sources=sources, params=params, out_dir=out, mode="production",  # type: ignore[arg-type]
                      **{"whole": True, **kw})
    report = run_profile(str(EXACT_PROFILE.relative_to(ROOT)), opts, db=db).report
    assert report is not None
    return report


def test_the_digest_depends_on_the_declared_shape() -> None:
    """The same bytes under another declaration (here: a field made nullable) are not a line the
    history knows: what they become may differ."""
    shape = ShapeSpec("s", ("id",), None, {"id": TypeSpec("int"), "name": TypeSpec("text")}, {}, {})
    other = dataclasses.replace(shape, fields={"id": TypeSpec("int"), "name": TypeSpec("text", True)})
    line = '{"id": 1, "name": ""}\n'
    assert LineIndex(shape).digest(line) == LineIndex(shape).digest(line)
    assert LineIndex(shape).digest(line) != LineIndex(other).digest(line)


# ---- lean, loaded and full reruns agree ---------------------------------------------------------

_KEYS = [f"K{i}" for i in range(1, 9)]
_AMOUNTS = st.sampled_from(["121.00", "242.00", "60.50", "12.10", "133.10"])
_FATES = ["same", "same", "changed", "deleted", "reformatted", "twice", "changed and same"]


@st.composite
def _reruns(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str], tuple[int, int] | None]:
    """A first run's invoices; the second run's lines (each first-run invoice kept, changed,
    deleted, written with other bytes, or twice, and new ones), shuffled; and a window (days of
    November) or None for the whole source."""
    first = draw(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=6, unique=True))
    v1 = [invoice(k, draw(_AMOUNTS), day=draw(st.integers(1, 28))) for k in first]
    lines = []
    for rec in v1:
        fate = draw(st.sampled_from(_FATES))
        changed = json.dumps({**rec, **invoice(rec["Factuurnummer"], "999.99", day=int(rec["Factuurdatum"][-2:]))})
        lines += {"same": [json.dumps(rec)], "changed": [changed], "deleted": [],
                  "reformatted": [json.dumps(rec, separators=(",", ":"))],
                  "twice": [json.dumps(rec)] * 2, "changed and same": [changed, json.dumps(rec)]}[fate]
    lines += [json.dumps(invoice(k, draw(_AMOUNTS))) for k in
              draw(st.lists(st.sampled_from([k for k in _KEYS if k not in first]), max_size=3, unique=True))]
    window = draw(st.none() | st.tuples(st.integers(1, 14), st.integers(15, 28)))
    return v1, draw(st.permutations(lines)), window


def _deliveries(db: str) -> set[tuple[Any, ...]]:
    store = HistoryStore(db)
    with store.engine.connect() as conn:
        rows = {tuple(r) for r in conn.execute(text(
            "SELECT source, record_key, hash, deleted, raw_hash IS NULL FROM exportc_deliveries"))}
    store.dispose()
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=_reruns())
def test_a_rerun_classifies_alike_whether_its_lines_are_known_looked_up_or_loaded(
        tmp_path_factory: pytest.TempPathFactory, case: tuple[list[dict[str, Any]], list[str], Any]) -> None:
    """The same second run three ways: with the history's line digests kept lean (a line it
    does not know looked up by key), with the state loaded at the first such line, and with no
    line digest known at all. Every classification, duplicate, deletion, delivered document
    and recorded delivery is the same."""
    v1, lines, window = case
    tmp = tmp_path_factory.mktemp("rerun")
    first = f"sqlite:///{tmp / 'first.db'}"
    assert produce(first, write_world(tmp / "v1", v1), tmp / "p1").status == "succeeded"
    sources = write_world(tmp / "v2", [])
    Path(sources["invoices"]).write_text("".join(line + "\n" for line in lines), "utf-8")
    kw: dict[str, Any] = {"first_delivery": False}
    if window is not None:
        kw.update(whole=False, date_from=dt.date(2026, 11, window[0]), date_to=dt.date(2026, 11, window[1]))
    seen = []
    for way in ("lean", "loaded", "full"):
        with sqlite3.connect(tmp / "first.db") as src, sqlite3.connect(tmp / f"{way}.db") as dst:
            src.backup(dst)  # (with what the write-ahead log holds)
        db = f"sqlite:///{tmp / f'{way}.db'}"
        if way == "full":
            _forget_lines(db)
        with pytest.MonkeyPatch.context() as mp:
            if way == "loaded":
                mp.setattr(tracker, "MISS_FLOOR", 0)
            report = produce(db, sources, tmp / way, **kw)
        rows = {r[:4] for r in _deliveries(db)}  # (whether a line digest is kept may differ)
        seen.append((_summary(report), delivered(tmp / way), rows))
    assert seen[0] == seen[1] == seen[2]


def test_a_record_whose_line_digest_another_has_is_classified_by_its_key(db: str, tmp_path: Path) -> None:
    """Two delivered records with one line digest (only a digest collision, or a damaged
    history, could make them): the second is known by its key, changed and deleted as any."""
    produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "p1")
    store = HistoryStore(db)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE exportc_deliveries SET raw_hash = (SELECT raw_hash FROM exportc_deliveries "
                          "WHERE record_key = 'A1' AND source = 'invoices') "
                          "WHERE source = 'invoices' AND record_key IN ('A2', 'A3')"))
    store.dispose()
    # A1 as it was, A2 changed, A3 gone, A4 as it was
    later = write_world(tmp_path / "v2", [BASE[0], invoice("A2", "250.00"), BASE[3]])
    report = produce(db, later, tmp_path / "p2", first_delivery=False)
    assert report.records["invoices"] == {"unchanged": 2, "changed": 1, "deleted": 1}
    again = produce(db, later, tmp_path / "p3", first_delivery=False)
    assert again.records["invoices"] == {"unchanged": 3}


@pytest.mark.parametrize("others", [0, 3], ids=["alone", "with others"])
def test_a_changed_line_taken_for_a_delivered_one_by_its_tag_is_delivered_as_changed(
        db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, others: int) -> None:
    """Every line given a digest whose bucket and tag say nothing (its first bytes zero), so that
    a changed line is taken for the delivered one by its tag (alone, it would pass for unchanged;
    with others, they would pass for duplicates): the sums tell, the run starts over reading
    every line in full, and delivers the change, once, leaving no file of its first try."""
    real = LineIndex.digest

    def weak(index: LineIndex, line: str) -> bytes:  # (the invoices' lines: customers as always)
        digest = real(index, line)
        return bytes(2 + TAG_BYTES) + digest[2 + TAG_BYTES:] if index.shape.name == "invoices" else digest
    monkeypatch.setattr(LineIndex, "digest", weak)
    assert produce(db, write_world(tmp_path / "v1", BASE[:1 + others]), tmp_path / "p1").status == "succeeded"
    later = write_world(tmp_path / "v2", [invoice("A1", "250.00"), *BASE[1:1 + others]])
    report = produce(db, later, tmp_path / "p2", first_delivery=False)
    assert report.status == "succeeded"
    assert report.records["invoices"] == {"changed": 1, **({"unchanged": others} if others else {})}
    assert [p.code for p in report.problems if p.code == "N0623"] == ["N0623"]
    recorded = json.loads((Path(report.files[0]).parent / "report.json").read_text("utf-8"))
    assert [p["code"] for p in recorded["problems"] if p["code"] == "N0623"] == ["N0623"]
    assert delivered(tmp_path / "p2")["invoices"] == [("A1", Decimal("250.00"))]
    folder = Path(report.files[0]).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted([Path(report.files[0]).name, "report.json",
                                                               "report.txt"])
    again = produce(db, later, tmp_path / "p3", first_delivery=False)
    assert again.records["invoices"] == {"unchanged": 1 + others}
    assert delivered(tmp_path / "p3")["invoices"] == []
