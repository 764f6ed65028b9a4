"""The command line, through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import CORPUS, EXAMPLES, ROOT
from typer.testing import CliRunner

from exportc.cli import app

runner = CliRunner()


def test_check_clean_profiles_exits_0() -> None:
    result = runner.invoke(app, ["check", "profiles"])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_check_broken_profile_exits_1_with_caret() -> None:
    result = runner.invoke(app, ["check", str(CORPUS / "broken" / "01-missing-gt.map")])
    assert result.exit_code == 1
    assert "error[E0102]" in result.output and "^^^^" in result.output
    assert "Traceback" not in result.output


def test_check_json_and_github_formats() -> None:
    path = str(CORPUS / "compile" / "17-unknown-name.map")
    data = json.loads(runner.invoke(app, ["check", "--format", "json", path]).output)
    assert data["diagnostics"][0]["code"] == "E0201"
    gh = runner.invoke(app, ["check", "--format", "github", path]).output
    assert gh.startswith("::error file=")


def test_check_missing_path_exits_2() -> None:
    result = runner.invoke(app, ["check", "no/such/file.map"])
    assert result.exit_code == 2


def test_check_a_folder_recursively_reports_everything() -> None:
    result = runner.invoke(app, ["check", str(CORPUS / "broken")])
    assert result.exit_code == 1
    assert result.output.count("error[") >= 30


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    messy = tmp_path / "messy.map"
    messy.write_text('profile   p\nA for x {  a>B   # note\n}\n', "utf-8")
    assert runner.invoke(app, ["fmt", "--check", str(messy)]).exit_code == 1
    assert runner.invoke(app, ["fmt", str(messy)]).exit_code == 0
    assert messy.read_text("utf-8") == "profile p\n\nA for x {\n  a > B  # note\n}\n"
    assert runner.invoke(app, ["fmt", "--check", str(messy)]).exit_code == 0


def test_run_writes_xml_and_report(tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "run", "profiles/exact-online/exact-online.map",
        "--source", f"customers={EXAMPLES / 'customers.jsonl'}",
        "--source", f"invoices={EXAMPLES / 'invoices.jsonl'}",
        "--param", "invoice_export=true", "--out", str(tmp_path), "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "exact_online.invoices.xml").exists()
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert report["status"] == "succeeded"
    assert report["blocks"]["Invoices/Invoice"]["written"] == 4


def test_run_usage_errors_exit_2(tmp_path: Path) -> None:
    base = ["run", "profiles/exact-online/exact-online.map", "--out", str(tmp_path), "--db", str(tmp_path / "h.db")]
    srcs = ["--source", f"customers={EXAMPLES / 'customers.jsonl'}",
            "--source", f"invoices={EXAMPLES / 'invoices.jsonl'}"]
    cases = [
        base + srcs,                                              # missing required param
        [*base, *srcs, "--param", "invoice_export=perhaps"],      # bad param value
        [*base, *srcs, "--param", "invoice_export"],              # not NAME=VALUE
        [*base, *srcs, "--param", "invoice_export=1", "--from", "23-11-2026"],
        ["run", "nonexistent_profile", "--out", str(tmp_path), "--db", str(tmp_path / "h.db")],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


def test_compile_emit_stages() -> None:
    py = runner.invoke(app, ["compile", "profiles/exact-online/exact-online.map"])
    assert py.exit_code == 0 and "def block_0(" in py.output
    for emit in ("ast", "ir", "overrides"):
        assert runner.invoke(app, ["compile", "profiles/examples/acme-recreatie.map", "--emit", emit]).exit_code == 0


def test_doc_command() -> None:
    result = runner.invoke(app, ["doc", "exact_online.invoices"])
    assert result.exit_code == 0
    assert result.output == (ROOT / "docs" / "exact-online.md").read_text("utf-8")


def test_real_subprocess_check_and_run(tmp_path: Path) -> None:
    exe = shutil.which("exportc") or str(Path(sys.executable).parent / "exportc")
    out = subprocess.run([exe, "check", "profiles"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    bad = subprocess.run([exe, "check", str(CORPUS / "broken" / "08-tab-indent.map")], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "E0106" in bad.stdout and "Traceback" not in bad.stderr
