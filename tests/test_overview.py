"""The runs overview an operator reads: who started a run, its description and booking date,
marks for errors and warnings (golden text of `runs` and `show`, and their JSON)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, ROOT
from test_history import BASE, come_due, invoice, write_world
from typer.testing import CliRunner, Result

from exportc.cli import app
from exportc.orchestrate import run_profile
from exportc.runtime.execute import RunOptions
from exportc.runtime.history import now

PROFILE = str(EXACT_PROFILE.relative_to(ROOT))
_MOMENT = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")  # the zone after it stays


def _stable(text: str, tmp_path: Path) -> str:
    """Times and temporary folders replaced by fixed text of the same width (columns stay aligned)."""
    text = _MOMENT.sub("2000-01-01 00:00:00", text)
    text = re.sub(r"timings: .*", "timings: …", text)
    text = re.sub(r"history: .*", "history: <the test's history>", text)  # differs per backend
    text = text.replace(os.environ["EXPORTC_RUN_STORE"], "<run store>")
    text = re.sub(r"(run-\d+-[PT])-\d{8}T\d{6}(\.\d+)?", r"\1-<moment>", text)
    return text.replace(str(tmp_path), "<tmp>")


def _cli_run(url: str, sources: dict[str, str], *args: str) -> None:
    base = ["run", PROFILE, "--db", url, "--param", "invoice_export=true",
            *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code in (0, 1), result.output


@pytest.fixture(autouse=True)
def _amsterdam(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Amsterdam's (CET in November), so the zone shown is known."""
    monkeypatch.setenv("TZ", "Europe/Amsterdam")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def overview(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Three runs: a CLI test run by OS user `ops-anna`, a production run started from the web
    console by `marie`, and a test run with a warning."""
    monkeypatch.setenv("LOGNAME", "ops-anna")
    sources = write_world(tmp_path / "v", BASE)
    _cli_run(db, sources, "--out", str(tmp_path / "t"), "--description", "November invoices, first look",
             "--booking-date", "2026-11-30")
    opts = RunOptions(sources=sources, params={"invoice_export": "true"}, out_dir=tmp_path / "p",
                      mode="production", description="November invoices", whole=True,
                      first_delivery=True)
    assert run_profile(PROFILE, opts, db=db, started_by="marie").report is not None
    off = invoice("A9", "10.00")
    off["Factuurbedrag"] = "11.00"  # differs from its lines: a warning, not an error
    _cli_run(db, write_world(tmp_path / "w", [off]), "--out", str(tmp_path / "w"))
    return db


def test_runs_overview_names_who_when_and_what(overview: str, tmp_path: Path, snapshot: object) -> None:
    out = CliRunner().invoke(app, ["runs", "--db", overview])
    assert out.exit_code == 0
    assert _stable(out.output, tmp_path) == snapshot


def test_runs_json_has_description_booking_date_and_user(overview: str) -> None:
    data = json.loads(CliRunner().invoke(app, ["runs", "--db", overview, "--format", "json"]).output)
    assert [(r["started_by"], r["description"], r["booking_date"], r["warnings"]) for r in data] == [
        ("ops-anna", "November invoices, first look", "2026-11-30", 0),
        ("marie", "November invoices", None, 0),
        ("ops-anna", None, None, 1)]


def test_show_and_report_json_say_who_started_the_run(overview: str, tmp_path: Path,
                                                       snapshot: object) -> None:
    shown = CliRunner().invoke(app, ["show", "1", "--db", overview])
    assert shown.exit_code == 0
    assert _stable(shown.output, tmp_path) == snapshot
    report = json.loads((tmp_path / "p" / "report.json").read_text("utf-8"))
    assert (report["started_by"], report["description"], report["booking_date"]) == (
        "marie", "November invoices", None)


def test_runs_json_times_carry_their_utc_offset(overview: str) -> None:
    data = json.loads(CliRunner().invoke(app, ["runs", "--db", overview, "--format", "json"]).output)
    for key in ("created", "started", "finished"):
        assert dt.datetime.fromisoformat(data[0][key]).utcoffset() == dt.timedelta(hours=1)


def _schedule(url: str, sources: dict[str, str], out: Path, at: dt.datetime) -> Result:
    return CliRunner().invoke(app, ["run", PROFILE, "--db", url, "--param", "invoice_export=true",
                                    "--out", str(out), "--at", at.isoformat(),
                                    *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]])


def test_at_in_the_past_is_refused_and_records_nothing(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", BASE)
    result = _schedule(db, sources, tmp_path / "s", now() - dt.timedelta(minutes=1))
    assert result.exit_code == 2
    assert "has passed" in result.output
    assert "no runs" in CliRunner().invoke(app, ["runs", "--db", db]).output


def test_cancel_a_scheduled_run(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", BASE)
    assert _schedule(db, sources, tmp_path / "s", now() + dt.timedelta(hours=1)).exit_code == 0
    runner = CliRunner()
    cancelled = runner.invoke(app, ["cancel", "1", "--db", db])
    assert cancelled.exit_code == 0 and "cancelled run 1" in cancelled.output, cancelled.output
    assert " CET" in cancelled.output
    come_due(db, 1)
    worked = runner.invoke(app, ["worker", "--once", "--db", db])
    assert worked.exit_code == 0 and "0 scheduled run(s) done" in worked.output
    again = runner.invoke(app, ["cancel", "1", "--db", db])
    assert again.exit_code == 2 and "run 1 is cancelled; only a scheduled run" in again.output
    assert runner.invoke(app, ["cancel", "7", "--db", db]).exit_code == 2
    assert json.loads(runner.invoke(app, ["runs", "--db", db, "--format", "json"]).output)[0]["status"] \
        == "cancelled"


def test_worker_exits_1_when_a_run_it_executed_failed(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", BASE)
    assert _schedule(db, sources, tmp_path / "s", now() + dt.timedelta(hours=1)).exit_code == 0
    Path(sources["invoices"]).unlink()  # gone by the time the run is due
    come_due(db, 1)
    worked = CliRunner().invoke(app, ["worker", "--once", "--db", db])
    assert worked.exit_code == 1, worked.output
    assert "1 scheduled run(s) done, 1 failed (see `exportc show 1`)" in worked.output
