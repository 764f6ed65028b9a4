"""Exact import safety that its XSD does not catch (FORMAT.md §7): amounts with exactly two
decimals, known customers, no empty Contact, no silently dropped address, the documentation
showing each block under its own condition, and no journal entry numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import EXACT_PROFILE, EXACT_XSD, ROOT
from helpers import assert_valid, run
from lxml import etree
from test_history import CUSTOMERS, invoice, produce, write_world

XML = "exact_online.invoices.xml"
MODES = {"invoices": {"invoice_export": "true"}, "journal": {"invoice_export": "false"}}


def _world(tmp_path: Path, invoices: list[dict[str, Any]],
           customers: list[dict[str, Any]] | None = None) -> dict[str, str]:
    return write_world(tmp_path / "src", invoices, customers)


def _amounts(xml: Path) -> list[str]:
    doc = etree.parse(str(xml))
    return [v.text or "" for v in doc.iter("Value")]


def test_amounts_are_written_with_exactly_two_decimals(tmp_path: Path) -> None:
    whole = invoice("B1", "121.00")
    whole["Factuurbedrag"] = "121"  # as a source may give it
    whole["Regels"][0].update(Regel_sub="100", BTW_bedrag="21")
    for mode, params in MODES.items():
        report = run(EXACT_PROFILE, tmp_path / mode, _world(tmp_path, [whole]), params=params)
        assert report.status == "succeeded", report.summary()
        values = _amounts(tmp_path / mode / XML)
        assert values and all(re.fullmatch(r"-?\d+\.\d\d", v) for v in values), (mode, values)
        assert_valid(tmp_path / mode / XML, EXACT_XSD)


def test_an_amount_with_more_decimals_fails_its_record_and_is_not_rounded(tmp_path: Path) -> None:
    odd = invoice("B2", "121.00")
    odd["Factuurbedrag"] = "121.005"
    odd["Regels"][0].update(Regel_sub="100.005", BTW_bedrag="21.00")  # balanced, yet not in cents
    for mode, params in MODES.items():
        report = run(EXACT_PROFILE, tmp_path / mode, _world(tmp_path, [invoice("B1", "12.10"), odd]),
                     params=params, skip_invalid=True)
        [problem] = [p for p in report.errors if p.code == "E0640"]
        assert problem.record == "Factuurnummer=B2"
        assert "has more than 2 decimals" in problem.message
        assert problem.line_text and problem.line_text.strip().startswith("fixed(")
        text = (tmp_path / mode / XML).read_text("utf-8")
        assert "121.005" not in text and "121.01" not in text and "B1" in text


def test_an_invoice_of_an_unknown_customer_fails(tmp_path: Path) -> None:
    stray = invoice("B3", "12.10", cust=999)
    for mode, params in MODES.items():
        report = run(EXACT_PROFILE, tmp_path / mode, _world(tmp_path, [stray]), params=params)
        assert report.status == "failed"
        [problem] = report.errors
        assert (problem.code, problem.record) == ("E0604", "Factuurnummer=B3")
        assert "neither in this run's customers nor delivered before" in problem.message


def test_a_customer_delivered_before_is_known_without_being_in_the_source(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    first = produce(db, _world(tmp_path / "1", [invoice("B4", "12.10", cust=7)]), tmp_path / "o1")
    assert first.status == "succeeded", first.summary()
    only_42 = [c for c in CUSTOMERS if c["cust_id"] == 42]
    later = produce(db, _world(tmp_path / "2", [invoice("B4", "12.10", cust=7), invoice("B5", "24.20", cust=7)],
                               only_42), tmp_path / "o2")
    assert later.status == "succeeded", later.summary()
    xml = (tmp_path / "o2" / XML).read_text("utf-8")
    assert 'ordernumber="B5"' in xml and 'ordernumber="B4"' not in xml  # B4 unchanged


def test_a_changed_customer_does_not_change_its_invoices(tmp_path: Path) -> None:
    """The invoice's `klant` ref is the customer's record, not part of the invoice's own."""
    db = f"sqlite:///{tmp_path / 'h.db'}"
    produce(db, _world(tmp_path / "1", [invoice("B6", "12.10")]), tmp_path / "o1")
    moved = [dict(c, Telefoon="+31 1") if c["cust_id"] == 42 else c for c in CUSTOMERS]
    later = produce(db, _world(tmp_path / "2", [invoice("B6", "12.10")], moved), tmp_path / "o2")
    assert later.records == {"customers": {"changed": 1, "unchanged": 3}, "invoices": {"unchanged": 1}}


def _account(xml: Path, code: str) -> etree._Element:
    found = etree.parse(str(xml)).find(f"Accounts/Account[@code='{code}']")
    assert found is not None
    return found


def test_no_empty_contact_and_no_silently_dropped_address(tmp_path: Path) -> None:
    bare = {k: None for k in CUSTOMERS[0]} | {"cust_id": 5, "Bedrijfsnaam": "Leeg BV"}
    no_street = bare | {"cust_id": 6, "Bedrijfsnaam": "Half Adres BV", "Postcode": "1234 AB",
                        "Woonplaats": "Delft"}
    report = run(EXACT_PROFILE, tmp_path, _world(tmp_path, [invoice("B7", "12.10", cust=5)],
                                                 [bare, no_street]), params=MODES["invoices"])
    assert report.status == "succeeded", report.summary()
    assert _account(tmp_path / XML, "00000005").find("Contact") is None
    assert _account(tmp_path / XML, "00000006").find("Address") is None
    [warning] = report.warnings
    assert (warning.code, warning.record) == ("W0601", "cust_id=6")
    assert "postcode or city but no street" in warning.message


def test_doc_shows_each_block_under_its_own_condition() -> None:
    text = (ROOT / "docs" / "exact-online.md").read_text("utf-8")
    sections = text.split("\n### ")[1:]
    invoice_blocks = [s for s in sections if s.startswith("Invoices/Invoice for invoices")]
    assert len(invoice_blocks) == 2
    assert 'change in ["changed", "deleted"]' in invoice_blocks[0].split("\n\n")[1]
    assert invoice_blocks[1].split("\n\n")[1] == \
        "Only when: `(debtors == [] or cust_id in debtors) and invoice_export`"
    assert "`Factuurnummer` | `Invoices/Invoice/@ordernumber`" in invoice_blocks[1]
    assert "@ordernumber" not in invoice_blocks[0]


def test_journal_entries_carry_no_entry_number(tmp_path: Path) -> None:
    """Pitfall 9: Exact numbers entries per journal and year; a number exportc chose could clash
    with one booked by hand. The decision is written down in the profile and its doc page."""
    report = run(EXACT_PROFILE, tmp_path, _world(tmp_path, [invoice("B8", "12.10")]), params=MODES["journal"])
    assert report.status == "succeeded"
    entries = list(etree.parse(str(tmp_path / XML)).iter("GLTransaction"))
    assert entries and all(e.get("entry") is None for e in entries)
    assert "carry no entry number (@entry)" in " ".join(
        (ROOT / "docs" / "exact-online.md").read_text("utf-8").split())
    assert json.loads((tmp_path / "report.json").read_text("utf-8"))["status"] == "succeeded"


def test_a_large_export_is_split_between_records(tmp_path: Path) -> None:
    """Pitfall 11: `--split N` writes whole documents of at most N records each, every one valid,
    together holding exactly what one document would."""
    from helpers import artefact

    from exportc.runtime.execute import RunOptions, execute
    world = _world(tmp_path, [invoice(f"P{n}", "12.10") for n in range(1, 6)])
    whole = run(EXACT_PROFILE, tmp_path / "one", world, params=MODES["invoices"])
    report = execute(artefact(EXACT_PROFILE), RunOptions(sources=world, params=MODES["invoices"],
                                                         out_dir=tmp_path / "split", split=4))
    assert report.status == "succeeded", report.summary()
    names = [Path(f).name for f in report.files]
    assert names == [f"exact_online.invoices-{n}.xml" for n in (1, 2, 3)]  # 4 accounts + 5 invoices

    def records(path: Path) -> list[bytes]:
        doc = etree.parse(str(path))
        return [etree.tostring(e, with_tail=False) for e in doc.iterfind("*/*")]
    parts = [records(Path(f)) for f in report.files]
    assert [len(p) for p in parts] == [4, 4, 1]
    assert [r for p in parts for r in p] == records(tmp_path / "one" / XML)
    for f in report.files:
        assert_valid(Path(f), EXACT_XSD)
    assert whole.files and "--split N" in (ROOT / "docs" / "exact-online.md").read_text("utf-8")


def test_a_split_production_run_records_every_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    report = produce(db, _world(tmp_path, [invoice(f"Q{n}", "12.10") for n in range(1, 4)]),
                     tmp_path / "o", split=5)
    assert report.status == "succeeded" and len(report.files) == 2
    assert all(Path(f).exists() for f in report.files)
    again = produce(db, _world(tmp_path, [invoice(f"Q{n}", "12.10") for n in range(1, 4)]),
                    tmp_path / "o2", split=5)
    assert again.nothing_to_deliver  # delivered once, whatever the files
