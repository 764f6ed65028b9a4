"""The shipped Exact Online profile: seed fidelity, its documentation, a customer profile, and
a property test over generated i-Reserve data."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from decimal import Decimal
from pathlib import Path

from conftest import EXACT_PROFILE, EXACT_XSD, EXAMPLES, ROOT
from helpers import assert_valid, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportc.compiler.document import document
from exportc.compiler.pipeline import compile_file

CUSTOMER = ROOT / "profiles" / "examples" / "acme-recreatie.map"
JSONL = {"customers": EXAMPLES / "customers.jsonl", "invoices": EXAMPLES / "invoices.jsonl"}

# The seed's field table (../shared/seeds/002_*.txt): source fields, target, override ("Ja").
SEED_ROWS = [
    (["cust_id"], "Accounts/Account/@code", False),
    (["Bedrijfsnaam"], "Accounts/Account/Name", True),
    (["Telefoon"], "Accounts/Account/Phone", True),
    (["IBAN"], "Accounts/Account/BankAccount/", False),
    (["Betaalconditie"], "Accounts/Account/SalesPaymentCondition", False),
    (["Achternaam"], "Accounts/Account/Contact/LastName", True),
    (["Prefix"], "Accounts/Account/Contact/MiddleName", True),
    (["Initialen"], "Accounts/Account/Contact/FirstName", True),
    (["Mobiel"], "Accounts/Account/Contact/Mobile", True),
    (["Telefoon"], "Accounts/Account/Contact/Phone", True),
    (["Email"], "Accounts/Account/Contact/Email", True),
    (["Adres", "Huisnummer", "Toevoeging"], "Accounts/Account/Address/AddressLine1", True),
    (["Postcode"], "Accounts/Account/Address/PostalCode", True),
    (["Woonplaats"], "Accounts/Account/Address/City", True),
    (["Land"], "Accounts/Account/Address/Country", True),
    (["Factuurnummer"], "Invoices/Invoice/@ordernumber", False),
    (["Factuurdatum"], "Invoices/Invoice/OrderDate", False),
    (["Omschrijving"], "Invoices/Invoice/Description", False),
    # "Aangepast veld XX > YourRef": a customer-chosen field, so a customer profile may override
    # it (issue 9; the seed's table has no "Ja" there because the field itself is the choice).
    (["Kenmerk"], "Invoices/Invoice/YourRef", True),
    (["cust_id"], "Invoices/Invoice/InvoiceTo", False),
    (["Factuurbedrag"], "Invoices/Invoice/ForeignAmount", False),
    (["Regelomschrijving"], "Invoices/Invoice/InvoiceLine/Description", False),
    (["1"], "Invoices/Invoice/InvoiceLine/Quantity", False),
    (["Regel_sub"], "Invoices/Invoice/InvoiceLine/ForeignAmount", False),
    (["Datum_vanaf"], "Invoices/Invoice/InvoiceLine/StartDate", False),
    (["Datum_tot"], "Invoices/Invoice/InvoiceLine/EndDate", False),
]


def _doc() -> str:
    result = compile_file("profiles/exact-online/exact-online.map")
    assert result.module is not None and result.ok
    return document(result.module, "profiles/exact-online/exact-online.map")


def test_committed_doc_is_current() -> None:
    assert (ROOT / "docs" / "exact-online.md").read_text("utf-8") == _doc()


def test_every_seed_row_is_in_the_doc_with_its_override_mark() -> None:
    rows = [line.split("|")[1:4] for line in _doc().splitlines() if line.startswith("| `")]
    rows = [[c.strip().strip("`") for c in r] for r in rows]
    for sources, target, override in SEED_ROWS:
        hits = [r for r in rows if target in r[1] and all(s in r[0] for s in sources)]
        assert hits, f"no doc row for {sources} > {target}"
        assert all((r[2] == "yes") == override for r in hits), (sources, target, hits)


def test_customer_profile_overrides_and_defaults(tmp_path: Path) -> None:
    report = run(CUSTOMER, tmp_path, JSONL)
    assert report.status == "succeeded"
    xml = (tmp_path / "acme.recreatie.xml").read_text("utf-8")
    assert '<Account code="AC000042" status="C">' in xml
    assert "<Name>BAKKERIJ &amp; ZN. ÜNAL</Name>" in xml
    assert "<Phone>+31 6 1234 5678</Phone>" in xml  # the mobile wins
    assert "<Invoices>" in xml and "<GLTransactions>" not in xml  # invoice_export defaults to true
    assert_valid(tmp_path / "acme.recreatie.xml", EXACT_XSD)


# ---- property: any data following FORMAT.md exports validly or fails per record ---------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
_opt = st.none() | _text
_money = st.decimals(min_value=Decimal("-9999"), max_value=Decimal("9999"), places=2)
_date = st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))
_record_codes = {"E0502", "E0503", "E0601", "E0602", "E0603", "E0604", "E0605"}


@st.composite
def _dataset(draw: st.DrawFn) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    ids = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=4, unique=True))
    customers = [{"cust_id": i, "Bedrijfsnaam": draw(_text), "Telefoon": draw(_opt),
                  "IBAN": draw(_opt), "Betaalconditie": draw(_opt), "Achternaam": draw(_opt),
                  "Prefix": draw(_opt), "Initialen": draw(_opt), "Mobiel": draw(_opt),
                  "Email": draw(_opt), "Adres": draw(_opt), "Huisnummer": draw(_opt),
                  "Toevoeging": draw(_opt), "Postcode": draw(_opt), "Woonplaats": draw(_opt),
                  "Land": draw(_opt)} for i in ids]
    invoices = []
    for n in range(draw(st.integers(1, 4))):
        lines = []
        for r in range(draw(st.integers(0, 3))):
            start = draw(st.none() | _date)
            lines.append({"Regelnummer": r + 1, "Regelomschrijving": draw(_text),
                          "Regel_sub": str(draw(_money)), "BTW_bedrag": str(draw(_money)),
                          "BTW_code": draw(st.sampled_from([0, 8, 9, 21, 6])),
                          "Grootboekrekening": draw(st.sampled_from(["8000", "8010", "8020", "8030", "7777"])),
                          "Datum_vanaf": start and start.isoformat(),
                          "Datum_tot": start and (start + dt.timedelta(days=7)).isoformat()})
        total = sum((Decimal(x["Regel_sub"]) + Decimal(x["BTW_bedrag"]) for x in lines), Decimal("0.00"))
        invoices.append({"Factuurnummer": f"F{n}", "Factuurdatum": draw(_date).isoformat(),
                         "Omschrijving": draw(_text), "Kenmerk": draw(_opt),
                         "cust_id": draw(st.sampled_from(ids)),
                         "Factuurbedrag": str(total if draw(st.booleans()) else draw(_money)),
                         "Regels": lines})
    return customers, invoices


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dataset(), st.booleans())
def test_generated_ireserve_data_exports_or_fails_per_record(
        data: tuple[list[dict[str, object]], list[dict[str, object]]], invoice_mode: bool) -> None:
    customers, invoices = data
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, rows in (("customers", customers), ("invoices", invoices)):
            (d / f"{name}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        report = run(EXACT_PROFILE, d / "out", {"customers": d / "customers.jsonl",
                                                 "invoices": d / "invoices.jsonl"},
                     params={"invoice_export": str(invoice_mode).lower()})
        if report.status == "succeeded":
            assert_valid(d / "out" / "exact_online.invoices.xml", EXACT_XSD)
        else:
            assert report.errors
            for p in report.errors:
                assert p.code in _record_codes, p
                assert p.record or p.span, p


def test_the_doc_customising_excerpt_is_a_customer_profile_that_compiles(tmp_path: Path) -> None:
    """`exportc doc` shows how to override as a highlighted ```exportc excerpt: the excerpt lexes
    without an error token and, extending the shipped profile by path, compiles with an override."""
    from pygments.token import Error

    from exportc.highlight import ExportcLexer
    excerpt = _doc().split("```exportc\n", 1)[1].split("```", 1)[0]
    assert not [v for t, v in ExportcLexer().get_tokens(excerpt) if t in Error]
    customer = tmp_path / "customer.map"
    customer.write_text(excerpt.replace("extends exact_online.invoices",
                                        f'extends "{EXACT_PROFILE.resolve()}"'), "utf-8")
    result = compile_file(str(customer))
    assert result.ok, result.diagnostics
    assert [o.target for o in result.overrides] == ["Accounts/Account/Name"]
