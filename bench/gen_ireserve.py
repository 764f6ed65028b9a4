"""Generate realistic i-Reserve source data as JSON Lines (the shape of
``../shared/reference/i-reserve/FORMAT.md`` and ``examples/i-reserve/``).

    .venv/bin/python bench/gen_ireserve.py OUT_DIR [--invoices 100000] [--customers 10000]
                                          [--changed-percent 0] [--seed 11]

Writes ``OUT_DIR/customers.jsonl`` and ``OUT_DIR/invoices.jsonl``. Invoices have 1 to 4 lines
(2.5 on average), amounts as decimal strings (some as JSON numbers, like the bundled example),
VAT codes the shipped profile's tables know, optional fields null about as often as in real
exports, and text with the characters XML must escape. The same seed gives the same bytes;
``--changed-percent P`` changes the description of P% of the invoices (spread evenly), for a
production rerun with that share of changed records.
"""

from __future__ import annotations

import argparse
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

FIRST = ["Anna", "Bram", "Chris", "Daan", "Eva", "Femke", "Gijs", "Hanna", "Ivo", "Jesse", "Søren", "Zoë"]
LAST = ["Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Ünal", "Mulder"]
PREFIX = [None, None, None, "van", "de", "van der", "van den"]
TOWNS = [("Amsterdam", "NL"), ("Zwolle", "NL"), ("Utrecht", "NL"), ("Groningen", "NL"),
         ("Ærøskøbing", "DK"), ("Antwerpen", "BE"), ("Münster", "DE")]
STREETS = ["Dorpsstraat", "Kerkweg", "Stationsplein", "Havnegade", "Molenlaan", "Beukenhof"]
COMPANIES = ["Bakkerij & Zn.", "Camping <De Vrolijke Vos> B.V.", "Recreatie \"Het Bos\"",
             "Fjordhytter ApS", "Jachthaven 't Anker"]
LINES = [("Huur chalet", "8010"), ("Kampeerplaats", "8000"), ("Schoonmaak", "8020"),
         ("Toeristenbelasting", "8030"), ("Huur bungalow", "8010"), ("Linnengoed & handdoeken", "8020"),
         ("Annulering <50%>", "8010")]
VAT = [(21, Decimal("0.21")), (9, Decimal("0.09")), (0, Decimal("0"))]
CENT = Decimal("0.01")


def customer(i: int, rnd: random.Random) -> dict[str, Any]:
    """One customer; about a third companies, the rest private persons."""
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    town, land = rnd.choice(TOWNS)
    company = rnd.random() < 0.3
    has_address = rnd.random() < 0.85
    return {
        "cust_id": i, "Bedrijfsnaam": f"{rnd.choice(COMPANIES)} {last}" if company else f"{first[0]}. {last}",
        "Telefoon": f"+31 20 {rnd.randrange(1000000, 9999999)}" if rnd.random() < 0.7 else None,
        "IBAN": f"NL{rnd.randrange(10, 99)}ABNA0{rnd.randrange(100000000, 999999999)}" if rnd.random() < 0.6 else None,
        "Betaalconditie": rnd.choice(["14", "30", None]),
        "Achternaam": last, "Prefix": rnd.choice(PREFIX), "Initialen": f"{first[0]}.",
        "Mobiel": f"+31 6 {rnd.randrange(10000000, 99999999)}" if rnd.random() < 0.5 else None,
        "Email": f"{first.lower()}.{i}@example.org" if rnd.random() < 0.8 else None,
        "Adres": rnd.choice(STREETS) if has_address else None,
        "Huisnummer": str(rnd.randrange(1, 300)) if has_address else None,
        "Toevoeging": rnd.choice([None, None, None, "a", "bis"]) if has_address else None,
        "Postcode": f"{rnd.randrange(1000, 9999)} {rnd.choice(['AB', 'ZY', 'KL'])}" if has_address else None,
        "Woonplaats": town if has_address else None, "Land": land if has_address else None,
    }


def invoice(i: int, customers: int, rnd: random.Random, changed: bool) -> dict[str, Any]:
    """One invoice with 1-4 lines whose totals add up to ``Factuurbedrag``."""
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    regels = []
    total = Decimal("0.00")
    for r in range(rnd.choice((1, 2, 2, 3, 3, 4))):
        text, ledger = rnd.choice(LINES)
        code, rate = rnd.choice(VAT)
        sub = (Decimal(rnd.randrange(-2000, 90000)) / 100).quantize(CENT)
        vat = (sub * rate).quantize(CENT)
        total += sub + vat
        period = rnd.random() < 0.5
        regels.append({
            "Regelnummer": r + 1, "Regelomschrijving": text, "Regel_sub": str(sub),
            "BTW_bedrag": str(vat), "BTW_code": code, "Grootboekrekening": ledger,
            "Datum_vanaf": f"2026-{month:02d}-{day:02d}" if period else None,
            "Datum_tot": f"2026-{month:02d}-{min(day + 7, 28):02d}" if period else None,
        })
    amount: Any = str(total) if i % 5 else float(total)  # some exports write numbers
    return {
        "Factuurnummer": f"2026{i:07d}", "Factuurdatum": f"2026-{month:02d}-{day:02d}",
        "Omschrijving": f"Verblijf {i % 52 + 1} week & extra's" + (" (gewijzigd)" if changed else ""),
        "Kenmerk": f"R-{i}" if rnd.random() < 0.4 else None, "cust_id": rnd.randrange(customers),
        "Factuurbedrag": amount, "Regels": regels,
    }


def generate(out: Path, invoices: int, customers: int, changed_percent: float, seed: int) -> None:
    """Write both files; the random stream does not depend on ``changed_percent``."""
    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    with open(out / "customers.jsonl", "w", encoding="utf-8") as fh:
        for i in range(customers):
            fh.write(json.dumps(customer(i, rnd), ensure_ascii=False) + "\n")
    every = round(100 / changed_percent) if changed_percent else 0
    with open(out / "invoices.jsonl", "w", encoding="utf-8") as fh:
        for i in range(invoices):
            changed = bool(every) and i % every == every // 2
            fh.write(json.dumps(invoice(i, customers, rnd, changed), ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--invoices", type=int, default=100_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--changed-percent", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    generate(a.out, a.invoices, a.customers, a.changed_percent, a.seed)


if __name__ == "__main__":
    main()
