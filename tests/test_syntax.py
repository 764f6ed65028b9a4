"""The front end: valid profiles parse (AST snapshots), broken ones get plain diagnostics."""

from __future__ import annotations

import pprint
from pathlib import Path

import pytest
from conftest import CORPUS, EXACT_PROFILE, rel

from exportc.diagnostics import render_all_text, render_github, render_json
from exportc.dsl import ast
from exportc.dsl.formatter import format_module
from exportc.dsl.parser import parse_file, parse_text

VALID = [*sorted((CORPUS / "valid").glob("*.map")), EXACT_PROFILE]
BROKEN = sorted((CORPUS / "broken").glob("*.map"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_profile_ast(path: Path, snapshot: object) -> None:
    result = parse_file(rel(path))
    assert result.diagnostics == []
    assert result.module is not None
    assert pprint.pformat(result.module.items, width=100) == snapshot


def test_broken_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_profile_diagnostic(path: Path, snapshot: object) -> None:
    result = parse_file(rel(path))
    assert result.module is None or result.diagnostics
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors, "a broken profile must produce an error"
    for d in errors:
        assert d.span is not None and d.span.line >= 1 and d.span.column >= 1
        assert "Token(" not in d.message and "Unexpected" not in d.message
    text = render_all_text(result.diagnostics, {rel(path): result.source})
    assert text == snapshot


def test_missing_gt_points_at_target() -> None:
    result = parse_text("profile p\nA {\n  Bedrijfsnaam Name\n}\n", "x.map")
    (d,) = result.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("E0102", 3, 16)  # type: ignore[union-attr]


def test_json_and_github_forms() -> None:
    result = parse_text("parm x: int\n", "x.map")
    data = render_json(result.diagnostics)
    assert '"code": "E0104"' in data and '"line": 1' in data
    gh = render_github(result.diagnostics[0])
    assert gh.startswith("::error file=x.map,line=1,col=1,endLine=1,endColumn=5,title=E0104::")


def test_colour_only_when_asked() -> None:
    result = parse_text("parm x: int\n", "x.map")
    plain = render_all_text(result.diagnostics, {"x.map": "parm x: int\n"})
    coloured = render_all_text(result.diagnostics, {"x.map": "parm x: int\n"}, colour=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured


def test_let_ends_at_end_of_line() -> None:
    text = "profile p\nA {\n  let a = x\n  -b > Y\n  [1] > Z\n}\n"
    result = parse_text(text)
    assert result.ok
    block = result.module.items[1]  # type: ignore[union-attr]
    assert isinstance(block, ast.Block)
    assert isinstance(block.items[0], ast.LetDecl) and block.items[0].value == ast.Name("x")
    assert isinstance(block.items[1], ast.Rule) and block.items[1].value == ast.Neg(ast.Name("b"))


def test_run_from_is_a_field_not_a_keyword() -> None:
    result = parse_text("profile p\nA { run.from > B }\n")
    rule = result.module.items[1].items[0]  # type: ignore[union-attr]
    assert rule.value == ast.Attr(ast.Name("run"), "from")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_fmt_is_idempotent_and_keeps_meaning(path: Path) -> None:
    original = parse_file(str(path))
    assert original.module is not None
    once = format_module(original.module)
    reparsed = parse_text(once)
    assert reparsed.module == original.module
    assert format_module(reparsed.module) == once  # type: ignore[arg-type]
    for comment in original.module.comments:
        assert comment.text in once


def test_fmt_of_shipped_profile_is_canonical() -> None:
    result = parse_file(str(EXACT_PROFILE))
    assert format_module(result.module) == result.source  # type: ignore[arg-type]


def test_several_syntax_errors_are_reported_in_one_go() -> None:
    text = ("profile p\nparm x: int\nparam y int\nAccounts/Account for c {\n  a b\n}\n"
            "tabel t: int -> text {}\nparam ok: int = 1\n")
    result = parse_text(text, "multi.map")
    assert result.module is None
    assert [(d.code, d.span.line) for d in result.diagnostics] == [  # type: ignore[union-attr]
        ("E0104", 2), ("E0118", 3), ("E0102", 5), ("E0104", 7)]
