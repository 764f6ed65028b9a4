"""``exportc test --coverage``: rules and when/where/if branches exercised, per profile file."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CORPUS, EXACT_PROFILE, EXAMPLES, ROOT, rel
from syrupy.assertion import SnapshotAssertion
from typer.testing import CliRunner

from exportc.cli import app
from exportc.compiler.pipeline import compile_file
from exportc.runtime.execute import RunOptions, execute
from exportc.workbench.coverage import Coverage

runner = CliRunner()
CORPUS_TESTS = CORPUS / "workbench"


def test_shipped_profiles_have_full_rule_coverage(tmp_path: Path) -> None:
    """Every shipped profile has cases beside it, and they exercise all its rules, branches and
    checks."""
    out = tmp_path / "coverage.json"
    result = runner.invoke(app, ["test", "--coverage", "--coverage-json", str(out)])
    assert result.exit_code == 0, result.output
    percent = {f["file"]: f["percent"] for f in json.loads(out.read_text("utf-8"))["files"]}
    tested = [rel(p) for p in sorted((ROOT / "profiles").rglob("*.map"))
              if p.with_name(p.stem + ".test.toml").is_file()]
    shipped = [rel(p) for p in sorted((ROOT / "profiles").rglob("*.map"))]
    assert tested == shipped
    assert {f: percent.get(f) for f in tested} == {f: 100.0 for f in tested}


def test_unexercised_rules_and_branches_are_named_with_file_and_line(snapshot: SnapshotAssertion) -> None:
    result = runner.invoke(app, ["test", "--coverage", str(CORPUS_TESTS)])
    assert result.exit_code == 0, result.output  # no threshold: the cases pass
    assert result.output.split("rule coverage:")[1] == snapshot


def test_below_the_threshold_fails(tmp_path: Path) -> None:
    out = tmp_path / "coverage.json"
    result = runner.invoke(app, ["test", "--fail-under", "90", "--coverage-json", str(out), str(CORPUS_TESTS)])
    assert result.exit_code == 1
    assert "rule coverage 58.8% is below --fail-under 90%" in result.output
    data = json.loads(out.read_text("utf-8"))
    (profile,) = data["files"]
    assert profile["rules"] == {"hit": 5, "total": 7} and profile["branches"] == {"hit": 5, "total": 10}
    assert {(m["line"], m["kind"], m["outcome"]) for m in profile["missed"]} == {
        (15, "where", "false"), (18, "if", "then"), (19, "check", "failed"), (21, "when", "true"),
        (22, "rule", None), (23, "rule", None), (27, "where", "false")}


def test_more_cases_reach_full_coverage(tmp_path: Path) -> None:
    text = (CORPUS_TESTS / "orders.test.toml").read_text("utf-8")
    text = f'profile = "{CORPUS_TESTS / "orders.map"}"\n' + text + """
[[case]]
name = "a big order with a customer, a zero line and a negative order"
expect.xpath = ["//Order/Note = 'big'", "//Order/Customer/@vip = 'true'", "count(//Line) = 1"]
expect.problems = [{ code = "W0601", key = "B", message = "a very large order" }]

[[case.sources.orders]]
id = "B"
placed = 2026-11-02
customer = "Jansen"
total = 6000.00

[[case.sources.orders.lines]]
nr = 1
amount = 0.00

[[case.sources.orders.lines]]
nr = 2
amount = 6000.00

[[case.sources.orders]]
id = "C"
placed = 2026-11-02
total = -1.00
"""
    path = tmp_path / "orders.test.toml"
    path.write_text(text, "utf-8")
    result = runner.invoke(app, ["test", "--fail-under", "100", str(path)])
    assert result.exit_code == 0, result.output
    assert "orders.map: 100.0% — rules 7/7, branches and checks 10/10" in result.output


def test_a_coverage_build_writes_the_same_output(tmp_path: Path) -> None:
    """Probes observe; they change nothing the profile writes."""
    compiled = compile_file(EXACT_PROFILE)
    assert compiled.artefact is not None
    probed = Coverage().instrument(compiled)
    assert "cov_hit(" in probed.python and "cov_hit(" not in compiled.artefact.python
    outputs = []
    for name, artefact in (("plain", compiled.artefact), ("probed", probed)):
        for mode in ("true", "false"):
            opts = RunOptions(sources={"customers": str(EXAMPLES / "customers.csv"),
                                       "invoices": str(EXAMPLES / "invoices.jsonl")},
                              params={"invoice_export": mode}, out_dir=tmp_path / name / mode)
            report = execute(artefact, opts)
            assert report.status == "succeeded", report.problems
            outputs.append(Path(report.files[0]).read_bytes())
    assert outputs[:2] == outputs[2:]


def test_base_rules_count_for_the_base_file() -> None:
    """A customer profile's cases exercise its base profile's rules too (keyed by file:line)."""
    result = runner.invoke(app, ["test", "--coverage", str(ROOT / "profiles" / "examples")])
    assert result.exit_code == 0, result.output
    assert "profiles/exact-online/exact-online.map:" in result.output
    assert "profiles/examples/acme-recreatie.map: 100.0% — rules 2/2" in result.output


def test_a_profile_without_tests_counts_at_zero() -> None:
    """A profile under the given folders that no case exercises is reported, not left out."""
    result = runner.invoke(app, ["test", "--fail-under", "50", str(CORPUS_TESTS), str(CORPUS / "runtime")])
    assert result.exit_code == 1
    assert "tests/corpus/runtime/orders.map: 0.0% — rules 0/8, branches and checks 0/4" in result.output
    assert "rule coverage 34.5% is below --fail-under 50%" in result.output


def test_json_counts_the_cases_that_exercised_each_item(tmp_path: Path) -> None:
    out = tmp_path / "coverage.json"
    assert runner.invoke(app, ["test", "--coverage-json", str(out), str(ROOT / "profiles")]).exit_code == 0
    files = {f["file"]: f for f in json.loads(out.read_text("utf-8"))["files"]}
    items = files["profiles/examples/acme-recreatie.map"]["items"]
    assert [(i["line"], i["kind"], i["cases"]) for i in items] == [(10, "rule", 4), (11, "rule", 4)]
    exact = files["profiles/exact-online/exact-online.map"]["items"]
    assert all(i["cases"] > 0 for i in exact)
