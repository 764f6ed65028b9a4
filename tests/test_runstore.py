"""Every run keeps its own files: the run store (``exportc.runtime.runstore``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, ROOT
from test_history import BASE, XML, invoice, produce, write_world
from test_project import customer_profile
from typer.testing import CliRunner

from exportc.cli import app
from exportc.orchestrate import open_history, run_profile
from exportc.runtime.execute import RunOptions


def files_of(db: str, run_id: int | None) -> list[Path]:
    result = CliRunner().invoke(app, ["files", str(run_id), "--db", db])
    assert result.exit_code == 0, result.output
    return [Path(line) for line in result.stdout.splitlines()]


def test_a_later_run_never_replaces_a_production_runs_files(db: str, tmp_path: Path) -> None:
    """Same --out for a production run and a later test run: the production run's delivered XML
    and report stay where `exportc files` says they are, unchanged."""
    first = produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "out")
    listed = files_of(db, first.run_id)
    assert [f.name for f in listed] == [XML, "report.json", "report.txt"]
    before = {f: f.read_bytes() for f in listed}
    store = Path(os.environ["EXPORTC_RUN_STORE"])
    assert all(f.is_absolute() and store in f.parents for f in listed)
    later = produce(db, write_world(tmp_path / "v2", [invoice("A1", "1.21")]), tmp_path / "out", mode="test")
    assert later.status == "succeeded"
    assert {f: f.read_bytes() for f in files_of(db, first.run_id)} == before
    assert files_of(db, later.run_id)[0].parent != listed[0].parent
    # --out holds a copy of the latest run's files only
    assert (tmp_path / "out" / XML).read_bytes() == files_of(db, later.run_id)[0].read_bytes()


def test_files_copy_to_copies_a_runs_files(db: str, tmp_path: Path) -> None:
    report = produce(db, write_world(tmp_path / "v1", BASE), tmp_path / "out")
    result = CliRunner().invoke(app, ["files", str(report.run_id), "--db", db, "--copy-to",
                                      str(tmp_path / "copy")])
    assert result.exit_code == 0, result.output
    copied = [Path(line) for line in result.stdout.splitlines()]
    assert [f.name for f in copied] == [XML, "report.json", "report.txt"]
    for f, original in zip(copied, files_of(db, report.run_id), strict=True):
        assert f.parent == tmp_path / "copy" and f.read_bytes() == original.read_bytes()


def test_stored_paths_are_absolute_so_files_show_from_any_folder(db: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    sources = write_world(tmp_path / "v", BASE)
    ran = runner.invoke(app, ["run", str(EXACT_PROFILE), "--db", db, "--param", "invoice_export=true",
                              "--production", "--all", "--first-delivery", "--out", "relative-out",
                              *[a for k, v in sources.items() for a in ("--source", f"{k}={v}")]])
    assert ran.exit_code == 0, ran.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    listed = files_of(db, 1)
    assert listed and all(f.is_absolute() and f.exists() for f in listed)


def test_an_unchanged_rerun_writes_no_document_and_says_so(db: str, tmp_path: Path) -> None:
    sources = write_world(tmp_path / "v", BASE)
    produce(db, sources, tmp_path / "out")
    again = produce(db, sources, tmp_path / "out")
    assert again.status == "succeeded" and again.files == [] and again.nothing_to_deliver
    assert "nothing to deliver" in again.summary()
    folder = Path(open_history(db).list_runs()[-1].out_dir or "")
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "report.txt"]
    assert not (tmp_path / "out" / XML).exists()  # no earlier export left beside this report
    assert open_history(db).list_runs()[-1].files == []


def test_test_runs_beyond_keep_test_runs_are_pruned_production_runs_never(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPORTC_RUN_STORE")
    project = tmp_path / "project"
    project.mkdir()
    (project / "exportc.toml").write_text('[exportc]\nhistory = "h.db"\nruns = "store"\nkeep_test_runs = 2\n',
                                          "utf-8")
    profile = str(customer_profile(project))
    sources = write_world(tmp_path / "v", BASE)
    ids = []
    for mode in ("production", "test", "test", "test", "test"):
        report = run_profile(profile, RunOptions(sources=sources, mode=mode, whole=True,
                                                 first_delivery=True)).report
        assert report is not None and report.status == "succeeded", report and report.summary()
        ids.append(report.run_id)
    kept = sorted(p.name for p in (project / "store" / "acme.outside").iterdir())
    assert [name.split("-")[1:3] for name in kept] == [[str(ids[0]), "P"], [str(ids[3]), "T"], [str(ids[4]), "T"]]
    result = CliRunner().invoke(app, ["files", str(ids[1]), "--db", str(project / "h.db")])
    assert "(pruned)" in result.stdout
    assert ROOT not in (project / "store").parents


def test_pruning_asks_the_history_for_the_old_test_folders_only(db: str) -> None:
    """A test run prunes with one narrow query (finished test runs beyond the newest `keep`),
    not by reading every run of the profile with its report: that grew with the history."""
    from exportc.runtime.history import HistoryStore
    store = HistoryStore(db)
    for n, (profile, mode, status) in enumerate([("a", "T", "succeeded"), ("a", "P", "succeeded"),
                                                 ("a", "T", "failed"), ("b", "T", "succeeded"),
                                                 ("a", "T", "running"), ("a", "T", "succeeded"),
                                                 ("a", "T", "succeeded")]):
        store.create_run(profile, mode, status, {}, (None, None), f"/store/{n}")
    assert sorted(store.old_test_folders("a", 2)) == ["/store/0", "/store/2"]  # not 1 (P), 3 (b), 4 (running)
    assert sorted(store.old_test_folders("a", 0)) == ["/store/0", "/store/2", "/store/5", "/store/6"]
    assert store.old_test_folders("a", 10) == []
    store.dispose()


def test_pruning_passes_over_folders_pruned_before_with_a_stat_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The history lists every old test run's folder at each test run's end, the ones pruned
    long ago too: those are skipped without resolving their paths (a history of a thousand test
    runs would otherwise resolve a thousand paths, part by part, at every run's end). A folder
    outside the store is still never removed."""
    from exportc.runtime import runstore
    store = tmp_path / "store"
    old = store / "p" / "run-1000-T"
    old.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    gone = [str(store / "p" / f"run-{n}-T") for n in range(1000)]
    resolved: list[Path] = []
    real_resolve = Path.resolve

    def resolve(self: Path, strict: bool = False) -> Path:
        resolved.append(self)
        return real_resolve(self, strict)
    monkeypatch.setattr(Path, "resolve", resolve)
    assert runstore.prune([*gone, str(old), str(outside)], store) == [str(old)]
    assert len(resolved) == 3  # the store, the folder removed and the one outside it
    assert not old.exists() and outside.is_dir()
