"""An upgrade of exportc never turns delivered records into changes.

``fixtures/history-0.1/history.db`` was written by a production run of exportc 0.1 (before the
canonical encoder was generated per source) over the JSON Lines beside it. Whatever this exportc
changes in how records are read, encoded or hashed, a production run over the same data must
find every delivered record unchanged and deliver nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, ROOT

from exportc.orchestrate import run_profile
from exportc.runtime.execute import RunOptions

FIXTURE = Path(__file__).parent / "fixtures" / "history-0.1"


def _previous_release_history(tmp_path: Path) -> tuple[Path, RunOptions]:
    """A copy of the history the previous release wrote, and the options of a production run
    over the fixture's unchanged sources."""
    db = tmp_path / "history.db"
    shutil.copy(FIXTURE / "history.db", db)
    return db, RunOptions(sources={"customers": str(FIXTURE / "customers.jsonl"),
                                   "invoices": str(FIXTURE / "invoices.jsonl")},
                          params={"invoice_export": "true"}, out_dir=tmp_path / "out", mode="production",
                          whole=True)


def test_a_history_of_the_previous_release_sees_its_records_unchanged(tmp_path: Path) -> None:
    db, opts = _previous_release_history(tmp_path)
    report = run_profile(str(EXACT_PROFILE.relative_to(ROOT)), opts, db=str(db)).report
    assert report is not None and report.status == "succeeded", report and report.problems
    assert report.records == {"customers": {"unchanged": 30}, "invoices": {"unchanged": 120}}
    assert all(counts.written == 0 for counts in report.blocks.values())


def test_the_upgraded_history_learns_the_lines_of_its_unchanged_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema 4 keeps each delivery's source-line digest. A 0.1 history has none: its first run
    classifies by the canonical hash (all unchanged, as above) and records the digests, so the
    next run knows every line without decoding one."""
    from sqlalchemy import text

    from exportc.runtime import records
    from exportc.runtime.history import SCHEMA_VERSION, HistoryStore
    db, opts = _previous_release_history(tmp_path)
    profile = str(EXACT_PROFILE.relative_to(ROOT))
    run_profile(profile, opts, db=str(db))
    store = HistoryStore(f"sqlite:///{db}")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT max(version) FROM exportc_schema")).scalar() == SCHEMA_VERSION
        assert conn.execute(text("SELECT count(*) FROM exportc_deliveries WHERE raw_hash IS NULL")).scalar() == 0
    store.dispose()
    decoded = []
    decode = records.typed_line
    monkeypatch.setattr(records, "typed_line", lambda *a: decoded.append(a) or decode(*a))
    report = run_profile(profile, opts, db=str(db)).report
    assert report is not None
    assert report.records == {"customers": {"unchanged": 30}, "invoices": {"unchanged": 120}}
    assert decoded == []
