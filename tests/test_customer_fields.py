"""Customer-chosen fields: a customer profile adds a typed field to a base source and sends it
as YourRef (the seed's "Aangepast veld XX > YourRef"), in invoice and in journal mode; the base's
fields cannot be retyped."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS, EXACT_PROFILE, EXACT_XSD, rel
from helpers import assert_valid, run
from lxml import etree
from test_history import invoice, write_world

from exportc.compiler.pipeline import compile_file

XML = "klant.referentie.xml"  # named after the customer profile


def _customer(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "klant.map"
    path.write_text(f'profile klant.referentie extends "{EXACT_PROFILE}" "YourRef from a customer field"\n'
                    + body, "utf-8")
    return path


CUSTOMER = """source invoices { Referentie: text? }
Invoices/Invoice { Referentie > YourRef }
GLTransactions/GLTransaction { Referentie > GLTransactionLine/References/YourRef }
"""


@pytest.mark.parametrize(("mode", "path"), [("true", "Invoices/Invoice[@ordernumber='C1']/YourRef"),
                                            ("false", "GLTransactions/GLTransaction/GLTransactionLine/"
                                                      "References/YourRef")])
def test_a_customer_field_is_sent_as_yourref(mode: str, path: str, tmp_path: Path) -> None:
    profile = _customer(tmp_path, CUSTOMER)
    chosen = invoice("C1", "12.10") | {"Kenmerk": "the base's Kenmerk", "Referentie": "PO-4711"}
    report = run(profile, tmp_path / "out", write_world(tmp_path / "src", [chosen]),
                 params={"invoice_export": mode})
    assert report.status == "succeeded", report.summary()
    doc = etree.parse(str(tmp_path / "out" / XML))
    assert [e.text for e in doc.findall(path)] == ["PO-4711"]
    assert b"the base's Kenmerk" not in (tmp_path / "out" / XML).read_bytes()
    assert_valid(tmp_path / "out" / XML, EXACT_XSD)


def test_the_reversal_keeps_its_own_yourref(tmp_path: Path) -> None:
    """Overriding YourRef changes the new invoice's, marked `override`; the reversal's YourRef
    (the corrected invoice's number) is not marked and stays the base's."""
    result = compile_file(str(_customer(tmp_path, CUSTOMER)))
    assert result.ok, result.diagnostics
    assert sorted(o.target for o in result.overrides) == [
        "GLTransactions/GLTransaction/GLTransactionLine/References/YourRef", "Invoices/Invoice/YourRef"]
    assert result.artefact is not None and "getf(previous, 'Factuurnummer')" in result.artefact.python


def test_a_base_field_cannot_be_retyped(tmp_path: Path) -> None:
    result = compile_file(str(_customer(tmp_path, "source invoices { Factuurbedrag: text }\n")))
    assert [d.code for d in result.diagnostics if d.is_error] == ["E0410"]
    [d] = result.diagnostics
    assert d.related and d.related[0].span.file.endswith("exact-online.map")


def test_a_new_source_or_key_is_refused(tmp_path: Path) -> None:
    for body in ("source extra key id { id: text }\n", "source invoices key Kenmerk { X: text? }\n"):
        result = compile_file(str(_customer(tmp_path, body)))
        assert [d.code for d in result.diagnostics if d.is_error] == ["E0404"], body


def test_the_corpus_case_is_golden() -> None:
    result = compile_file(rel(CORPUS / "inherit" / "child-retyped-field.map"))
    assert [d.code for d in result.diagnostics] == ["E0410"]
