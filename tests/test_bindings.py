"""Source bindings in exportc.toml: a run reads the bound sources and params unless the command
line gives its own; a source neither binds is still a usage error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, EXAMPLES, SHARED
from typer.testing import CliRunner

from exportc.bindings import load_bindings
from exportc.cli import app
from exportc.config import ConfigError

runner = CliRunner()


def _project(tmp_path: Path, bind: str) -> Path:
    """A project of its own: the Exact profile, its tables, and an exportc.toml with ``bind``."""
    folder = tmp_path / "project"
    shutil.copytree(EXACT_PROFILE.parent, folder / "profiles" / "exact-online")
    shutil.copytree(EXAMPLES, folder / "data")
    (folder / "exportc.toml").write_text(
        f'[exportc]\nschemas = ["{SHARED / "reference" / "exact-online"}"]\n\n{bind}', "utf-8")
    return folder


def _run(folder: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", str(folder / "profiles" / "exact-online" / "exact-online.map"),
                                 "--out", str(folder / "out"), "--db", str(folder / "h.db"), *args])
    return result.exit_code, result.output


BIND = '''[bind."exact_online.invoices".sources]
customers = "data/customers.jsonl"
invoices = "data/invoices.jsonl"
[bind."exact_online.invoices".params]
invoice_export = true
'''


def test_a_bound_profile_runs_without_source_options(tmp_path: Path) -> None:
    folder = _project(tmp_path, BIND)
    code, output = _run(folder)
    assert code == 0, output
    assert "Invoices/Invoice: 4 written" in output


def test_the_command_line_wins_over_the_binding(tmp_path: Path) -> None:
    folder = _project(tmp_path, BIND)
    one = folder / "one-invoice.jsonl"
    one.write_text((folder / "data" / "invoices.jsonl").read_text("utf-8").splitlines()[0] + "\n", "utf-8")
    code, output = _run(folder, "--source", f"invoices={one}", "--param", "invoice_export=false")
    assert code == 0, output
    assert "Invoices/Invoice" not in output and "GLTransactions/GLTransaction: 1 written" in output


def test_a_source_neither_bound_nor_given_is_a_usage_error(tmp_path: Path) -> None:
    folder = _project(tmp_path, BIND.replace('invoices = "data/invoices.jsonl"\n', ""))
    code, output = _run(folder)
    assert code == 2 and "source `invoices` is not bound" in output


def test_bound_paths_are_relative_to_exportc_toml_and_urls_stay(tmp_path: Path) -> None:
    folder = _project(tmp_path, BIND + '[bind."other".sources]\n'
                      'orders = { url = "sqlite:///shop.db", query = "SELECT * FROM orders" }\n')
    bindings = load_bindings(folder / "exportc.toml")
    assert bindings["exact_online.invoices"].sources["customers"] == str(folder / "data" / "customers.jsonl")
    assert bindings["exact_online.invoices"].params == {"invoice_export": "true"}
    assert bindings["other"].sources == {"orders": "sqlite:///shop.db"}
    assert bindings["other"].queries == {"orders": "SELECT * FROM orders"}


@pytest.mark.parametrize("bad", ['[bind."p"]\nsource = 1\n', '[bind."p".sources]\nx = 3\n',
                                 '[bind."p".params]\nx = { a = 1 }\n', 'bind = 3\n'])
def test_a_malformed_binding_names_where(tmp_path: Path, bad: str) -> None:
    (tmp_path / "exportc.toml").write_text(bad, "utf-8")
    with pytest.raises(ConfigError, match=r"exportc\.toml"):
        load_bindings(tmp_path / "exportc.toml")


def test_a_malformed_binding_stops_the_run_with_a_message(tmp_path: Path) -> None:
    folder = _project(tmp_path, '[bind."exact_online.invoices".sources]\ncustomers = 3\n')
    code, output = _run(folder)
    assert code == 2 and "exportc.toml" in output and "Traceback" not in output
