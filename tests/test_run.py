"""Test runs of the Exact Online profile on the example data: XML snapshots, validation, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, EXACT_XSD, EXACT_XSD_2014, EXAMPLES
from helpers import assert_valid, run

from exportc.runtime.execute import UsageError

JSONL = {"customers": EXAMPLES / "customers.jsonl", "invoices": EXAMPLES / "invoices.jsonl"}
CSV = {"customers": EXAMPLES / "customers.csv", "invoices": EXAMPLES / "invoices.csv",
       "invoice_lines": EXAMPLES / "invoice_lines.csv"}
XML = "exact_online.invoices.xml"

VARIANTS = {
    "invoices": {"invoice_export": "true"},
    "journal": {"invoice_export": "false"},
    "netprice-total": {"invoice_export": "1", "netprice_is_total": "1"},
    "prefix-length": {"invoice_export": "true", "cust_id_prefix": "IR", "cust_id_length": "10"},
    "debtors": {"invoice_export": "true", "debtors": "42,7"},
    "journal-code": {"invoice_export": "0", "code_nr": "71"},
}


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_example_export(variant: str, tmp_path: Path, snapshot: object) -> None:
    report = run(EXACT_PROFILE, tmp_path, JSONL, params=VARIANTS[variant])
    assert report.status == "succeeded", report.summary()
    xml = tmp_path / XML
    assert_valid(xml, EXACT_XSD)
    assert_valid(xml, EXACT_XSD_2014)
    assert xml.read_text("utf-8") == snapshot


def test_zero_vat_journal_entry_and_its_reversal(tmp_path: Path, snapshot: object) -> None:
    """An invoice whose VAT is all 0% has no VAT line; its receivable and revenue lines are the
    entry's GLTransactionLines (counted across sibling blocks), and so for its reversal."""
    from exportc.orchestrate import run_profile
    from exportc.runtime.execute import RunOptions
    rows = [json.loads(x) for x in (EXAMPLES / "invoices.jsonl").read_text("utf-8").splitlines()]
    zero = rows[0]
    zero.update(Factuurbedrag="100.00", Kenmerk=None)
    zero["Regels"][0].update(Regel_sub="100.00", BTW_bedrag="0.00", BTW_code=0)
    xml = []
    for n, amount in enumerate(("100.00", "80.00")):
        zero["Factuurbedrag"] = zero["Regels"][0]["Regel_sub"] = amount
        data = tmp_path / f"v{n}.jsonl"
        data.write_text(json.dumps(zero) + "\n", "utf-8")
        opts = RunOptions(sources={**{k: str(v) for k, v in JSONL.items()}, "invoices": str(data)},
                          params={"invoice_export": "false"}, out_dir=tmp_path / f"r{n}", mode="production",
                          whole=True, first_delivery=n == 0)
        report = run_profile(str(EXACT_PROFILE), opts, db=str(tmp_path / "history.db")).report
        assert report is not None and report.status == "succeeded", report and report.summary()
        (path,) = report.files
        assert_valid(Path(path), EXACT_XSD)
        xml.append(Path(path).read_text("utf-8"))
    assert "<VAT code=\"0\"/>" in xml[0] and xml[1].count("<GLTransaction>") == 2  # reversal + new
    assert xml == snapshot


def test_csv_and_json_lines_give_identical_bytes(tmp_path: Path) -> None:
    for mode in ("true", "false"):
        a = run(EXACT_PROFILE, tmp_path / f"jsonl-{mode}", JSONL, params={"invoice_export": mode})
        b = run(EXACT_PROFILE, tmp_path / f"csv-{mode}", CSV, params={"invoice_export": mode})
        assert a.status == b.status == "succeeded"
        assert (tmp_path / f"jsonl-{mode}" / XML).read_bytes() == (tmp_path / f"csv-{mode}" / XML).read_bytes()


def test_unsorted_csv_join_gives_the_same_output(tmp_path: Path) -> None:
    lines = (EXAMPLES / "invoice_lines.csv").read_text("utf-8").splitlines()
    shuffled = tmp_path / "lines.csv"
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", "utf-8")
    a = run(EXACT_PROFILE, tmp_path / "a", CSV, params={"invoice_export": "true"})
    b = run(EXACT_PROFILE, tmp_path / "b", {**CSV, "invoice_lines": shuffled}, params={"invoice_export": "true"})
    assert a.status == b.status == "succeeded"
    assert (tmp_path / "a" / XML).read_bytes() != b""
    # Line order inside an invoice follows the file; compare invoice by invoice ignoring it.
    lines_a = sorted((tmp_path / "a" / XML).read_text().split("\n"))
    assert lines_a == sorted((tmp_path / "b" / XML).read_text().split("\n"))


def test_window_selects_invoices_by_date(tmp_path: Path) -> None:
    import datetime as dt
    report = run(EXACT_PROFILE, tmp_path, JSONL, params={"invoice_export": "true"},
                 date_from=dt.date(2026, 11, 3), date_to=dt.date(2026, 11, 12))
    assert report.blocks["Invoices/Invoice"].written == 2
    text = (tmp_path / XML).read_text("utf-8")
    assert 'ordernumber="2026002"' in text and 'ordernumber="2026003"' in text
    assert 'ordernumber="2026001"' not in text


def _bad_invoices(tmp_path: Path, mutate: dict[str, object], line: dict[str, object] | None = None) -> Path:
    rows = [json.loads(x) for x in (EXAMPLES / "invoices.jsonl").read_text("utf-8").splitlines()]
    rows[1].update(mutate)
    if line:
        rows[1]["Regels"][0].update(line)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return path


def test_bad_source_value_fails_the_run_and_names_where(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Factuurbedrag": "12,50"})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    assert report.status == "failed"
    assert not (tmp_path / "out" / XML).exists()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "failed"
    (problem,) = report.errors
    assert problem.code == "E0502" and "Factuurbedrag" in problem.message and "12,50" in problem.message
    # the span is the source's row, the caret under the bad value
    assert problem.span is not None and (problem.span.file, problem.span.line) == (str(bad), 2)
    assert problem.line_text is not None
    assert problem.line_text[problem.span.column - 1:problem.span.end_column - 1] == '"12,50"'


def test_skip_invalid_leaves_the_record_out(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Factuurbedrag": "12,50"})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"},
                 skip_invalid=True)
    assert report.status == "succeeded"
    assert sum(b.skipped for b in report.blocks.values()) == 1
    assert len(report.errors) == 1
    assert report.blocks["Invoices/Invoice"].written == 3
    assert_valid(tmp_path / "out" / XML, EXACT_XSD)


def test_unknown_table_key_names_record_and_profile_line(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {}, {"Grootboekrekening": "9999"})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    assert report.status == "failed"
    (problem,) = report.errors
    assert problem.code == "E0605" and "9999" in problem.message
    assert problem.record == "Factuurnummer=2026002"
    assert problem.span is not None and problem.span.file == "profiles/exact-online/exact-online.map"
    line = EXACT_PROFILE.read_text("utf-8").splitlines()[problem.span.line - 1]
    assert "article[Grootboekrekening]" in line and problem.line_text == line


def test_control_character_is_a_record_error(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Omschrijving": "bell \u0007 here"})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    (problem,) = report.errors
    assert problem.code == "E0601" and "U+0007" in problem.message


def test_facet_violation_is_a_record_error(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Omschrijving": "x" * 256})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    (problem,) = report.errors
    assert problem.code == "E0602" and "at most 255" in problem.message


def test_invoice_without_lines_is_a_record_error(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Regels": []})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    (problem,) = report.errors
    assert problem.code == "E0603"


def test_total_mismatch_is_a_warning_with_line(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Factuurbedrag": "999.99"})
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    assert report.status == "succeeded"
    (warning,) = report.warnings
    assert warning.record == "Factuurnummer=2026002" and warning.span and warning.span.line


def test_decimals_stay_exact(tmp_path: Path) -> None:
    bad = _bad_invoices(tmp_path, {"Factuurbedrag": 1e3}, {"Regel_sub": "0.1"})
    text = bad.read_text().replace("1000.0", "1E+3")
    bad.write_text(text)
    run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": bad}, params={"invoice_export": "true"})
    xml = (tmp_path / "out" / XML).read_text("utf-8")
    # Exactly two decimals (the profile's fixed(x, 2)), never through a float.
    assert "<Value>1000.00</Value>" in xml and "<Value>0.10</Value>" in xml
    assert "E+" not in xml


def test_missing_required_param_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invoice_export"):
        run(EXACT_PROFILE, tmp_path, JSONL)


def test_bad_param_value_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cust_id_length"):
        run(EXACT_PROFILE, tmp_path, JSONL, params={"invoice_export": "1", "cust_id_length": "eight"})


def test_unknown_param_suggests(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="did you mean `code_nr`"):
        run(EXACT_PROFILE, tmp_path, JSONL, params={"invoice_export": "1", "code_no": "1"})


def test_missing_source_file_fails_cleanly(tmp_path: Path) -> None:
    report = run(EXACT_PROFILE, tmp_path, {**JSONL, "invoices": tmp_path / "nope.jsonl"},
                 params={"invoice_export": "1"})
    assert report.status == "failed"
    assert report.errors[0].code == "E0501"
    assert not (tmp_path / XML).exists()


def test_sql_source_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "ireserve.db"
    con = sqlite3.connect(db)
    rows = [json.loads(x) for x in (EXAMPLES / "customers.jsonl").read_text("utf-8").splitlines()]
    cols = list(rows[0])
    con.execute(f"CREATE TABLE customers ({', '.join(cols)})")
    con.executemany(f"INSERT INTO customers VALUES ({', '.join('?' * len(cols))})",
                    [tuple(r[c] for c in cols) for r in rows])
    con.commit()
    con.close()
    a = run(EXACT_PROFILE, tmp_path / "a", {**JSONL, "customers": f"sqlite:///{db}"}, params={"invoice_export": "1"})
    b = run(EXACT_PROFILE, tmp_path / "b", JSONL, params={"invoice_export": "1"})
    assert a.status == b.status == "succeeded"
    assert (tmp_path / "a" / XML).read_bytes() == (tmp_path / "b" / XML).read_bytes()
