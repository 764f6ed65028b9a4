"""Check messages that name values: ``else error "customer {cust_id} has no Peppol_ID"``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS, rel
from helpers import run

from exportc.compiler.pipeline import compile_file
from exportc.dsl import ast
from exportc.dsl.parser import parse_text

PROFILE = CORPUS / "runtime" / "orders.map"
DATA = CORPUS / "runtime" / "orders.jsonl"


def test_placeholders_are_parsed_as_expressions_at_their_column() -> None:
    text = 'profile p\nA for x {\n  check a else error "customer {k.id} ({{x}}) {n + 1}"\n}\n'
    result = parse_text(text, "x.map")
    assert result.ok, result.diagnostics
    check = result.module.items[1].items[0]  # type: ignore[union-attr]
    assert isinstance(check, ast.CheckDecl)
    assert check.message == "customer {k.id} ({{x}}) {n + 1}"  # as written, for the formatter
    assert check.parts == ("customer ", ast.Attr(ast.Name("k"), "id"), " ({x}) ",
                           ast.BinOp("+", ast.Name("n"), ast.Literal(1)))
    placeholder = check.parts[1]
    assert isinstance(placeholder, ast.Attr)
    assert (placeholder.span.line, placeholder.span.column) == (3, 33)
    assert text.splitlines()[2][32:36] == "k.id"


def test_values_are_shown_in_the_reported_message(tmp_path: Path) -> None:
    report = run(PROFILE, tmp_path, {"orders": DATA}, skip_invalid=True)
    [negative] = [p for p in report.errors if p.code == "E0604" and p.record == "id=o2"]
    # a decimal as written, a null as `null`, a date in ISO form, `{{` as one brace
    assert negative.message == "a negative total -5.00 (note null, placed 2026-11-01, {as is})"
    assert negative.span is not None and negative.span.line == 28
    assert [p.message for p in report.warnings if p.code == "W0601"] == ["3 lines"]


def test_unknown_name_in_a_placeholder_points_into_the_string(tmp_path: Path) -> None:
    profile = tmp_path / "p.map"
    profile.write_text(PROFILE.read_text("utf-8").replace(
        'target "../../schemas/orders.xsd"', f'target "{CORPUS.parent / "schemas" / "orders.xsd"}"')
        .replace("placed {placed}", "placed {plaecd}"), "utf-8")
    result = compile_file(str(profile))
    [d] = [d for d in result.diagnostics if d.is_error]
    line = profile.read_text("utf-8").splitlines()[27]
    assert d.code == "E0201" and d.span is not None and d.span.line == 28
    assert line[d.span.column - 1:d.span.end_column - 1] == "plaecd"
    assert "placed" in (d.hint or "")


MESSAGE_CORPUS = sorted([*(CORPUS / "compile").glob("*-in-message.map"), *(CORPUS / "broken").glob("*-in-message.map")])


def test_message_corpus_is_there() -> None:
    assert len(MESSAGE_CORPUS) >= 6


@pytest.mark.parametrize("path", MESSAGE_CORPUS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_broken_message_reports_its_expected_code(path: Path) -> None:
    """Each corpus file names its code (`# expect: E0124`), so a snapshot update cannot accept a
    wrong one (the rendering is snapshot-tested with the rest of the corpus)."""
    expected = path.read_text("utf-8").split("# expect: ", 1)[1].split()[0]
    result = compile_file(rel(path))
    assert expected in {d.code for d in result.diagnostics if d.is_error}
