"""``exportc run --zip``: a zip of every document of a run, published with them (never half
written), listed in report.json, copied by ``exportc files RUN --copy-to``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import run
from test_peppol import PROFILE, SELLER, _invoice, _world
from typer.testing import CliRunner
from web_helpers import EXACT, add_users, client, console, csrf, login, wait_finished

from exportc.cli import app
from exportc.orchestrate import open_history, run_profile
from exportc.runtime.execute import RunOptions

WORLD = [_invoice("Z1", [("100.00", "21.00", 21)]), _invoice("Z2", [("50.00", "4.50", 9)]),
         _invoice("Z3", [("-10.00", "-2.10", 21)], cust=7)]


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_zip_holds_every_document_byte_for_byte(tmp_path: Path) -> None:
    report = run(PROFILE, tmp_path / "out", _world(tmp_path / "w", WORLD), params=SELLER,
                 validate=False, zip=True)
    assert report.status == "succeeded", report.summary()
    *docs, last = [Path(f) for f in report.files]
    assert [d.name for d in docs] == ["Z1.xml", "Z2.xml", "Z3.xml"]
    assert last.name == "peppol_bis3.invoices.zip" and report.zip == str(last)
    assert _members(last) == {d.name: d.read_bytes() for d in docs}
    saved = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert saved["zip"] == str(last) and saved["files"] == [str(f) for f in [*docs, last]]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_without_zip_there_is_none(tmp_path: Path) -> None:
    report = run(PROFILE, tmp_path / "out", _world(tmp_path / "w", WORLD), params=SELLER, validate=False)
    assert report.zip is None and not list((tmp_path / "out").glob("*.zip"))


def test_a_production_zip_is_named_by_the_run_and_copied_with_its_files(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'history.db'}"
    opts = RunOptions(sources=_world(tmp_path / "w", WORLD), params=SELLER, mode="production", whole=True,
                      first_delivery=True, validate=False, zip=True)
    env = {"EXPORTC_RUN_STORE": str(tmp_path / "store")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        result = run_profile(str(PROFILE.relative_to(ROOT)), opts, db=db)
        report = result.report
        assert report is not None and report.status == "succeeded", report and report.summary()
        zipped = Path(report.files[-1])
        assert zipped.name == f"peppol_bis3.invoices-run-{report.run_id}.zip"
        row = open_history(db).get_run(report.run_id)
        assert row is not None and row.files == report.files  # the history lists the zip too
        out = CliRunner().invoke(app, ["files", str(report.run_id), "--db", db,
                                       "--copy-to", str(tmp_path / "copy")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "copy" / zipped.name).read_bytes() == zipped.read_bytes()
    assert _members(tmp_path / "copy" / zipped.name) == {
        n: (tmp_path / "copy" / n).read_bytes() for n in ("Z1.xml", "Z2.xml", "Z3.xml")}


def _cli(db: str, sources: dict[str, str], env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "exportc", "run", str(PROFILE.relative_to(ROOT)), "--production", "--all",
            "--zip", "--no-validate", "--db", db, *extra]
    args += [a for k, v in SELLER.items() for a in ("--param", f"{k}={v}")]
    args += [a for k, v in sources.items() for a in ("--source", f"{k}={v}")]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


@pytest.mark.parametrize("point", ["after-temp-files", "before-commit", "mid-commit", "after-commit"])
def test_a_run_killed_with_its_zip_staged_publishes_all_or_nothing(tmp_path: Path, point: str) -> None:
    """Killed before the commit: no document and no zip anywhere. Killed after it: the next
    start moves every document and the whole zip into place."""
    db = f"sqlite:///{tmp_path / 'history.db'}"
    store = tmp_path / "store"
    env = {"EXPORTC_RUN_STORE": str(store)}
    sources = _world(tmp_path / "w", WORLD)
    killed = _cli(db, sources, {**env, "EXPORTC_CRASH_AT": point}, "--first-delivery")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    after = _cli(db, sources, env, "--first-delivery")
    rows = open_history(db).list_runs()
    victim = next(r for r in rows if r.id == min(x.id for x in rows))
    if point in ("after-commit", "after-rename"):
        assert victim.status == "succeeded", after.stdout + after.stderr
        zipped = Path(victim.files[-1])
        assert zipped.suffix == ".zip"
        assert _members(zipped) == {Path(f).name: Path(f).read_bytes() for f in victim.files[:-1]}
    else:
        assert victim.status == "failed" and not victim.files
        assert after.returncode == 0, after.stdout + after.stderr
    delivered = {str(p) for p in store.rglob("*") if p.suffix in (".xml", ".zip")}
    assert delivered == {f for r in rows if r.status == "succeeded" for f in r.files}
    assert not [p for p in store.rglob(".*")]


def test_the_console_offers_the_zip_for_document_profiles_and_makes_it(tmp_path: Path) -> None:
    store = open_history(f"sqlite:///{tmp_path / 'history.db'}")
    add_users(store)
    with pytest.MonkeyPatch.context() as mp, client(console(store)) as web:
        mp.setenv("EXPORTC_RUN_STORE", str(tmp_path / "store"))
        login(web, "olga")
        form = web.get("/exports/peppol_bis3.invoices/start")
        assert form.status_code == 200 and 'name="zip"' in form.text
        assert 'name="zip"' not in web.get(f"/exports/{EXACT}/start").text  # one file: no zip
        fields = {"csrf": csrf(form.text), "mode": "test", "zip": "yes",
                  **{f"param.{k}": v for k, v in SELLER.items()}}
        started = web.post("/exports/peppol_bis3.invoices/start", data=fields)
        assert started.status_code == 303, started.text
        run_id = int(started.headers["location"].rsplit("/", 1)[1])
        assert wait_finished(web, run_id)["status"] == "succeeded"
    row = store.get_run(run_id)
    assert row is not None and Path(row.files[-1]).name == f"peppol_bis3.invoices-run-{run_id}.zip"
    assert _members(Path(row.files[-1])) == {Path(f).name: Path(f).read_bytes() for f in row.files[:-1]}


def test_zip_of_a_one_file_profile_is_a_usage_error(tmp_path: Path) -> None:
    from conftest import EXACT_PROFILE, EXAMPLES

    from exportc.runtime.execute import UsageError
    with pytest.raises(UsageError, match="--zip collects the documents"):
        run(EXACT_PROFILE, tmp_path, {"customers": EXAMPLES / "customers.jsonl",
                                      "invoices": EXAMPLES / "invoices.jsonl"},
            params={"invoice_export": "true"}, zip=True)
