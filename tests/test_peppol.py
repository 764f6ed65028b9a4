"""The Peppol BIS Billing 3.0 profile: one UBL document per invoice, valid by the UBL 2.1 XSDs
and with no fatal assert in the official EN 16931 and Peppol Schematron (run with saxonche)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, EXAMPLES, ROOT, SHARED
from helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from exportc.compiler.document import document
from exportc.compiler.pipeline import compile_file
from exportc.orchestrate import run_profile
from exportc.runtime.execute import RunOptions
from exportc.runtime.schematron import Failure, Schematron

PROFILE = ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map"
UBL = SHARED / "reference" / "ubl-2.1"
XSD = {"Invoice": UBL / "xsd" / "maindoc" / "UBL-Invoice-2.1.xsd",
       "CreditNote": UBL / "xsd" / "maindoc" / "UBL-CreditNote-2.1.xsd"}
RULES = (str(UBL / "schematron" / "CEN-EN16931-UBL.xslt"), str(UBL / "schematron" / "PEPPOL-EN16931-UBL.xslt"))
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
SELLER = {"seller_name": "Recreatiepark De Eik B.V.", "seller_vat_id": "NL859412631B01",
          "seller_kvk": "34567890", "seller_peppol_id": "0106:34567890",
          "seller_iban": "NL02ABNA0123456789", "seller_street": "Bosweg 1",
          "seller_postcode": "6711 AA", "seller_city": "Ede"}
JSONL = {"customers": EXAMPLES / "customers.jsonl", "invoices": EXAMPLES / "invoices.jsonl"}
CSV = {"customers": EXAMPLES / "customers.csv", "invoices": EXAMPLES / "invoices.csv",
       "invoice_lines": EXAMPLES / "invoice_lines.csv"}


@pytest.fixture(scope="session")
def rules() -> Schematron:
    """Both official stylesheets, compiled once for the whole test session."""
    return Schematron(RULES)


@pytest.fixture(scope="session")
def schemas() -> dict[str, etree.XMLSchema]:
    return {k: etree.XMLSchema(etree.parse(str(v))) for k, v in XSD.items()}


def check_documents(files: list[str], rules: Schematron, schemas: dict[str, etree.XMLSchema]
                    ) -> dict[str, etree._Element]:
    """Every document valid by its XSD and without a fatal failed assert; the parsed roots."""
    out = {}
    for f in files:
        doc = etree.parse(f)
        kind = etree.QName(doc.getroot()).localname
        assert schemas[kind].validate(doc), (f, schemas[kind].error_log)
        fatal: list[Failure] = [x for x in rules.check(Path(f).read_text("utf-8")) if x.flag == "fatal"]
        assert fatal == [], (f, fatal)
        out[Path(f).name] = doc.getroot()
    return out


def test_profile_compiles_clean() -> None:
    result = compile_file(str(PROFILE.relative_to(ROOT)))
    assert result.diagnostics == []
    assert result.artefact is not None
    assert sorted(result.artefact.documents) == ["CreditNote", "Invoice"]
    # cac/cbc declared once, on the root of each generated document
    assert result.artefact.python.count('xmlns:cac="urn:oasis') == 3


def test_example_gives_valid_documents(tmp_path: Path, rules: Schematron,
                                       schemas: dict[str, etree.XMLSchema]) -> None:
    report = run(PROFILE, tmp_path / "jsonl", JSONL, params=SELLER)
    assert report.status == "succeeded", [p.render() for p in report.problems]
    assert [Path(f).name for f in report.files] == ["2026001.xml", "2026002.xml", "2026003.xml", "2026004.xml"]
    docs = check_documents(report.files, rules, schemas)
    # the credit invoice (negative total) is a CreditNote with positive amounts
    credit = docs["2026003.xml"]
    assert etree.QName(credit).localname == "CreditNote"
    assert credit.findtext(f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount") == "54.50"
    assert credit.findtext(f"{CAC}BillingReference/{CAC}InvoiceDocumentReference/{CBC}ID") == "2026001"
    # totals to the cent, VAT broken down per category and rate
    inv = docs["2026002.xml"]
    assert inv.findtext(f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount") == "277.96"
    rates = [(s.findtext(f"{CAC}TaxCategory/{CBC}ID"), s.findtext(f"{CAC}TaxCategory/{CBC}Percent"))
             for s in inv.iter(f"{CAC}TaxSubtotal")]
    assert rates == [("S", "9"), ("S", "21"), ("Z", "0")]
    # CSV and JSON Lines give byte-identical documents
    csv = run(PROFILE, tmp_path / "csv", CSV, params=SELLER)
    assert [Path(f).read_bytes() for f in csv.files] == [Path(f).read_bytes() for f in report.files]


def _invoice(number: str, lines: list[tuple[str, str, int]], cust: int = 42, day: int = 5) -> dict[str, Any]:
    regels = [{"Regelnummer": n, "Regelomschrijving": f"Regel {n}", "Regel_sub": sub, "BTW_bedrag": vat,
               "BTW_code": code, "Grootboekrekening": "8010", "Datum_vanaf": None, "Datum_tot": None}
              for n, (sub, vat, code) in enumerate(lines, start=1)]
    total = sum((Decimal(s) + Decimal(v) for s, v, _ in lines), Decimal(0))
    return {"Factuurnummer": number, "Factuurdatum": f"2026-11-{day:02d}", "Omschrijving": f"Factuur {number}",
            "Kenmerk": None, "cust_id": cust, "Factuurbedrag": str(total), "Regels": regels}


def _world(folder: Path, invoices: list[dict[str, Any]],
           customers: list[dict[str, Any]] | None = None) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = customers or [json.loads(x) for x in JSONL["customers"].read_text("utf-8").splitlines()]
    for name, items in (("customers", rows), ("invoices", invoices)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items),
                                              "utf-8")
    return {"customers": str(folder / "customers.jsonl"), "invoices": str(folder / "invoices.jsonl")}


def _produce(db: str, sources: dict[str, str], out: Path, first: bool = False) -> Any:
    opts = RunOptions(sources=sources, params=SELLER, out_dir=out, mode="production", whole=True,
                      first_delivery=first)
    result = run_profile(str(PROFILE.relative_to(ROOT)), opts, db=db)
    assert result.report is not None, result.compiled.diagnostics
    return result.report


def test_production_rerun_credits_changed_and_deleted_invoices(tmp_path: Path, rules: Schematron,
                                                               schemas: dict[str, etree.XMLSchema]) -> None:
    db = f"sqlite:///{tmp_path / 'history.db'}"
    first = [_invoice("P1", [("100.00", "21.00", 21)]), _invoice("P2", [("50.00", "4.50", 9)]),
             _invoice("P3", [("10.00", "0.00", 0)])]
    report = _produce(db, _world(tmp_path / "w1", first), tmp_path / "run1", first=True)
    assert report.status == "succeeded", [p.render() for p in report.problems]
    assert sorted(Path(f).name for f in report.files) == ["P1.xml", "P2.xml", "P3.xml"]
    # P1 changes, P2 is deleted, P3 stays
    second = [_invoice("P1", [("200.00", "42.00", 21)]), first[2]]
    report = _produce(db, _world(tmp_path / "w2", second), tmp_path / "run2")
    assert report.status == "succeeded", [p.render() for p in report.problems]
    docs = check_documents(report.files, rules, schemas)
    kinds = sorted((etree.QName(d).localname, d.findtext(f"{CBC}ID")[:3],  # type: ignore[index]
                    d.findtext(f"{CAC}BillingReference/{CAC}InvoiceDocumentReference/{CBC}ID"),
                    d.findtext(f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount")) for d in docs.values())
    assert kinds == [("CreditNote", "CP1", "P1", "121.00"), ("CreditNote", "CP2", "P2", "54.50"),
                     ("Invoice", "P1", None, "242.00")]
    # nothing is delivered twice: a third run over the same data delivers nothing
    report = _produce(db, _world(tmp_path / "w3", second), tmp_path / "run3")
    assert report.status == "succeeded" and report.files == []


def test_customer_without_peppol_id_is_a_record_error(tmp_path: Path) -> None:
    customers = [json.loads(x) for x in JSONL["customers"].read_text("utf-8").splitlines()]
    customers[0]["Peppol_ID"] = None  # customer 42
    sources = _world(tmp_path / "w", [_invoice("Q1", [("100.00", "21.00", 21)]),
                                      _invoice("Q2", [("100.00", "21.00", 21)], cust=7)], customers)
    report = run(PROFILE, tmp_path / "out", sources, params=SELLER, skip_invalid=True)
    assert [Path(f).name for f in report.files] == ["Q2.xml"]
    [problem] = report.errors
    assert (problem.code, problem.record) == ("E0604", "Factuurnummer=Q1")
    assert problem.span is not None
    assert problem.message.startswith("customer 42 (Bakkerij & Zn. Ünal) has no Peppol_ID")
    assert "it has null" in problem.message
    # a failed check fails its record (and, without --skip-invalid, the run); it does not make
    # the documents invalid
    assert report.validation is not None and report.validation["valid"] is True
    failed = run(PROFILE, tmp_path / "out-failed", sources, params=SELLER)
    assert failed.status == "failed" and failed.validation is not None
    assert failed.validation["valid"] is True and failed.validation["error"] is None
    assert report.validation["schema"].startswith("UBL-Invoice-2.1.xsd, UBL-CreditNote-2.1.xsd")


def test_fatal_business_rule_fails_the_record_and_names_the_map_line(tmp_path: Path) -> None:
    # VAT of 50.00 on 100.00 at 21%: the XSD accepts it, EN 16931 rule BR-S-09 does not
    sources = _world(tmp_path / "w", [_invoice("R1", [("100.00", "50.00", 21)]),
                                      _invoice("R2", [("100.00", "21.00", 21)])])
    report = run(PROFILE, tmp_path / "out", sources, params=SELLER)
    assert report.status == "failed" and report.files == []
    assert report.validation is not None and report.validation["valid"] is False
    assert "business rules of CEN-EN16931-UBL.xslt, PEPPOL-EN16931-UBL.xslt" in report.validation["schema"]
    fatal = [p for p in report.errors if p.code == "E0651"]
    assert fatal and all(p.record == "Factuurnummer=R1" for p in fatal)
    s09 = next(p for p in fatal if p.message.startswith("BR-S-09"))
    # the assert's location is the subtotal's TaxCategory: the report names the rule that wrote it
    assert "TaxSubtotal/TaxCategory" in s09.message
    lines = PROFILE.read_text("utf-8").splitlines()
    assert s09.span is not None and "> TaxCategory/ID" in lines[s09.span.line - 1]
    assert s09.line_text and " ".join(s09.line_text.split()) == "vat_category[BTW_code] > TaxCategory/ID"
    block = max(n for n in range(s09.span.line) if "TaxSubtotal for Regels" in lines[n])
    assert block > max(n for n in range(s09.span.line) if lines[n].startswith("document Invoice"))
    # with --skip-invalid the good invoice is delivered and the bad one listed
    report = run(PROFILE, tmp_path / "out2", sources, params=SELLER, skip_invalid=True)
    assert [Path(f).name for f in report.files] == ["R2.xml"]


def test_two_documents_with_one_file_name_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "letters.jsonl").write_text('{"nr": "1"}\n{"nr": "2"}\n', "utf-8")
    report = run(CORPUS / "documents" / "same-file-name.map", tmp_path / "out",
                 {"letters": tmp_path / "letters.jsonl"})
    assert report.status == "failed" and report.files == []
    [problem] = report.errors
    assert (problem.code, problem.record) == ("E0650", "nr=2")
    assert "'letter.xml'" in problem.message and "record nr=1" in problem.message
    assert problem.line_text is not None and problem.line_text.startswith("document Letters")
    assert not list((tmp_path / "out").glob("*.xml")) and not list((tmp_path / "out").glob(".*parts"))


def test_namespaced_target_without_prefixes_writes_valid_xml(tmp_path: Path) -> None:
    (tmp_path / "letters.jsonl").write_text('{"nr": "1"}\n', "utf-8")
    report = run(CORPUS / "documents" / "namespaced.map", tmp_path / "out",
                 {"letters": tmp_path / "letters.jsonl"})
    assert report.status == "succeeded", [p.render() for p in report.problems]
    root = etree.parse(report.files[0]).getroot()
    assert [etree.QName(e).text for e in root.iter()] == [
        "{urn:test:a}Letters", "{urn:test:a}Letter", "{urn:test:a}Note", "{urn:test:b}Note"]


@pytest.mark.parametrize("path", sorted((CORPUS / "compile-ubl").glob("*.map")), ids=lambda p: p.stem)
def test_broken_document_profile_reports_its_expected_code(path: Path) -> None:
    """Each corpus file names the code it must raise (`# expect: E0330`), so a snapshot update
    cannot accept a wrong one (the rendering itself is snapshot-tested in test_compile)."""
    expected = path.read_text("utf-8").split("# expect: ", 1)[1].split()[0]
    result = compile_file(str(path.relative_to(ROOT)))
    assert expected in {d.code for d in result.diagnostics if d.is_error}


def test_warning_asserts_are_reported_and_the_document_kept(tmp_path: Path) -> None:
    """A Schematron `warning` (UBL-CR-002: a UBLVersionID other than 2.1) does not fail the
    document; a `fatal` one does."""
    from exportc.artefact import Artefact, DocumentSpec
    from exportc.runtime.documents import DocumentSink

    spec = DocumentSpec("Invoice", str(XSD["Invoice"]), {}, RULES)
    artefact = Artefact("t", None, (), "", "", "Invoice", {}, "full", (), (), {}, (), "", (),
                        documents={"Invoice": spec})
    sink = DocumentSink(artefact, tmp_path, validate=True)
    good = (UBL / "examples" / "peppol-bis3" / "base-example.xml").read_text("utf-8")
    warned = good.replace("<cbc:CustomizationID>", "<cbc:UBLVersionID>2.0</cbc:UBLVersionID>\n<cbc:CustomizationID>")
    found = sink.add("Invoice", "a.xml", warned, "k1")
    assert [(f.severity, f.code) for f in found] == [("warning", "W0651")]
    assert found[0].message.startswith("UBL-CR-002") and found[0].path == "Invoice"
    assert "[UBL-CR-002]" not in found[0].message  # the rule id is said once
    bad = good.replace(">1656.25</cbc:PayableAmount>", ">1656.26</cbc:PayableAmount>")
    found = sink.add("Invoice", "b.xml", bad, "k2")
    assert ("error", "E0651") in {(f.severity, f.code) for f in found}
    assert sink.names == ["a.xml"]
    sink.commit()
    assert (tmp_path / "a.xml").read_text("utf-8") == warned and not sink.stage_dir.exists()


def _shape(files: list[Path]) -> tuple[list[str], dict[str, list[str]]]:
    """Element and attribute paths (local names) in document order, and each path's children in
    order, over one or more documents."""
    paths: list[str] = []
    children: dict[str, list[str]] = {}

    def walk(el: etree._Element, parent: str) -> None:
        path = f"{parent}/{etree.QName(el).localname}" if parent else etree.QName(el).localname
        if path not in paths:
            paths.append(path)
        if parent and path not in children.setdefault(parent, []):
            children[parent].append(path)
        for attr in el.attrib:
            if f"{path}/@{attr}" not in paths:
                paths.append(f"{path}/@{attr}")
        for child in el:
            if isinstance(child.tag, str):
                walk(child, path)
    for f in files:
        walk(etree.parse(str(f)).getroot(), "")
    return paths, children


def _mentioned(path: str, tokens: set[str]) -> bool:
    segments = path.split("/")
    for token in tokens:
        t = token.split("/")
        if any(segments[i:i + len(t)] == t for i in range(len(segments) - len(t) + 1)):
            return True
    return False


def test_output_follows_the_official_example_where_both_carry_an_element(tmp_path: Path) -> None:
    report = run(PROFILE, tmp_path, JSONL, params=SELLER)
    invoices = [Path(f) for f in report.files if etree.parse(f).getroot().tag.endswith("}Invoice")]
    ours, our_children = _shape(invoices)
    base, base_children = _shape([UBL / "examples" / "peppol-bis3" / "base-example.xml"])
    shared = set(ours) & set(base)
    assert len(shared) > 80
    for parent, kids in base_children.items():  # same order wherever both write the children
        if parent in shared:
            assert [k for k in kids if k in shared] == [k for k in our_children.get(parent, []) if k in shared], parent
    notes = (ROOT / "docs" / "peppol-bis3.md").read_text("utf-8").split("## Notes", 1)[1]
    tokens = set(re.findall(r"`([A-Za-z@/]+)`", notes))
    unexplained = [p for p in [*base, *ours] if p not in shared and not _mentioned(p, tokens)]
    assert unexplained == []


def test_committed_doc_starts_with_the_generated_part() -> None:
    result = compile_file(str(PROFILE.relative_to(ROOT)))
    assert result.module is not None
    generated = document(result.module, str(PROFILE.relative_to(ROOT)))
    assert (ROOT / "docs" / "peppol-bis3.md").read_text("utf-8").startswith(generated)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda t: t.strip() != "")
_RATES = {0: Decimal(0), 9: Decimal(9), 21: Decimal(21)}


@st.composite
def _invoices(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for n in range(draw(st.integers(1, 4))):
        lines = []
        for m in range(draw(st.integers(1, 4))):
            code = draw(st.sampled_from(sorted(_RATES)))
            sub = Decimal(draw(st.integers(-100000, 100000))) / 100
            vat = (sub * _RATES[code] / 100).quantize(Decimal("0.01"))
            day = draw(st.integers(1, 20))
            lines.append({"Regelnummer": m + 1, "Regelomschrijving": draw(_TEXT), "Regel_sub": str(sub),
                          "BTW_bedrag": str(vat), "BTW_code": code, "Grootboekrekening": "8010",
                          "Datum_vanaf": f"2026-11-{day:02d}" if draw(st.booleans()) else None,
                          "Datum_tot": f"2026-11-{day + 5:02d}" if draw(st.booleans()) else None})
        total = sum((Decimal(x["Regel_sub"]) + Decimal(x["BTW_bedrag"]) for x in lines), Decimal(0))
        out.append({"Factuurnummer": f"H{n}", "Factuurdatum": "2026-11-05", "Omschrijving": draw(_TEXT),
                    "Kenmerk": draw(st.none() | _TEXT), "cust_id": draw(st.sampled_from([42, 7, 1234, 98765])),
                    "Factuurbedrag": str(total), "Regels": lines})
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(invoices=_invoices())
def test_any_valid_data_gives_valid_documents_or_a_record_error(
        tmp_path_factory: pytest.TempPathFactory, invoices: list[dict[str, Any]], rules: Schematron,
        schemas: dict[str, etree.XMLSchema]) -> None:
    """Several lines, several VAT codes, zero VAT, negative totals, any text: each invoice gives a
    document without a fatal assert, or fails its record saying why; never a crash, never an
    invalid file."""
    folder = tmp_path_factory.mktemp("prop")
    report = run(PROFILE, folder / "out", _world(folder / "w", invoices), params=SELLER, skip_invalid=True)
    assert report.status == "succeeded", [p.render() for p in report.problems]
    assert not [p for p in report.errors if p.code in ("E0699", "E0610")]
    failed = {p.record for p in report.errors}
    assert all(p.code in ("E0601", "E0651", "E0604") and p.record for p in report.errors)
    check_documents(report.files, rules, schemas)
    written = {Path(f).stem for f in report.files}
    assert written | {r.split("=")[1] for r in failed if r} == {i["Factuurnummer"] for i in invoices}
