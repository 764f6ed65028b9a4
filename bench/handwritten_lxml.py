"""The export exportc replaces, written by hand the way an integrator writes it: read the i-Reserve
JSON Lines with ``json``, build each account and invoice with lxml ``SubElement`` and stream it out
with ``etree.xmlfile``. Invoice mode of the shipped Exact profile with its default params; no
validation, no history. The yardstick of ``bench/bench_run.py``.

    python bench/handwritten_lxml.py CUSTOMERS.jsonl INVOICES.jsonl OUT.xml
"""

from __future__ import annotations

import csv
import json
import sys
from decimal import Decimal
from pathlib import Path

from lxml import etree

XSI = "http://www.w3.org/2001/XMLSchema-instance"
TABLES = Path(__file__).resolve().parent.parent / "profiles" / "exact-online"
VAT = {0: "0", 9: "1", 21: "2", 8: "12"}


def articles() -> dict[str, str]:
    with open(TABLES / "articles.csv", encoding="utf-8", newline="") as fh:
        return {row["grootboekrekening"]: row["artikel"] for row in csv.DictReader(fh)}


def text(parent: etree._Element, tag: str, value: object) -> None:
    """A child element with text, left out when the value is missing."""
    if value is not None:
        etree.SubElement(parent, tag).text = str(value)


def account(c: dict[str, object]) -> etree._Element:
    code = str(c["cust_id"]).zfill(8)
    acc = etree.Element("Account", code=code, status="C")
    text(acc, "Name", c["Bedrijfsnaam"])
    text(acc, "Phone", c["Telefoon"])
    contact = etree.SubElement(acc, "Contact")
    for tag, field in (("LastName", "Achternaam"), ("MiddleName", "Prefix"), ("FirstName", "Initialen"),
                       ("Phone", "Telefoon"), ("Mobile", "Mobiel"), ("Email", "Email")):
        text(contact, tag, c[field])
    if c["Adres"] is not None:
        address = etree.SubElement(acc, "Address")
        line = " ".join(str(c[f]) for f in ("Adres", "Huisnummer", "Toevoeging") if c[f] is not None)
        text(address, "AddressLine1", line)
        text(address, "PostalCode", c["Postcode"])
        text(address, "City", c["Woonplaats"])
        if c["Land"] is not None:
            etree.SubElement(address, "Country", code=str(c["Land"]))
    if c["IBAN"] is not None:
        bank = etree.SubElement(acc, "BankAccount", code=str(c["IBAN"]))
        text(bank, "IBAN", c["IBAN"])
    if c["Betaalconditie"] is not None:
        etree.SubElement(acc, "SalesPaymentCondition", code=str(c["Betaalconditie"]))
    return acc


def money(value: object) -> str:
    """An amount as Exact wants it: two decimals (JSON may give `121.5` or `"121.50"`)."""
    return format(Decimal(str(value)), ".2f")


def amount(parent: etree._Element, tag: str, value: object) -> etree._Element:
    el = etree.SubElement(parent, tag)
    etree.SubElement(el, "Currency", code="EUR")
    etree.SubElement(el, "Value").text = money(value)
    return el


def invoice(inv: dict[str, object], items: dict[str, str]) -> etree._Element:
    el = etree.Element("Invoice", ordernumber=str(inv["Factuurnummer"]))
    etree.SubElement(el, "Journal", code="70")
    text(el, "OrderDate", inv["Factuurdatum"])
    text(el, "Description", inv["Omschrijving"])
    text(el, "YourRef", inv["Kenmerk"])
    code = str(inv["cust_id"]).zfill(8)
    etree.SubElement(el, "OrderedBy", code=code)
    etree.SubElement(el, "InvoiceTo", code=code)
    amount(el, "ForeignAmount", inv["Factuurbedrag"])
    for r in inv["Regels"]:  # type: ignore[attr-defined]
        line = etree.SubElement(el, "InvoiceLine", line=str(r["Regelnummer"]))
        text(line, "Description", r["Regelomschrijving"])
        etree.SubElement(line, "Item", code=items[r["Grootboekrekening"]])
        text(line, "Quantity", 1)
        net = amount(line, "NetPrice", r["Regel_sub"])
        etree.SubElement(net, "VAT", code=VAT[r["BTW_code"]])
        amount(line, "ForeignAmount", r["Regel_sub"])
        text(line, "StartDate", r["Datum_vanaf"])
        text(line, "EndDate", r["Datum_tot"])
    return el


def main(customers: str, invoices: str, out: str) -> None:
    items = articles()
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("eExact", {f"{{{XSI}}}noNamespaceSchemaLocation": "eExact-XML.xsd"},
                        nsmap={"xsi": XSI}):
            with xf.element("Accounts"), open(customers, encoding="utf-8") as fh:
                for line in fh:
                    xf.write(account(json.loads(line)))
            with xf.element("Invoices"), open(invoices, encoding="utf-8") as fh:
                for line in fh:
                    xf.write(invoice(json.loads(line), items))


if __name__ == "__main__":
    main(*sys.argv[1:4])
