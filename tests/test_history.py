"""Production runs against the delivery history, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXACT_PROFILE, EXACT_XSD, EXAMPLES, ROOT
from helpers import artefact, assert_valid, delivered_keys
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import text

from exportc.orchestrate import open_history, run_profile, work
from exportc.runtime.execute import RunOptions
from exportc.runtime.history import HistoryError, HistoryStore, LockTimeout, locks, now, runs
from exportc.runtime.production import run_with_history
from exportc.runtime.report import Report

XML = "exact_online.invoices.xml"


# ---- a small world of customers and invoices, written as JSON Lines ------------------------------

CUSTOMERS = [json.loads(x) for x in (EXAMPLES / "customers.jsonl").read_text("utf-8").splitlines()]


def invoice(number: str, amount: str, day: int = 5, cust: int = 42) -> dict[str, Any]:
    sub = (Decimal(amount) / Decimal("1.21")).quantize(Decimal("0.01"))
    return {"Factuurnummer": number, "Factuurdatum": f"2026-11-{day:02d}", "Omschrijving": f"Factuur {number}",
            "Kenmerk": None, "cust_id": cust, "Factuurbedrag": amount,
            "Regels": [{"Regelnummer": 1, "Regelomschrijving": "Verblijf", "Regel_sub": str(sub),
                        "BTW_bedrag": str(Decimal(amount) - sub), "BTW_code": 21,
                        "Grootboekrekening": "8010", "Datum_vanaf": None, "Datum_tot": None}]}


def write_world(folder: Path, invoices: list[dict[str, Any]], customers: list[dict[str, Any]] | None = None
                ) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("customers", customers or CUSTOMERS), ("invoices", invoices)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return {"customers": str(folder / "customers.jsonl"), "invoices": str(folder / "invoices.jsonl")}


def produce(db: str, sources: dict[str, str], out: Path, mode: str = "production",
            lock_timeout: float = 60.0, **kw: Any) -> Any:
    # The guards that ask for --all and --first-delivery have their own tests (test_guards.py).
    kw = {"whole": True, "first_delivery": True, **kw}
    opts = RunOptions(sources=sources, params={"invoice_export": "true"}, out_dir=out, mode=mode, **kw)
    result = run_profile(str(EXACT_PROFILE.relative_to(ROOT)), opts, db=db, lock_timeout=lock_timeout)
    assert result.report is not None, result.compiled.diagnostics
    return result.report


def delivered(out: Path) -> dict[str, list[tuple[str, Decimal]]]:
    """What a run's file delivered: invoices (key, signed amount) and accounts (code)."""
    path = out / XML
    if not path.exists():
        return {"invoices": [], "reversals": [], "accounts": []}
    doc = etree.parse(str(path))
    got: dict[str, list[tuple[str, Decimal]]] = {"invoices": [], "reversals": [], "accounts": []}
    for inv in doc.iter("Invoice"):
        amount = Decimal(inv.findtext("ForeignAmount/Value"))  # type: ignore[arg-type]
        if inv.get("ordernumber"):
            got["invoices"].append((inv.get("ordernumber"), amount))  # type: ignore[arg-type]
        else:
            got["reversals"].append((inv.findtext("YourRef"), amount))  # type: ignore[arg-type]
    for acc in doc.iter("Account"):
        if acc.getparent().tag == "Accounts":  # type: ignore[union-attr]
            got["accounts"].append((acc.get("code"), Decimal(0)))  # type: ignore[arg-type]
    return got


BASE = [invoice("A1", "121.00"), invoice("A2", "242.00"), invoice("A3", "60.50"), invoice("A4", "12.10")]


def mutated_world() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    invoices = [invoice("A1", "133.10"), invoice("A2", "242.00"), invoice("A4", "12.10"), invoice("A5", "24.20")]
    customers = [dict(c) for c in CUSTOMERS]
    customers[1]["Telefoon"] = "+31 10 555 0000"
    return invoices, customers


def test_production_delivers_exactly_the_mutations(db: str, tmp_path: Path) -> None:
    base = write_world(tmp_path / "v1", BASE)
    r1 = produce(db, base, tmp_path / "r1")
    assert r1.status == "succeeded"
    first = delivered(tmp_path / "r1")
    assert sorted(k for k, _ in first["invoices"]) == ["A1", "A2", "A3", "A4"]
    assert len(first["accounts"]) == 4

    invoices, customers = mutated_world()
    changed = write_world(tmp_path / "v2", invoices, customers)
    test = produce(db, changed, tmp_path / "t2", mode="test")
    assert test.status == "succeeded"
    test_again = produce(db, changed, tmp_path / "t2b", mode="test")  # a test run changed nothing
    assert (tmp_path / "t2" / XML).read_bytes() == (tmp_path / "t2b" / XML).read_bytes()

    r2 = produce(db, changed, tmp_path / "r2")
    assert r2.status == "succeeded" and test_again.status == "succeeded"
    got = delivered(tmp_path / "r2")
    assert sorted(got["invoices"]) == [("A1", Decimal("133.10")), ("A5", Decimal("24.20"))]
    assert sorted(got["reversals"]) == [("A1", Decimal("-121.00")), ("A3", Decimal("-60.50"))]
    assert [c for c, _ in got["accounts"]] == ["00000007"]
    assert (tmp_path / "t2" / XML).read_bytes() == (tmp_path / "r2" / XML).read_bytes()
    assert_valid(tmp_path / "r2" / XML, EXACT_XSD)

    r3 = produce(db, changed, tmp_path / "r3")  # nothing changed since: nothing delivered
    assert r3.status == "succeeded"
    assert delivered(tmp_path / "r3") == {"invoices": [], "reversals": [], "accounts": []}

    store = open_history(db)
    rows = store.list_runs("exact_online.invoices")
    assert [(r.mode, r.status) for r in rows] == [("P", "succeeded"), ("T", "succeeded"), ("T", "succeeded"),
                                                   ("P", "succeeded"), ("P", "succeeded")]
    # Each record counted once: the changed invoice A1 is one record, though its reversal and its
    # new version are two elements.
    assert r2.records == {"customers": {"changed": 1, "unchanged": 3},
                          "invoices": {"changed": 1, "new": 1, "unchanged": 2, "deleted": 1}}
    assert rows[3].counts == {"changed": 2, "new": 1, "unchanged": 5, "deleted": 1}
    assert rows[0].counts == {"new": 8} and rows[4].counts == {"unchanged": 8}
    assert "records: customers changed 1, unchanged 3; invoices changed 1, deleted 1, new 1, unchanged 2" \
        in r2.summary()


def test_deletion_is_scoped_to_the_window(db: str, tmp_path: Path) -> None:
    early = [invoice("W1", "121.00", day=2), invoice("W2", "121.00", day=20)]
    produce(db, write_world(tmp_path / "v1", early), tmp_path / "r1")
    # W1 is gone from the source, but this run's window only covers the 15th onwards.
    later = write_world(tmp_path / "v2", [invoice("W2", "121.00", day=20)])
    produce(db, later, tmp_path / "r2", date_from=dt.date(2026, 11, 15), date_to=dt.date(2026, 11, 30))
    assert delivered(tmp_path / "r2")["reversals"] == []
    # Over the whole month it is deleted.
    produce(db, later, tmp_path / "r3", date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30))
    assert delivered(tmp_path / "r3")["reversals"] == [("W1", Decimal("-121.00"))]


def test_a_failed_production_run_records_nothing(db: str, tmp_path: Path) -> None:
    produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "r1")
    bad = [invoice("A1", "133.10"), {**invoice("A9", "10.00"), "Factuurbedrag": "ten"}]
    r2 = produce(db, write_world(tmp_path / "v2", bad), tmp_path / "r2")
    assert r2.status == "failed"
    assert not (tmp_path / "r2" / XML).exists()
    produce(db, write_world(tmp_path / "v3", [invoice("A1", "133.10"), *BASE[1:]]), tmp_path / "r3")
    assert delivered(tmp_path / "r3")["invoices"] == [("A1", Decimal("133.10"))]


def cli_run(db: str, sources: dict[str, str], out: Path, *extra: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """`exportc run` of the Exact profile as a real process."""
    args = [sys.executable, "-m", "exportc", "run", str(EXACT_PROFILE.relative_to(ROOT)),
            "--param", "invoice_export=true", "--out", str(out), "--db", db, *extra]
    if "--production" in extra:
        args.append("--all")
    for k, v in sources.items():
        args += ["--source", f"{k}={v}"]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=120)


def broken(number: str, amount: str) -> dict[str, Any]:
    """An invoice whose new version fails (its ledger account is not in the article table)."""
    inv = invoice(number, amount)
    inv["Regels"][0]["Grootboekrekening"] = "9999"
    return inv


def test_a_deletion_is_recorded_only_when_its_reversal_went_out(db: str, tmp_path: Path) -> None:
    """A deleted invoice whose reversal fails (what was delivered no longer maps: here its stored
    ledger account left the article table) stays delivered, and is tried again next run."""
    world = [invoice("A1", "121.00"), invoice("A2", "24.20")]
    assert produce(db, write_world(tmp_path / "v1", world), tmp_path / "r1").status == "succeeded"
    store = open_history(db)
    with store.engine.begin() as conn:  # what went out then used a ledger account gone since
        conn.execute(text("UPDATE exportc_deliveries SET payload = REPLACE(payload, '8010', '9999') "
                          "WHERE record_key = 'Factuurnummer=A2'"))
    for n in (2, 3):
        report = produce(db, write_world(tmp_path / f"v{n}", world[:1]), tmp_path / f"r{n}", skip_invalid=True)
        assert report.status == "succeeded"
        assert [(p.code, p.record) for p in report.errors] == [("E0605", "Factuurnummer=A2")]
        assert delivered(tmp_path / f"r{n}")["reversals"] == [] and "deleted" not in report.records["invoices"]
        assert delivered_keys(store, "exact_online.invoices", "invoices") == [
            "Factuurnummer=A1", "Factuurnummer=A2"]


def test_a_changed_record_whose_new_version_fails_is_left_out_whole(db: str, tmp_path: Path) -> None:
    """Not its reversal alone, and the history keeps what was delivered: no phantom version that
    a later run would reverse, nothing stuck."""
    assert produce(db, write_world(tmp_path / "v1", [invoice("A1", "121.00")]), tmp_path / "r1").status == "succeeded"
    for n in (2, 3):  # twice: the next run is not stuck on a version that never went out
        report = produce(db, write_world(tmp_path / f"v{n}", [broken("A1", "133.10")]), tmp_path / f"r{n}",
                         skip_invalid=True)
        assert report.status == "succeeded"
        assert delivered(tmp_path / f"r{n}")["reversals"] == [] == delivered(tmp_path / f"r{n}")["invoices"]
        (problem,) = report.errors
        assert problem.code == "E0605" and "nothing of this record was delivered" in problem.message
        assert "held back" in problem.message and report.records["invoices"] == {}
    fixed = produce(db, write_world(tmp_path / "v4", [invoice("A1", "133.10")]), tmp_path / "r4")
    assert fixed.status == "succeeded"
    got = delivered(tmp_path / "r4")
    assert got["reversals"] == [("A1", Decimal("-121.00"))] and got["invoices"] == [("A1", Decimal("133.10"))]


# ---- concurrency ---------------------------------------------------------------------------

def test_two_production_runs_at_once_deliver_each_mutation_once(db: str, tmp_path: Path) -> None:
    produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "r1")
    invoices, customers = mutated_world()
    changed = write_world(tmp_path / "v2", invoices, customers)
    procs = []
    for n in range(2):
        args = [sys.executable, "-m", "exportc", "run", str(EXACT_PROFILE.relative_to(ROOT)), "--production", "--all",
                "--param", "invoice_export=true", "--out", str(tmp_path / f"c{n}"), "--db", db,
                *[arg for k, v in changed.items() for arg in ("--source", f"{k}={v}")]]
        procs.append(subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    both = [delivered(tmp_path / f"c{n}") for n in range(2)]
    invoices_out = sorted(x for d in both for x in d["invoices"])
    reversals = sorted(x for d in both for x in d["reversals"])
    assert invoices_out == [("A1", Decimal("133.10")), ("A5", Decimal("24.20"))]
    assert reversals == [("A1", Decimal("-121.00")), ("A3", Decimal("-60.50"))]


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = open_history(url)
    with store.engine.begin() as conn:
        conn.execute(locks.insert().values(profile="exact_online.invoices", run_id=99, pid=2**22 + 12345,
                                           host=os.uname().nodename, heartbeat=now()))
    report = produce(url, write_world(tmp_path / "v", BASE), tmp_path / "r")
    assert report.status == "succeeded"


@pytest.mark.parametrize(("letter", "mode"), [("T", "test"), ("P", "production")])
def test_a_run_found_dead_is_reported_as_the_kind_of_run_it_was(db: str, letter: str, mode: str) -> None:
    """The runs table keeps a run's kind as its letter; the report of a run found dead names the
    kind in words, as every other report does (it said "production run" of a dead test run)."""
    store = open_history(db)
    run_id = store.create_run("exact_online.invoices", letter, "running", {}, (None, None), None)
    with store.engine.begin() as conn:  # its process is gone
        conn.execute(runs.update().where(runs.c.id == run_id).values(pid=2**22 + 12345, proc_start=None))
    store.recover("exact_online.invoices")
    died = Report.from_json(store.get_run(run_id).report or "")
    assert (died.status, died.mode, [p.code for p in died.problems]) == ("failed", mode, ["E0620"])
    assert died.summary().startswith(f"{mode} run of exact_online.invoices")


def _foreign_lock(url: str, pid: int, age: int = 0, proc_start: str | None = None) -> None:
    """A lock row left by another process: ``pid`` on this host, its heartbeat ``age`` s old."""
    store = open_history(url)
    with store.engine.begin() as conn:
        conn.execute(locks.insert().values(profile="exact_online.invoices", run_id=99, pid=pid,
                                           host=os.uname().nodename, proc_start=proc_start,
                                           heartbeat=now() - dt.timedelta(seconds=age)))


@pytest.fixture
def stranger() -> Any:
    """A live process on this host that is not an exportc run (a reused PID)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_lock_without_heartbeat_is_dead_though_its_pid_lives(tmp_path: Path, stranger: Any) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    _foreign_lock(url, stranger.pid, age=600)  # e.g. after a reboot that handed the PID out again
    report = produce(url, write_world(tmp_path / "v", BASE), tmp_path / "r", lock_timeout=2)
    assert report.status == "succeeded"


def test_a_reused_pid_does_not_keep_a_lock_alive(tmp_path: Path, stranger: Any) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    from exportc.runtime.liveness import process_start
    if process_start(stranger.pid) is None:
        pytest.skip("this OS does not tell when a process started")
    _foreign_lock(url, stranger.pid, proc_start="another-boot:12345")  # fresh beat, other process
    report = produce(url, write_world(tmp_path / "v", BASE), tmp_path / "r", lock_timeout=2)
    assert report.status == "succeeded"


def test_a_live_lock_times_out_and_says_whose_it_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = open_history(url)
    with store.lock("exact_online.invoices", 1, timeout=1), pytest.raises(LockTimeout) as caught:
        run_with_history(artefact(EXACT_PROFILE), RunOptions(
            sources=write_world(tmp_path / "v", BASE), params={"invoice_export": "1"}, out_dir=tmp_path / "o",
            mode="production", whole=True, first_delivery=True), store, {}, lock_timeout=0.5)
    message = str(caught.value)
    assert "another production run of `exact_online.invoices` holds the lock" in message
    assert re.search(rf"\(run 1: pid {os.getpid()} on host {os.uname().nodename}, last heartbeat \d+s ago\)", message)


def test_a_live_lock_on_postgres_names_the_running_run(db: str, tmp_path: Path) -> None:
    store = open_history(db)
    holder = store.create_run("exact_online.invoices", "P", "running", {}, (None, None), None)
    with store.lock("exact_online.invoices", holder, timeout=1), pytest.raises(LockTimeout) as caught:
        produce(db, write_world(tmp_path / "v", BASE), tmp_path / "r", lock_timeout=0.5)
    assert f"(run {holder}: pid {os.getpid()} on host " in str(caught.value)


def test_a_run_that_lost_its_lock_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = open_history(url)

    def taken_over(point: str) -> None:  # another run judged this one dead and took the lock
        if point == "after-lock":
            with store.engine.begin() as conn:
                conn.execute(locks.update().values(run_id=999, pid=1))
    monkeypatch.setattr("exportc.runtime.production.crashpoint", taken_over)
    with pytest.raises(HistoryError, match="lost the lock"):
        produce(url, write_world(tmp_path / "v", BASE), tmp_path / "r")
    assert delivered_keys(store, "exact_online.invoices", "invoices") == []
    assert [r.status for r in store.list_runs()] == ["failed"]



def test_a_version_1_history_gets_the_process_start_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HistoryStore(url)
    with store.engine.begin() as conn:  # back to what an exportc of schema version 1 made
        for table in ("exportc_runs", "exportc_locks"):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN proc_start"))
        conn.execute(text("DELETE FROM exportc_schema WHERE version > 1"))
    store.dispose()
    report = produce(url, write_world(tmp_path / "v", BASE), tmp_path / "r")
    assert report.status == "succeeded"
    store = HistoryStore(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT proc_start FROM exportc_runs")).scalar() is not None
    store.dispose()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HistoryStore(url)
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO exportc_schema (version, applied) VALUES (99, CURRENT_TIMESTAMP)"))
    store.dispose()
    with pytest.raises(HistoryError, match="schema version 99"):
        HistoryStore(url)


# ---- schedules -----------------------------------------------------------------------------

def come_due(db: str, *run_ids: int | None) -> None:
    """Let time pass for scheduled runs: their moment (in the future when they were stored,
    as it must be) is moved a minute into the past."""
    from exportc.runtime.history import runs
    with open_history(db).engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id.in_(run_ids)).values(
            scheduled_at=now() - dt.timedelta(minutes=1)))


def test_scheduled_runs_run_when_due(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", BASE)
    opts = RunOptions(sources=sources, params={"invoice_export": "true"}, out_dir=tmp_path / "due", mode="production",
                      whole=True, first_delivery=True)
    profile = str(EXACT_PROFILE.relative_to(ROOT))
    due = run_profile(profile, opts, db=db, at=now() + dt.timedelta(minutes=1)).scheduled
    come_due(db, due)
    later = run_profile(profile, RunOptions(sources=sources, params={"invoice_export": "true"},
                                            out_dir=tmp_path / "later"), db=db,
                        at=now() + dt.timedelta(days=1)).scheduled
    store = open_history(db)
    assert work(store, once=True) == 1
    rows = {r.id: r for r in store.list_runs()}
    assert rows[due].status == "succeeded" and rows[later].status == "scheduled"  # type: ignore[index]
    assert (tmp_path / "due" / XML).exists()
    assert work(store, once=True) == 0


# ---- the invariant -------------------------------------------------------------------------

_step = st.tuples(
    st.lists(st.tuples(st.sampled_from(["K1", "K2", "K3", "K4"]),
                       st.sampled_from(["set", "delete", "keep", "break"]),
                       st.sampled_from(["12.10", "24.20", "121.00", "-60.50"])), max_size=4),
    st.booleans())  # the run's --skip-invalid


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(_step, min_size=1, max_size=4))
@example([([("K1", "set", "12.10")], False), ([("K1", "break", "24.20")], True),
          ([("K1", "break", "24.20")], True), ([("K1", "set", "24.20")], False)])
@example([([("K1", "set", "12.10"), ("K2", "break", "121.00")], True), ([("K2", "set", "121.00")], False)])
def test_signed_total_per_record_equals_the_source(tmp_path_factory: pytest.TempPathFactory,
                                                   steps: list[tuple[list[tuple[str, str, str]], bool]]) -> None:
    """For any sequence of source changes and production runs, the signed total delivered per
    invoice equals its current amount (zero once deleted), and nothing is delivered twice.

    A ``break`` makes the record's new version fail: without --skip-invalid the run fails and
    delivers nothing; with it that record is left out whole, so its total stays what was
    delivered before, until a later version of it goes through."""
    tmp = tmp_path_factory.mktemp("inv")
    url = f"sqlite:///{tmp / 'h.db'}"
    world: dict[str, tuple[str, bool]] = {}  # key -> (amount, whether this version fails)
    expected: dict[str, Decimal] = {}  # key -> the amount that must have gone out in total
    totals: dict[str, Decimal] = {}
    last_delivered: dict[str, str | None] = {}
    for n, (step, skip) in enumerate(steps):
        for key, action, amount in step:
            if action in ("set", "break"):
                world[key] = (amount, action == "break")
            elif action == "delete":
                world.pop(key, None)
        rows = [broken(k, a) if bad else invoice(k, a) for k, (a, bad) in sorted(world.items())]
        report = produce(url, write_world(tmp / f"v{n}", rows), tmp / f"r{n}", skip_invalid=skip)
        failing = any(bad for _, bad in world.values())
        assert report.status == ("failed" if failing and not skip else "succeeded"), report.summary()
        if report.status == "succeeded":
            expected = {k: v for k, v in expected.items() if k in world}  # deletions went out
            expected.update({k: Decimal(a) for k, (a, bad) in world.items() if not bad})
        got = delivered(tmp / f"r{n}")
        for key, amount in got["invoices"] + got["reversals"]:
            totals[key] = totals.get(key, Decimal(0)) + amount
        for key, amount in got["invoices"]:
            assert last_delivered.get(key) != str(amount), f"{key} {amount} delivered twice"
            last_delivered[key] = str(amount)
        for key, _ in got["reversals"]:
            last_delivered[key] = None
        for key in {*world, *totals, *expected}:
            assert totals.get(key, Decimal(0)) == expected.get(key, Decimal(0)), (key, steps)


# ---- the overview commands ------------------------------------------------------------------

def test_runs_show_files_and_worker_commands(db: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exportc.cli import app
    runner = CliRunner()
    sources = write_world(tmp_path / "v", BASE)
    base = ["run", str(EXACT_PROFILE.relative_to(ROOT)), "--db", db, "--param", "invoice_export=true",
            *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]]
    assert runner.invoke(app, [*base, "--out", str(tmp_path / "t")]).exit_code == 0
    first = [*base, "--production", "--all", "--first-delivery", "--out", str(tmp_path / "p")]
    assert runner.invoke(app, first).exit_code == 0
    bad = runner.invoke(app, [*base, "--production", "--all", "--out", str(tmp_path / "x"), "--param", "code_nr=x"])
    assert bad.exit_code == 2
    soon = (now() + dt.timedelta(minutes=5)).isoformat()
    sched = runner.invoke(app, [*base, "--production", "--all", "--out", str(tmp_path / "s"), "--at", soon])
    assert sched.exit_code == 0 and "scheduled run" in sched.output

    listing = runner.invoke(app, ["runs", "--db", db])
    assert listing.exit_code == 0
    where, header, *lines = listing.output.splitlines()
    assert where == f"history: {open_history(db).where}"
    assert header.split() == ["id", "P/T", "status", "profile", "window", "booking", "started", "by",
                              "changes", "files", "description"]
    assert [line.split()[1:4] for line in lines] == [
        ["T", "succeeded", "exact_online.invoices"], ["P", "succeeded", "exact_online.invoices"],
        ["P", "scheduled", "exact_online.invoices"]]
    assert all(" all " in line for line in lines)  # no --from/--to: the whole source
    assert header.index("window") == lines[0].index("all")  # columns line up
    data = json.loads(runner.invoke(app, ["runs", "exact_online.invoices", "--db", db, "--format", "json"]).output)
    assert [r["mode"] for r in data] == ["T", "P", "P"]
    assert data[1]["counts"]["new"] > 0

    shown = runner.invoke(app, ["show", str(data[1]["id"]), "--db", db])
    assert "production run of exact_online.invoices: succeeded" in shown.output
    listed = runner.invoke(app, ["files", str(data[1]["id"]), "--db", db]).stdout.split()
    assert [Path(f).name for f in listed] == [XML, "report.json", "report.txt"]
    assert all(Path(f).exists() for f in listed)
    waiting = runner.invoke(app, ["files", str(data[2]["id"]), "--db", db])
    assert waiting.exit_code == 0 and "is scheduled for" in waiting.output and "missing" not in waiting.output
    assert runner.invoke(app, ["show", "999", "--db", db]).exit_code == 2

    come_due(db, data[2]["id"])
    worked = runner.invoke(app, ["worker", "--once", "--db", db])
    assert worked.exit_code == 0 and "1 scheduled run(s) done" in worked.output
    # Nothing changed since the production run: the scheduled one has nothing to deliver, and
    # writes no document (its report, copied to its --out, says so).
    assert not (tmp_path / "s" / XML).exists()
    assert json.loads((tmp_path / "s" / "report.json").read_text("utf-8"))["nothing_to_deliver"]


def test_sql_source_on_the_history_database(db: str, tmp_path: Path) -> None:
    """Sources can be read from SQL (SQLite and PostgreSQL) through SQLAlchemy."""
    store = open_history(db)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS src_customers"))
        conn.execute(text("CREATE TABLE src_customers (cust_id INTEGER, \"Bedrijfsnaam\" TEXT, "
                          "\"Telefoon\" TEXT, \"IBAN\" TEXT)"))
        conn.execute(text("INSERT INTO src_customers VALUES (42, 'Bakkerij & Zn.', NULL, NULL), "
                          "(7, 'Ærø ApS', '+45 1', 'DK5000400440116243')"))
    sources = write_world(tmp_path / "v", BASE)
    opts = RunOptions(sources={**sources, "customers": db}, params={"invoice_export": "true"},
                      queries={"customers": 'SELECT * FROM src_customers ORDER BY cust_id'},
                      out_dir=tmp_path / "o")
    report = run_profile(str(EXACT_PROFILE.relative_to(ROOT)), opts, db=db).report
    assert report is not None and report.status == "succeeded", report and report.summary()
    xml = (tmp_path / "o" / XML).read_text("utf-8")
    assert '<Name>Bakkerij &amp; Zn.</Name>' in xml and '<Name>Ærø ApS</Name>' in xml


def test_a_source_password_is_never_stored_and_may_come_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run request in the history shows `***` for a password written into a source URL, and
    keeps a `${NAME}` reference as written; the run reads the database either way."""
    url = os.environ.get("EXPORTC_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (set EXPORTC_TEST_POSTGRES_URL; .ci/run does)")
    from sqlalchemy.engine import make_url
    parsed = make_url(url)
    assert parsed.password, "the test database URL has a password"
    store = open_history(url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS src_customers"))
        conn.execute(text("CREATE TABLE src_customers (cust_id INTEGER, \"Bedrijfsnaam\" TEXT)"))
        conn.execute(text("INSERT INTO src_customers VALUES (42, 'Bakkerij'), (7, 'Berg')"))
    monkeypatch.setenv("EXPORTC_TEST_SOURCE_PASSWORD", parsed.password)
    by_reference = parsed.render_as_string(hide_password=False).replace(
        f":{parsed.password}@", ":${EXPORTC_TEST_SOURCE_PASSWORD}@")
    history = f"sqlite:///{tmp_path / 'h.db'}"
    for n, location in enumerate((url, by_reference)):
        opts = RunOptions(sources={**write_world(tmp_path / "v", BASE), "customers": location},
                          params={"invoice_export": "true"}, out_dir=tmp_path / f"o{n}",
                          queries={"customers": "SELECT * FROM src_customers ORDER BY cust_id"})
        report = run_profile(str(EXACT_PROFILE.relative_to(ROOT)), opts, db=history).report
        assert report is not None and report.status == "succeeded", report and report.summary()
    requests = [r.request["sources"]["customers"] for r in open_history(history).list_runs()]
    assert requests == [url.replace(f":{parsed.password}@", ":***@"), by_reference]
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("h.db*"))
    assert f":{parsed.password}@".encode() not in raw


def test_duplicate_keys_in_a_source_are_a_record_error(db: str, tmp_path: Path) -> None:
    report = produce(db, write_world(tmp_path / "v", [*BASE, invoice("A2", "1.21")]), tmp_path / "r")
    assert report.status == "failed"
    assert [p.code for p in report.errors] == ["E0609"]
    assert report.errors[0].record == "Factuurnummer=A2"


def test_several_workers_run_each_scheduled_run_once(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", BASE)
    profile = str(EXACT_PROFILE.relative_to(ROOT))
    ids = [run_profile(profile, RunOptions(sources=sources, params={"invoice_export": "true"},
                                           out_dir=tmp_path / f"s{n}"), db=db,
                       at=now() + dt.timedelta(minutes=1)).scheduled for n in range(4)]
    come_due(db, *ids)
    workers = [subprocess.Popen([sys.executable, "-m", "exportc", "worker", "--once", "--db", db], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    done = 0
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        done += int(out.strip().splitlines()[-1].split()[0])
    assert done == 4
    rows = {r.id: r for r in open_history(db).list_runs()}
    assert all(rows[i].status == "succeeded" for i in ids)  # type: ignore[index]
    assert all((tmp_path / f"s{n}" / XML).exists() for n in range(4))


def test_runs_flags_a_failed_run(db: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exportc.cli import app
    runner = CliRunner()
    sources = write_world(tmp_path / "v", BASE)
    sources["invoices"] = tmp_path / "missing.jsonl"
    failed = runner.invoke(app, ["run", str(EXACT_PROFILE.relative_to(ROOT)), "--db", db, "--production",
                                 "--all", "--first-delivery", "--param", "invoice_export=true",
                                 "--out", str(tmp_path / "f"),
                                 *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]])
    assert failed.exit_code == 1, failed.output
    row = runner.invoke(app, ["runs", "--db", db]).output.splitlines()[-1].split()
    assert row[1:4] == ["P", "failed", "!"]
    assert "E0501" in runner.invoke(app, ["show", row[0], "--db", db]).output
