"""Guards before mass reversals: the deletion guard, --all, --first-delivery, and a selection
that selects nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_history import XML, delivered, invoice, produce, write_world
from test_project import customer_profile
from typer.testing import CliRunner

from exportc.cli import app
from exportc.orchestrate import open_history, run_profile
from exportc.runtime.execute import RunOptions

TWENTY = [invoice(f"G{n:02d}", "12.10", day=1 + n % 28) for n in range(20)]


def test_a_partial_source_stops_a_production_run_before_any_deletion(db: str, tmp_path: Path) -> None:
    """15 of 20 delivered invoices gone (a partial file): the production run stops, delivers
    nothing and names the count and the way on; a test run warns; --allow-deletions 15 delivers."""
    produce(db, write_world(tmp_path / "v1", TWENTY), tmp_path / "r1")
    partial = write_world(tmp_path / "v2", TWENTY[:5])
    stopped = produce(db, partial, tmp_path / "r2")
    assert stopped.status == "failed" and not stopped.files
    (problem,) = stopped.errors
    assert problem.code == "E0630" and "15 deletions of the 20 `invoices` records" in problem.message
    assert "--allow-deletions 15" in problem.message and "Nothing was delivered" in problem.message
    assert not (tmp_path / "r2" / XML).exists()

    test = produce(db, partial, tmp_path / "t3", mode="test")
    assert test.status == "succeeded" and [w.code for w in test.warnings] == ["W0630"]
    assert len(delivered(tmp_path / "t3")["reversals"]) == 15  # the history did not change

    too_few = produce(db, partial, tmp_path / "r4", allow_deletions=14)
    assert too_few.status == "failed" and "--allow-deletions 14 allows fewer" in too_few.errors[0].message
    allowed = produce(db, partial, tmp_path / "r5", allow_deletions=15)
    assert allowed.status == "succeeded", allowed.summary()
    assert len(delivered(tmp_path / "r5")["reversals"]) == 15


def test_a_few_deletions_pass_the_default_guard(db: str, tmp_path: Path) -> None:
    produce(db, write_world(tmp_path / "v1", TWENTY), tmp_path / "r1")
    report = produce(db, write_world(tmp_path / "v2", TWENTY[:15]), tmp_path / "r2")  # 5: the floor
    assert report.status == "succeeded" and not report.warnings


def test_the_guard_is_set_per_profile_in_exportc_toml(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "exportc.toml").write_text('[exportc]\nhistory = "h.db"\nmax_deletions = "50%"\n'
                                          '[exportc.max_deletions_per_profile]\n"acme.outside" = 0\n', "utf-8")
    profile = str(customer_profile(project))
    opts = RunOptions(sources=write_world(tmp_path / "v1", TWENTY[:4]), mode="production", whole=True,
                      first_delivery=True)
    assert run_profile(profile, opts).report.status == "succeeded"  # type: ignore[union-attr]
    opts.sources = write_world(tmp_path / "v2", TWENTY[:3])
    report = run_profile(profile, opts).report
    assert report is not None and report.status == "failed"
    assert [p.code for p in report.errors] == ["E0630"] and "max_deletions = 0" in report.errors[0].message


def _run(db: str, sources: dict[str, str], *extra: str) -> object:
    return CliRunner().invoke(app, ["run", "profiles/exact-online/exact-online.map", "--db", db,
                                    "--param", "invoice_export=true", "--production", *extra,
                                    *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]])


def test_a_windowed_production_run_without_from_to_asks_for_all(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", TWENTY)
    refused = _run(db, sources, "--first-delivery")
    assert refused.exit_code == 2  # type: ignore[attr-defined]
    assert "--all to run over the whole source" in refused.output  # type: ignore[attr-defined]
    assert open_history(db).list_runs() == []  # a usage error records nothing
    both = _run(db, sources, "--first-delivery", "--all", "--from", "2026-11-01")
    assert both.exit_code == 2  # type: ignore[attr-defined]
    assert _run(db, sources, "--first-delivery", "--from", "2026-11-01", "--to", "2026-11-30").exit_code == 0  # type: ignore[attr-defined]


def test_a_first_delivery_is_asked_for_so_a_wrong_empty_history_stops(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", TWENTY)
    refused = _run(db, sources, "--all")
    assert refused.exit_code == 2 and "--first-delivery" in refused.output  # type: ignore[attr-defined]
    assert open_history(db).list_runs() == []
    assert _run(db, sources, "--all", "--first-delivery").exit_code == 0  # type: ignore[attr-defined]
    assert _run(db, sources, "--all").exit_code == 0  # type: ignore[attr-defined]  # not the first any more
    wrong = _run(str(tmp_path / "other-history.db"), sources, "--all")  # the same profile, another history
    assert wrong.exit_code == 2 and "--first-delivery" in wrong.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(("extra", "code"), [
    ({"params": {"invoice_export": "true", "debtors": "99999"}}, "W0636"),
    ({"date_from": dt.date(2027, 1, 1), "date_to": dt.date(2027, 1, 31)}, "W0635")])
def test_a_selection_or_window_that_selects_nothing_is_a_warning(tmp_path: Path, extra: dict[str, object],
                                                                  code: str) -> None:
    opts = RunOptions(sources=write_world(tmp_path / "v", TWENTY), params={"invoice_export": "true"},
                      out_dir=tmp_path / "o")
    for k, v in extra.items():
        setattr(opts, k, v)
    report = run_profile("profiles/exact-online/exact-online.map", opts, db=str(tmp_path / "h.db")).report
    assert report is not None and report.status == "succeeded"
    assert code in [w.code for w in report.warnings], report.summary()
