"""``exportc test``: profile test files, golden XML, XPath assertions, expected problems, JUnit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, ROOT
from lxml import etree
from syrupy.assertion import SnapshotAssertion
from typer.testing import CliRunner

from exportc.cli import app
from exportc.workbench.casefile import load_test_file

runner = CliRunner()

# One invoice with one line, for cases written in the tests below.
CASE_DATA = """
[[case.sources.customers]]
cust_id = 42
Bedrijfsnaam = "Jansen"

[[case.sources.invoices]]
Factuurnummer = "F1"
Factuurdatum = 2026-11-02
Omschrijving = "Verblijf"
cust_id = 42
Factuurbedrag = 121.00

[[case.sources.invoices.Regels]]
Regelnummer = 1
Regelomschrijving = "Huur"
Regel_sub = 100.00
BTW_bedrag = 21.00
BTW_code = 21
Grootboekrekening = "8010"
"""


def _write(folder: Path, body: str, name: str = "exact.test.toml") -> Path:
    path = folder / name
    path.write_text(f'profile = "{EXACT_PROFILE}"\n' + body, "utf-8")
    return path


def _stable(output: str) -> str:
    output = output.replace(str(ROOT), "<root>")
    return re.sub(r" in \d+\.\d+ s$", " in … s", output.rstrip(), flags=re.M)


def test_shipped_profiles_pass_their_cases() -> None:
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "ERROR" not in result.output
    assert "acme-recreatie.test.toml :: Acme's account name is in capitals" in result.output
    passed = int(re.search(r"(\d+) passed, 0 failed", result.output)[1])  # type: ignore[index]
    assert passed >= 20


@pytest.fixture
def golden_inputs(tmp_path: Path) -> Path:
    """The inputs of the shipped field-table case as JSON Lines files in ``tmp_path``."""
    from exportc.workbench.runner import _bound

    case = load_test_file(ROOT / "profiles" / "exact-online" / "exact-online.test.toml").cases[0]
    for name, given in case.sources.items():
        assert isinstance(given, list)
        _bound(name, given, tmp_path)
    return tmp_path


def test_broken_expectations_fail_with_a_readable_diff(golden_inputs: Path, monkeypatch: pytest.MonkeyPatch,
                                                       snapshot: SnapshotAssertion) -> None:
    golden = (ROOT / "profiles" / "exact-online" / "golden" / "invoice-mode.xml").read_text("utf-8")
    (golden_inputs / "golden.xml").write_text(golden.replace("<Value>230.00</Value>", "<Value>231.00</Value>"),
                                              "utf-8")
    _write(golden_inputs, """
[[case]]
name = "golden file with a wrong amount"
params = { invoice_export = true }
run = { description = "Export november" }
sources = { customers = "customers.jsonl", invoices = "invoices.jsonl" }
expect.golden = "golden.xml"

[[case]]
name = "a wrong XPath value, a missing error and an unexpected warning"
params = { invoice_export = true }
expect.xpath = ["count(//Invoice) = 1", "//Invoice/ForeignAmount/Value = '121.10'", "//Invoice/Nope"]
expect.problems = [{ code = "E0605", key = "F1" }]
""" + CASE_DATA.replace("121.00", "121.01"))
    monkeypatch.chdir(golden_inputs)
    result = runner.invoke(app, ["test", "exact.test.toml"])
    assert result.exit_code == 1
    assert _stable(result.output) == snapshot


def test_update_writes_golden_files_then_they_pass(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[case]]\nname = "new"\nparams = { invoice_export = true }\n'
                  'expect.golden = "out/new.xml"\n' + CASE_DATA)
    missing = runner.invoke(app, ["test", str(path)])
    assert missing.exit_code == 1 and "run `exportc test --update`" in missing.output
    updated = runner.invoke(app, ["test", "--update", str(path)])
    assert updated.exit_code == 0 and "(golden file updated)" in updated.output
    assert "<Value>121.00</Value>" in (tmp_path / "out" / "new.xml").read_text("utf-8")
    again = runner.invoke(app, ["test", str(path)])
    assert again.exit_code == 0 and "updated" not in again.output


def test_golden_comparison_is_canonical(tmp_path: Path) -> None:
    """Attribute order, quotes and indentation do not matter; values do."""
    path = _write(tmp_path, '[[case]]\nname = "c"\nparams = { invoice_export = true }\n'
                  'expect.golden = "g.xml"\n' + CASE_DATA)
    runner.invoke(app, ["test", "--update", str(path)])
    golden = tmp_path / "g.xml"
    text = golden.read_text("utf-8").replace('code="00000042" status="C"', "status='C'   code='00000042'")
    golden.write_text(text.replace("\n    ", "\n"), "utf-8")
    assert runner.invoke(app, ["test", str(path)]).exit_code == 0
    golden.write_text(text.replace("Jansen", "Janssen"), "utf-8")
    assert runner.invoke(app, ["test", str(path)]).exit_code == 1


def test_junit_is_valid_and_lists_each_case(tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    result = runner.invoke(app, ["test", "--junit", str(out)])
    assert result.exit_code == 0, result.output
    doc = etree.parse(str(out))
    schema = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "schemas" / "junit.xsd")))
    assert schema.validate(doc), schema.error_log
    names = doc.xpath("//testcase/@name")
    expected = [c.name for f in sorted((ROOT / "profiles").rglob("*.test.toml")) for c in load_test_file(f).cases]
    assert names == expected
    assert doc.getroot().get("failures") == "0"


def test_junit_marks_failures(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[case]]\nname = "wrong"\nparams = { invoice_export = true }\n'
                  'expect.xpath = ["count(//Invoice) = 3"]\n' + CASE_DATA)
    out = tmp_path / "junit.xml"
    assert runner.invoke(app, ["test", "--junit", str(out), str(path)]).exit_code == 1
    failure = etree.parse(str(out)).find(".//testcase[@name='wrong']/failure")
    assert failure is not None and "`count(//Invoice)` is 1" in failure.get("message", "")


def test_a_case_that_cannot_run_is_an_error_not_a_failure(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[case]]\nname = "no param"\nexpect.problems = []\n' + CASE_DATA)
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 1
    assert "ERROR" in result.output and "missing required param(s): invoice_export" in result.output


@pytest.mark.parametrize(("body", "code", "where"), [
    ("[[case]]\nname = 'x'\nexpect.xpth = []\n", "E0702", "did you mean `xpath`?"),
    ("[[case]]\nname = 'x'\nrun = { form = 2026-01-01 }\nexpect.problems = []\n", "E0702", "did you mean `from`?"),
    ("[[case]\nname = 'x'\n", "E0701", "not valid TOML"),
    ("[[case]]\nname = 'x'\n", "E0704", "expects nothing"),
    ("[[case]]\nname = 'x'\nexpect.problems = []\n[[case]]\nname = 'x'\nexpect.problems = []\n", "E0701",
     "two cases are named `x`"),
])
def test_bad_test_files_are_diagnostics(tmp_path: Path, body: str, code: str, where: str) -> None:
    path = _write(tmp_path, body)
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 1
    assert f"error[{code}]" in result.output and where in result.output
    assert "Traceback" not in result.output


def test_test_file_without_its_profile_is_e0703(tmp_path: Path) -> None:
    path = tmp_path / "orphan.test.toml"
    path.write_text("[[case]]\nname = 'x'\nexpect.problems = []\n", "utf-8")
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 1 and "error[E0703]" in result.output and "orphan.map" in result.output


def test_missing_path_exits_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["test", str(tmp_path / "nope")]).exit_code == 2
    assert runner.invoke(app, ["test", str(tmp_path)]).exit_code == 2  # no test files there


def test_delivered_records_make_a_reversal_without_production_runs(tmp_path: Path) -> None:
    delivered = CASE_DATA.replace("case.sources.invoices", "case.delivered.invoices").split("[[case.delivered", 1)[1]
    path = _write(tmp_path, '[[case]]\nname = "changed"\nparams = { invoice_export = true }\n'
                  'expect.problems = []\n'
                  "expect.xpath = [\"//Invoice[Description='Creditering F1']/ForeignAmount/Value = '-100.00'\"]\n"
                  + CASE_DATA + "[[case.delivered" + delivered.replace("121.00", "100.00"))
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 0, result.output


def test_golden_folder_holds_one_file_per_document(tmp_path: Path) -> None:
    """Document-per-record profiles write several files; a golden folder ("name/") has one each."""
    path = _write(tmp_path, '[[case]]\nname = "folder"\nparams = { invoice_export = true }\n'
                  'expect.golden = "golden/folder/"\n' + CASE_DATA)
    assert runner.invoke(app, ["test", "--update", str(path)]).exit_code == 0
    written = sorted(p.name for p in (tmp_path / "golden" / "folder").iterdir())
    assert written == ["exact_online.invoices.xml"]
    assert runner.invoke(app, ["test", str(path)]).exit_code == 0
    (tmp_path / "golden" / "folder" / "stale.xml").write_text("<eExact/>", "utf-8")
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 1 and "the golden document stale.xml was not written by the run" in result.output


def test_xpath_namespaces_from_the_documents_and_the_test_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'namespaces = { i = "http://www.w3.org/2001/XMLSchema-instance" }\n'
                  '[[case]]\nname = "ns"\nparams = { invoice_export = true }\n'
                  "expect.xpath = [\"/eExact/@i:noNamespaceSchemaLocation = 'eExact-XML.xsd'\","
                  " \"/eExact/@xsi:noNamespaceSchemaLocation = 'eExact-XML.xsd'\"]\n" + CASE_DATA)
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 0, result.output


def test_a_case_must_give_every_source_the_profile_reads(tmp_path: Path) -> None:
    body = CASE_DATA.split("[[case.sources.invoices]]")[0]
    path = _write(tmp_path, '[[case]]\nname = "no invoices"\nparams = { invoice_export = true }\n'
                  "expect.problems = []\n" + body)
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 1 and "the case gives no records for `sources.invoices`" in result.output


def test_delivered_records_and_sources_from_files(tmp_path: Path) -> None:
    """Sources and the earlier delivery from files beside the test file (CSV and JSON Lines)."""
    (tmp_path / "customers.csv").write_text("cust_id,Bedrijfsnaam\n42,Jansen\n", "utf-8")
    line = ('{"Factuurnummer": "F1", "Factuurdatum": "2026-11-02", "Omschrijving": "V", "cust_id": 42, '
            '"Factuurbedrag": "AMOUNT", "Regels": [{"Regelnummer": 1, "Regelomschrijving": "Huur", '
            '"Regel_sub": "AMOUNT", "BTW_bedrag": "0", "BTW_code": 0, "Grootboekrekening": "8010"}]}\n')
    (tmp_path / "invoices.jsonl").write_text(line.replace("AMOUNT", "100.00"), "utf-8")
    (tmp_path / "before.jsonl").write_text(line.replace("AMOUNT", "90.00"), "utf-8")
    path = _write(tmp_path, '[[case]]\nname = "files"\nparams = { invoice_export = true }\n'
                  'sources = { customers = "customers.csv", invoices = "invoices.jsonl" }\n'
                  'delivered = { invoices = "before.jsonl" }\nexpect.problems = []\n'
                  "expect.xpath = [\"//Invoice[Description='Creditering F1']/ForeignAmount/Value = '-90.00'\","
                  " \"//Invoice[@ordernumber='F1']/ForeignAmount/Value = '100.00'\"]\n")
    result = runner.invoke(app, ["test", str(path)])
    assert result.exit_code == 0, result.output
