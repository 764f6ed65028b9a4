"""Property: any i-Reserve data in FORMAT.md's value space exports in both modes of the Exact
profile — valid XML, balanced journal entries — or fails per record with the cause named.

The generator covers the whole value space of ../shared/reference/i-reserve/FORMAT.md: 0%, mixed
and negative VAT, credit invoices, many lines, optional fields missing (absent or null), and some
records with a defect whose error the test predicts (an unmapped ledger account or VAT code, a
total that differs from its lines, an invoice without lines). One record's shape never fails the
run: with --skip-invalid every other record is delivered.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from conftest import EXACT_PROFILE, EXACT_XSD
from helpers import assert_valid, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

XML = "exact_online.invoices.xml"
VAT_RATES = {0: Decimal("0"), 8: Decimal("0.08"), 9: Decimal("0.09"), 21: Decimal("0.21")}
LEDGERS = ["8000", "8010", "8020", "8030"]  # the ledger accounts in articles.csv
CUSTOMER_OPTIONAL = ["Telefoon", "IBAN", "Betaalconditie", "Achternaam", "Prefix", "Initialen",
                     "Mobiel", "Email", "Adres", "Huisnummer", "Toevoeging", "Postcode", "Woonplaats",
                     "Land", "KvK", "BTW_nummer", "Peppol_ID"]
# A defect, and the error code it must give per mode (None: the record still exports).
DEFECTS: dict[str | None, dict[bool, str | None]] = {
    None: {True: None, False: None},
    "unmapped ledger": {True: "E0605", False: None},  # journal mode books on the account itself
    "unmapped VAT code": {True: "E0605", False: "E0605"},
    "total differs": {True: None, False: "E0604"},  # a warning on an invoice; unbalanced entry
    "no lines": {True: "E0603", False: None},  # an invoice needs a line; an entry of 0 balances
}

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), min_size=1,
                max_size=30)
_money = st.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2)
_date = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))


def _optional(draw: st.DrawFn, row: dict[str, Any], name: str, value: st.SearchStrategy[Any]) -> None:
    """An optional field: absent, null, or a value."""
    kind = draw(st.sampled_from(["absent", "null", "value"]))
    if kind != "absent":
        row[name] = None if kind == "null" else draw(value)


@st.composite
def _line(draw: st.DrawFn, number: int, defect: str | None) -> dict[str, Any]:
    code = draw(st.sampled_from(sorted(VAT_RATES)))
    sub = draw(_money)
    line: dict[str, Any] = {
        "Regelnummer": number, "Regelomschrijving": draw(_text), "Regel_sub": str(sub),
        "BTW_bedrag": str((sub * VAT_RATES[code]).quantize(Decimal("0.01"))), "BTW_code": code,
        "Grootboekrekening": draw(st.sampled_from(LEDGERS))}
    if defect == "unmapped ledger":
        line["Grootboekrekening"] = "7777"
    if defect == "unmapped VAT code":
        line["BTW_code"] = 6
    start = draw(st.none() | _date)
    _optional(draw, line, "Datum_vanaf", st.just(start.isoformat() if start else None))
    _optional(draw, line, "Datum_tot", st.just((start + dt.timedelta(days=7)).isoformat() if start else None))
    return line


@st.composite
def _world(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str | None]]:
    ids = draw(st.lists(st.integers(0, 10**8 - 1), min_size=1, max_size=3, unique=True))
    customers = []
    for i in ids:
        row: dict[str, Any] = {"cust_id": i, "Bedrijfsnaam": draw(_text)}
        for name in CUSTOMER_OPTIONAL:
            _optional(draw, row, name, _text)
        customers.append(row)
    invoices, defects = [], {}
    for n in range(draw(st.integers(1, 5))):
        defect = draw(st.sampled_from(list(DEFECTS)) | st.none())  # mostly sound records
        count = 0 if defect == "no lines" else draw(st.integers(1, 12))
        lines = [draw(_line(r + 1, defect if r == 0 else None)) for r in range(count)]
        total = sum((Decimal(x["Regel_sub"]) + Decimal(x["BTW_bedrag"]) for x in lines), Decimal("0.00"))
        if defect == "total differs":
            total += draw(st.sampled_from([Decimal("0.01"), Decimal("-1.00"), Decimal("100")]))
        invoice: dict[str, Any] = {
            "Factuurnummer": f"F{n}", "Factuurdatum": draw(_date).isoformat(),
            "Omschrijving": draw(_text), "cust_id": draw(st.sampled_from(ids)),
            "Factuurbedrag": draw(st.sampled_from([str(total), float(total)])),  # JSON: text or number
            "Regels": lines}
        _optional(draw, invoice, "Kenmerk", _text)
        invoices.append(invoice)
        defects[f"Factuurnummer=F{n}"] = defect
    return customers, invoices, defects


def _balanced(xml: Path) -> None:
    for entry in etree.parse(str(xml)).iter("GLTransaction"):
        amounts = [Decimal(v) for v in entry.xpath("GLTransactionLine/Amount/Value/text()")]
        assert amounts and sum(amounts) == 0, etree.tostring(entry).decode()[:400]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_world(), st.booleans())
def test_ireserve_data_exports_or_fails_per_record_with_its_cause(
        world: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str | None]],
        invoice_mode: bool) -> None:
    customers, invoices, defects = world
    expected = {key: DEFECTS[d][invoice_mode] for key, d in defects.items() if DEFECTS[d][invoice_mode]}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, rows in (("customers", customers), ("invoices", invoices)):
            (d / f"{name}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        sources = {"customers": d / "customers.jsonl", "invoices": d / "invoices.jsonl"}
        params = {"invoice_export": str(invoice_mode).lower()}
        report = run(EXACT_PROFILE, d / "skip", sources, params=params, skip_invalid=True)
        assert report.status == "succeeded", report.summary()
        assert {p.record: p.code for p in report.errors} == expected, report.summary()
        assert_valid(d / "skip" / XML, EXACT_XSD)
        doc = etree.parse(str(d / "skip" / XML))
        numbers = (doc.xpath("//Invoice/@ordernumber") if invoice_mode else
                   doc.xpath("//GLTransaction/GLTransactionLine[1]/References/InvoiceNumber/text()"))
        assert sorted(f"Factuurnummer={n}" for n in numbers) == sorted(set(defects) - set(expected))
        if not invoice_mode:
            _balanced(d / "skip" / XML)
        strict = run(EXACT_PROFILE, d / "strict", sources, params=params)
        assert strict.status == ("failed" if expected else "succeeded"), strict.summary()
        assert {p.record: p.code for p in strict.errors} == expected
