"""The floor for CPython: the same export as ``handwritten_lxml.py`` written with f-strings and
escaping only the text values; reads the JSON Lines with ``json``. No validation, no history.

    python bench/handwritten_fstring.py CUSTOMERS.jsonl INVOICES.jsonl OUT.xml
"""

from __future__ import annotations

import json
import sys
from xml.sax.saxutils import escape, quoteattr

from handwritten_lxml import VAT, articles, money


def opt(tag: str, value: object) -> str:
    return "" if value is None else f"<{tag}>{escape(str(value))}</{tag}>"


def account(c: dict[str, object]) -> str:
    parts = [f'<Account code="{str(c["cust_id"]).zfill(8)}" status="C">', opt("Name", c["Bedrijfsnaam"]),
             opt("Phone", c["Telefoon"]), "<Contact>"]
    for tag, field in (("LastName", "Achternaam"), ("MiddleName", "Prefix"), ("FirstName", "Initialen"),
                       ("Phone", "Telefoon"), ("Mobile", "Mobiel"), ("Email", "Email")):
        parts.append(opt(tag, c[field]))
    parts.append("</Contact>")
    if c["Adres"] is not None:
        line = " ".join(str(c[f]) for f in ("Adres", "Huisnummer", "Toevoeging") if c[f] is not None)
        parts += ["<Address>", opt("AddressLine1", line), opt("PostalCode", c["Postcode"]),
                  opt("City", c["Woonplaats"]),
                  "" if c["Land"] is None else f"<Country code={quoteattr(str(c['Land']))}/>", "</Address>"]
    if c["IBAN"] is not None:
        iban = escape(str(c["IBAN"]))
        parts.append(f'<BankAccount code="{iban}"><IBAN>{iban}</IBAN></BankAccount>')
    if c["Betaalconditie"] is not None:
        parts.append(f"<SalesPaymentCondition code={quoteattr(str(c['Betaalconditie']))}/>")
    parts.append("</Account>")
    return "".join(parts)


def invoice(inv: dict[str, object], items: dict[str, str]) -> str:
    code = str(inv["cust_id"]).zfill(8)
    parts = [f"<Invoice ordernumber={quoteattr(str(inv['Factuurnummer']))}>", '<Journal code="70"/>',
             opt("OrderDate", inv["Factuurdatum"]), opt("Description", inv["Omschrijving"]),
             opt("YourRef", inv["Kenmerk"]), f'<OrderedBy code="{code}"/><InvoiceTo code="{code}"/>',
             f'<ForeignAmount><Currency code="EUR"/><Value>{money(inv["Factuurbedrag"])}</Value></ForeignAmount>']
    for r in inv["Regels"]:  # type: ignore[attr-defined]
        sub = money(r["Regel_sub"])
        parts.append(
            f'<InvoiceLine line="{r["Regelnummer"]}">{opt("Description", r["Regelomschrijving"])}'
            f'<Item code={quoteattr(items[r["Grootboekrekening"]])}/><Quantity>1</Quantity>'
            f'<NetPrice><Currency code="EUR"/><Value>{sub}</Value><VAT code="{VAT[r["BTW_code"]]}"/></NetPrice>'
            f'<ForeignAmount><Currency code="EUR"/><Value>{sub}</Value></ForeignAmount>'
            f'{opt("StartDate", r["Datum_vanaf"])}{opt("EndDate", r["Datum_tot"])}</InvoiceLine>')
    parts.append("</Invoice>")
    return "".join(parts)


def main(customers: str, invoices: str, out: str) -> None:
    items = articles()
    with open(out, "w", encoding="utf-8", buffering=1 << 20) as o:
        o.write('<?xml version="1.0" encoding="UTF-8"?>\n<eExact xmlns:xsi="http://www.w3.org/2001/'
                'XMLSchema-instance" xsi:noNamespaceSchemaLocation="eExact-XML.xsd"><Accounts>')
        with open(customers, encoding="utf-8") as fh:
            for line in fh:
                o.write(account(json.loads(line)))
        o.write("</Accounts><Invoices>")
        with open(invoices, encoding="utf-8") as fh:
            for line in fh:
                o.write(invoice(json.loads(line), items))
        o.write("</Invoices></eExact>\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
