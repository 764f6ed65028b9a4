"""A production run killed at any of its steps: nothing half-recorded, no file lost or
overwritten, and the runs after it deliver every record exactly once."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import pytest
from test_history import (
    BASE,
    XML,
    cli_run,
    delivered,
    invoice,
    mutated_world,
    produce,
    write_world,
)

from exportc.orchestrate import open_history
from exportc.runtime.report import Report

# The steps of a production run, in the order it passes them (EXPORTC_CRASH_AT=<point> kills it
# there with SIGKILL). From "after-commit" on, the run is recorded as delivered.
CRASH_POINTS = [
    "after-recover", "after-run-row", "after-run-folder", "after-lock", "after-history-read",
    "after-bind", "after-temp-files", "mid-emit", "after-deletions", "after-blocks",
    "before-validate", "after-close", "before-commit", "mid-commit",
    "after-commit", "after-rename", "after-moved", "after-report", "after-unlock", "mid-copy",
    "after-copy",
]
COMMITTED = set(CRASH_POINTS[CRASH_POINTS.index("after-commit"):])
# PostgreSQL differs in the lock and the transaction: its points around those.
ON_POSTGRES = {"after-lock", "mid-emit", "before-commit", "mid-commit", "after-commit", "after-rename",
               "after-unlock"}


def _final_world() -> list[dict[str, object]]:
    # A2 changed, A4 deleted, A6 new
    return [invoice("A1", "133.10"), invoice("A2", "302.50"), invoice("A5", "24.20"), invoice("A6", "36.30")]


def _ledger(url: str, world: list[dict[str, object]]) -> None:
    """Replays every succeeded production run's delivered file in order: an invoice is only
    delivered when the previous version was reversed, a reversal reverses exactly what was
    delivered, and the signed total per invoice equals its amount in the source."""
    outstanding: dict[str, Decimal] = {}
    for row in open_history(url).list_runs():
        if row.mode != "P" or row.status != "succeeded":
            continue
        got = delivered(Path(row.files[0]).parent) if row.files else {"invoices": [], "reversals": []}
        for key, amount in got["reversals"]:
            assert outstanding.pop(key, None) == -amount, (row.id, key, amount)
        for key, amount in got["invoices"]:
            assert key not in outstanding, f"run {row.id} delivered {key} twice"
            outstanding[key] = amount
    assert outstanding == {str(i["Factuurnummer"]): Decimal(str(i["Factuurbedrag"])) for i in world}


def _store_is_clean(store: Path, url: str) -> None:
    """Every export in the run store belongs to a succeeded production run; no temporary files."""
    rows = open_history(url).list_runs()
    recorded = {f for r in rows if r.status == "succeeded" for f in r.files}
    exports = {str(p) for p in store.rglob("*.xml")}
    assert exports == recorded, (exports, recorded)
    assert not [p for p in store.rglob(".*") if p.name not in (".", "..")]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_production_run_killed_at_any_step(db: str, tmp_path: Path, point: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    if db.startswith("postgresql") and point not in ON_POSTGRES:
        pytest.skip("SQLite covers every step; PostgreSQL the lock and transaction steps")
    store = tmp_path / "store"
    monkeypatch.setenv("EXPORTC_RUN_STORE", str(store))
    produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "r1")
    invoices, customers = mutated_world()
    changed = write_world(tmp_path / "v2", invoices, customers)
    produce(db, changed, tmp_path / "expected", mode="test")  # what the killed run would deliver
    expected = delivered(tmp_path / "expected")

    killed = cli_run(db, changed, tmp_path / "killed", "--production", env={"EXPORTC_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert (tmp_path / "killed" / XML).exists() == (point in ("mid-copy", "after-copy"))

    after = produce(db, changed, tmp_path / "next")  # its start cleans up after the killed run
    assert after.status == "succeeded", after.summary()
    rows = open_history(db).list_runs()
    assert all(r.status != "running" for r in rows)
    if point == "after-recover":  # died before it was listed: nothing of it anywhere
        assert len(rows) == 3 and rows[2].id == after.run_id
    victim = rows[2]
    if point in COMMITTED:
        # Recorded as delivered: its file is in its own folder (moved there by the next start
        # when it died before), the next run has nothing to deliver.
        assert victim.status == "succeeded" and victim.files
        assert delivered(Path(victim.files[0]).parent) == expected
        assert after.nothing_to_deliver and delivered(tmp_path / "next") == delivered(tmp_path / "none")
        kept = Path(victim.files[0]).read_bytes()
    else:
        assert victim.id == after.run_id or (victim.status == "failed" and not victim.files)
        if victim.id != after.run_id:  # its report is a whole one: `show` renders it, says why
            died = Report.from_json(victim.report or "")
            assert (died.profile, died.status, [p.code for p in died.problems]) == (
                "exact_online.invoices", "failed", ["E0620"]), died.summary()
        assert delivered(tmp_path / "next") == expected
    _store_is_clean(store, db)

    world = _final_world()
    for n in range(2):  # a further change, then an unchanged rerun
        report = produce(db, write_world(tmp_path / "v3", world), tmp_path / f"later{n}")
        assert report.status == "succeeded", report.summary()
    assert report.nothing_to_deliver
    _ledger(db, world)
    _store_is_clean(store, db)
    if point in COMMITTED:
        assert Path(victim.files[0]).read_bytes() == kept  # never overwritten
