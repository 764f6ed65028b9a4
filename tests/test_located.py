"""Runtime problems are located at their cause: the rule that produced a rejected value, the
source that could not be read, the record an XSD error is in; a failed run is not called dead."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, EXACT_XSD
from helpers import artefact, run
from test_history import invoice, produce, write_world

from exportc.diagnostics import render_text
from exportc.runtime.execute import RunOptions, execute

INVOICES = {"invoice_export": "true"}


def _rule_line(needle: str) -> int:
    """The line of the profile's new-invoice rule that contains ``needle``."""
    lines = EXACT_PROFILE.read_text("utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Invoices/Invoice")
                 and "change in" not in line)
    return next(n for n, line in enumerate(lines[start:], start) if needle in line) + 1


def test_a_rejected_value_is_blamed_on_the_rule_that_produced_it(tmp_path: Path) -> None:
    long = invoice("L1", "12.10") | {"Omschrijving": "x" * 300, "Kenmerk": "ref"}
    report = run(EXACT_PROFILE, tmp_path / "o", write_world(tmp_path / "s", [long]), params=INVOICES)
    [problem] = report.errors
    assert problem.code == "E0602" and "300 characters" in problem.message
    assert problem.span is not None and problem.span.line == _rule_line("Omschrijving")
    assert problem.line_text is not None and problem.line_text.strip().startswith("Omschrijving")
    assert "YourRef" not in problem.line_text


def test_a_bad_source_value_names_the_source_not_a_block(tmp_path: Path) -> None:
    bad = invoice("S1", "12.10") | {"Factuurbedrag": "twelve"}
    report = run(EXACT_PROFILE, tmp_path / "o", write_world(tmp_path / "s", [bad]), params=INVOICES)
    [problem] = report.errors
    assert problem.code == "E0502" and problem.block == "source invoices"
    assert "GLTransaction" not in render_text(problem, {})
    # nor is it counted against the journal block, which an invoice-mode run does not write
    assert "GLTransaction" not in report.summary(), report.summary()
    assert report.blocks["Invoices/Invoice"].failed == 1


def _strict_schema(tmp_path: Path) -> Path:
    """A stricter copy of the Exact schema: descriptions of at most 20 characters."""
    strict = tmp_path / "strict.xsd"
    strict.write_text(EXACT_XSD.read_text("utf-8").replace(
        '<xsd:simpleType name="typeString255">\n\t\t<xsd:restriction base="xsd:string">\n'
        '\t\t\t<xsd:maxLength value="255"/>', '<xsd:simpleType name="typeString255">\n'
        '\t\t<xsd:restriction base="xsd:string">\n\t\t\t<xsd:maxLength value="20"/>'), "utf-8")
    assert strict.read_text("utf-8") != EXACT_XSD.read_text("utf-8")
    return strict


def test_an_xsd_error_has_its_line_and_record(tmp_path: Path) -> None:
    """A stricter copy of the schema (descriptions of at most 20 characters) rejects what the
    compiled checks let through; the error names the document line and the record."""
    a = dataclasses.replace(artefact(EXACT_PROFILE), schema_path=str(_strict_schema(tmp_path)))
    world = write_world(tmp_path / "s", [invoice("V1", "12.10") | {"Omschrijving": "short"},
                                         invoice("V2", "24.20") | {"Omschrijving": "a description too long"}])
    report = execute(a, RunOptions(sources=world, params=INVOICES, out_dir=tmp_path / "o"))
    [problem] = [p for p in report.errors if p.code == "E0610"]
    line = int(re.search(r"line (\d+):", problem.message).group(1))  # type: ignore[union-attr]
    assert line > 0
    assert (problem.block, problem.record) == ("Invoices/Invoice", "Factuurnummer=V2")
    # its span is that line of the document, quoted with a caret under the element
    assert problem.span is not None and (problem.span.file, problem.span.line) == (report.files[0] if
        report.files else str(tmp_path / "o" / "exact_online.invoices.xml"), line)
    assert problem.document == "exact_online.invoices.xml"
    assert problem.line_text is not None and "a description too long" in problem.line_text


@pytest.mark.parametrize("split", [1, 2, 3])
def test_an_xsd_error_in_a_split_run_names_its_record(tmp_path: Path, split: int) -> None:
    """With --split, each document counts its records on from the documents before it: the
    error names the record, whichever document (and place in it) the record landed in."""
    a = dataclasses.replace(artefact(EXACT_PROFILE), schema_path=str(_strict_schema(tmp_path)))
    world = write_world(tmp_path / "s", [invoice(f"V{n}", "12.10") | {"Omschrijving": "short"}
                                         for n in range(1, 4)]
                        + [invoice("V4", "24.20") | {"Omschrijving": "a description too long"}])
    report = execute(a, RunOptions(sources=world, params=INVOICES, out_dir=tmp_path / "o", split=split))
    [problem] = [p for p in report.errors if p.code == "E0610"]
    assert (problem.block, problem.record) == ("Invoices/Invoice", "Factuurnummer=V4")
    assert problem.document is not None and problem.document.startswith("exact_online.invoices-")
    assert problem.line_text is not None and "a description too long" in problem.line_text


def test_a_failed_production_run_is_not_called_dead_by_the_next(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    world = write_world(tmp_path / "s", [invoice("D1", "12.10", cust=999)])  # an unknown customer
    first = produce(db, world, tmp_path / "o1")
    assert first.status == "failed"
    second = produce(db, world, tmp_path / "o2")
    assert second.status == "failed"
    assert not [p for p in second.problems if "died" in p.message], second.summary()


def test_repeated_problems_are_grouped_with_their_first_keys(tmp_path: Path) -> None:
    strays = [invoice(f"G{n}", "12.10", cust=999) for n in range(1, 6)]
    report = run(EXACT_PROFILE, tmp_path / "o", write_world(tmp_path / "s", strays), params=INVOICES)
    summary = report.summary()
    assert summary.count("E0604") == 1, summary
    assert "= at: Invoices/Invoice; 5 records: Factuurnummer=G1, Factuurnummer=G2, Factuurnummer=G3, "\
        "… (2 more)" in summary
    import json
    [group] = json.loads((tmp_path / "o" / "report.json").read_text("utf-8"))["groups"]
    assert (group["code"], group["count"], group["records"]) == (
        "E0604", 5, ["Factuurnummer=G1", "Factuurnummer=G2", "Factuurnummer=G3"])
    assert group["line_text"].strip().startswith("check klant != null")
    assert group["span"]["line"] == _rule_line("check klant != null")


def test_a_runtime_problem_renders_like_a_compile_diagnostic(tmp_path: Path, snapshot: object) -> None:
    """One Diagnostic type and renderer: the rule's line of the profile with a caret under it."""
    odd = invoice("R1", "12.10") | {"Factuurbedrag": "12.105"}
    odd["Regels"][0].update(Regel_sub="10.005", BTW_bedrag="2.10")
    report = run(EXACT_PROFILE, tmp_path / "o", write_world(tmp_path / "s", [odd]), params=INVOICES)
    [problem] = report.errors
    text = render_text(problem, {})  # the line is in the diagnostic: no file is read again
    assert text.replace(str(tmp_path), "<tmp>") == snapshot


def test_a_path_in_a_hint_is_shown_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema folder reached through a symlink (`shared` -> `../real`) stays `shared/...`."""
    from typer.testing import CliRunner

    from exportc.cli import app
    (tmp_path / "real" / "schemas").mkdir(parents=True)
    project = tmp_path / "proj"
    (project / "profiles").mkdir(parents=True)
    (project / "shared").symlink_to(tmp_path / "real")
    (project / "exportc.toml").write_text('[exportc]\nprofiles = ["profiles"]\nschemas = ["shared/schemas"]\n')
    (project / "profiles" / "x.map").write_text(
        'profile x "x"\ntarget "nope.xsd" root eExact\nsource s key a { a: text }\n'
        "Accounts/Account for s { a > @code }\n")
    monkeypatch.chdir(project)
    out = CliRunner().invoke(app, ["check", "profiles/x.map"]).output
    assert "hint: searched profiles, shared/schemas;" in out and "real" not in out


def test_a_point_span_is_the_span_its_fields_make_and_stays_frozen() -> None:
    """``Span.point`` sets the slots itself (a run makes one per source row): the same value,
    hash and text as the dataclass's own constructor gives, and as immutable."""
    from exportc.diagnostics import Span
    point = Span.point("invoices.jsonl", 12, 3, 4)
    made = Span("invoices.jsonl", 12, 3, 12, 7)
    assert point == made and hash(point) == hash(made) and repr(point) == repr(made)
    assert {point: 1}[made] == 1 and str(point) == "invoices.jsonl:12:3"
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.line = 13  # type: ignore[misc]
