"""The document writer: every byte goes into the document's temporary file once, in schema
order, and a record that fails half-way is left out whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXACT_PROFILE
from helpers import run
from lxml import etree
from test_history import invoice, write_world

from exportc.runtime import blocks

INVOICES = {"invoice_export": "true"}


def test_records_go_straight_into_the_document_without_a_spool(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """While the invoices are read, the block writing them is the first unfinished one in
    schema order (the accounts are done): it writes into the document, so no spool file exists."""
    monkeypatch.setattr(blocks, "PROGRESS_EVERY", 1)
    out = tmp_path / "o"
    seen: list[tuple[str, list[str]]] = []

    def progress(source: str, n: int, written: dict[str, int]) -> None:
        seen.append((source, sorted(p.name for p in out.glob(".*.parts/*"))))

    world = write_world(tmp_path / "s", [invoice(f"W{n}", "12.10") for n in range(1, 4)])
    report = run(EXACT_PROFILE, out, world, params=INVOICES, progress=progress)
    assert report.status == "succeeded", report.summary()
    assert ("invoices", []) in seen and all(spools == [] for _, spools in seen), seen
    assert not list(out.glob(".*"))  # nothing left behind


def test_a_record_failing_half_way_is_left_out_whole_between_its_neighbours(tmp_path: Path) -> None:
    """The second invoice fails at its line (a VAT code the table lacks), after its header was
    rendered: with --skip-invalid the document holds the first and third invoice and nothing of
    the second, written straight into the document."""
    bad = invoice("H2", "24.20")
    bad["Regels"][0]["BTW_code"] = 99
    world = write_world(tmp_path / "s", [invoice("H1", "12.10"), bad, invoice("H3", "36.30")])
    report = run(EXACT_PROFILE, tmp_path / "o", world, params=INVOICES, skip_invalid=True)
    assert [p.record for p in report.errors] == ["Factuurnummer=H2"], report.summary()
    doc = etree.parse(str(tmp_path / "o" / "exact_online.invoices.xml"))
    assert doc.xpath("//Invoice/@ordernumber") == ["H1", "H3"]
    assert b"H2" not in (tmp_path / "o" / "exact_online.invoices.xml").read_bytes()
    assert len(doc.xpath("//Invoice/InvoiceLine")) == 2  # no stray line of H2 either


def test_in_journal_mode_the_journal_block_writes_straight_into_the_document(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The invoice blocks come first in the schema but `invoice_export` rules them out, so the
    journal block is the frontier and the document equals the one written through spools."""
    monkeypatch.setattr(blocks, "PROGRESS_EVERY", 1)
    out = tmp_path / "o"
    seen: list[list[str]] = []
    world = write_world(tmp_path / "s", [invoice(f"J{n}", "12.10") for n in range(1, 4)])
    report = run(EXACT_PROFILE, out, world, params={"invoice_export": "false"},
                 progress=lambda *_: seen.append([p.name for p in out.glob(".*.parts/*")]))
    assert report.status == "succeeded", report.summary()
    assert seen and all(spools == [] for spools in seen), seen
    doc = etree.parse(str(out / "exact_online.invoices.xml"))
    assert len(doc.xpath("/eExact/GLTransactions/GLTransaction")) == 3
    assert not doc.xpath("//Invoice")
