"""A profile belongs to its project, wherever it is run from (``exportc.project``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, EXACT_XSD, EXAMPLES, ROOT
from helpers import assert_valid
from typer.testing import CliRunner

from exportc.cli import app
from exportc.compiler.pipeline import compile_file

XML_SUFFIX = ".xml"


def customer_profile(folder: Path, name: str = "acme.outside") -> Path:
    """A customer profile kept outside this repository, extending the shipped one by path, with
    its own article table beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme-articles.csv").write_text("ledger,item\n8000,ACME-STD\n8010,ACME-STAY\n8020,ACME-EXTRA\n"
                                              "8030,ACME-TAX\n8040,ACME-OTHER\n", "utf-8")
    path = folder / "acme.map"
    path.write_text(f'profile {name} extends "{EXACT_PROFILE}" "Acme, kept elsewhere"\n'
                    'param invoice_export: bool = true\n'
                    'table article: text -> text "Acme items" from "acme-articles.csv"\n', "utf-8")
    return path


def exportc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EXPORTC_RUN_STORE"}
    return subprocess.run([sys.executable, "-m", "exportc", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def sources() -> list[str]:
    return ["--source", f"customers={EXAMPLES / 'customers.jsonl'}",
            "--source", f"invoices={EXAMPLES / 'invoices.jsonl'}"]


def test_a_customer_profile_outside_the_repository_extends_the_shipped_one_by_path(tmp_path: Path) -> None:
    """The base keeps its schema (found through the base's own exportc.toml) and its other table
    files; the customer's own table is found beside the customer's profile."""
    profile = customer_profile(tmp_path / "customer")
    assert not any((p / "exportc.toml").exists() for p in (profile.parent, *profile.parent.parents))
    result = compile_file(profile)
    assert result.ok, [d.message for d in result.diagnostics]
    ran = exportc(tmp_path, "run", str(profile), *sources(), "--out", str(tmp_path / "out"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    xml = next((tmp_path / "out").glob(f"*{XML_SUFFIX}"))
    assert_valid(xml, EXACT_XSD)
    assert 'code="ACME-STAY"' in xml.read_text("utf-8")


def test_runs_from_three_working_directories_share_one_history(tmp_path: Path) -> None:
    """Started from the project, from an unrelated folder and from inside another project (this
    repository, with its own exportc.toml), production runs of one profile use the profile's
    project's history: the first delivers, the others find nothing new."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "exportc.toml").write_text('[exportc]\nhistory = "state/history.db"\n', "utf-8")
    profile = customer_profile(project / "profiles")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outs = []
    for n, cwd in enumerate([project, elsewhere, ROOT]):
        out = tmp_path / f"out{n}"
        # Only the first asks for --first-delivery: the others find the deliveries it made.
        ran = exportc(cwd, "run", str(profile), *sources(), "--production", "--all", "--out", str(out),
                      *(["--first-delivery"] if n == 0 else []))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"history: {project / 'state' / 'history.db'}" in ran.stdout
        outs.append(json.loads((out / "report.json").read_text("utf-8")))
    assert outs[0]["records"]["invoices"].get("new", 0) > 0
    for later in outs[1:]:
        assert set(later["records"]["invoices"]) == {"unchanged"}, later["records"]
        assert later["history"] == str(project / "state" / "history.db")
    assert not (elsewhere / ".exportc").exists()
    listed = exportc(Path("/"), "runs", str(profile))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == f"history: {project / 'state' / 'history.db'}"
    assert [line.split()[1:3] for line in listed.stdout.splitlines()[2:]] == [["P", "succeeded"]] * 3


@pytest.mark.parametrize("command", [["runs"], ["runs", "exact_online.invoices"], ["show", "1"],
                                     ["files", "1"]])
def test_read_only_commands_never_create_a_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, command)
    assert "no history at" in result.output or "no runs" in result.output, result.output
    assert result.exit_code == (0 if command[0] == "runs" else 2), result.output
    assert list(tmp_path.iterdir()) == []
    given = CliRunner().invoke(app, [*command, "--db", str(tmp_path / "h.db")])
    assert given.exit_code == (0 if command[0] == "runs" else 2)
    assert list(tmp_path.iterdir()) == []


def test_a_base_named_by_name_is_found_in_the_childs_project_not_the_working_directorys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`extends exact_online.invoices` in a profile of this repository compiles from any folder."""
    monkeypatch.chdir(tmp_path)
    result = compile_file(ROOT / "profiles" / "examples" / "acme-recreatie.map")
    assert result.ok, [d.message for d in result.diagnostics]
