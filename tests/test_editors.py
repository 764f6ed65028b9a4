"""Editor packaging: the TextMate grammar tokenised by VS Code's own tokenizer (vscode-textmate
with Oniguruma, through node), the Pygments lexer, and the pre-commit hooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT
from pygments.lexers import get_lexer_by_name
from pygments.token import Error, Token
from typer.testing import CliRunner

from exportc.cli import app
from exportc.dsl import ast
from exportc.dsl.parser import parse_file
from exportc.highlight import TOKEN_TYPES, ExportcLexer

VSCODE = ROOT / "editors" / "vscode"
SAMPLE = CORPUS / "editors" / "sample.map"
SHIPPED = sorted((ROOT / "profiles").rglob("*.map"))

# (line, text) in the sample -> the scope its token must end in: one or more per token class.
EXPECTED = {
    (1, "# A sample with every token class, for the editor grammars (tests/test_editors.py)."):
        "comment.line.number-sign",
    (2, "profile"): "storage.type.profile", (2, "sample.orders"): "entity.name.type.profile",
    (2, "extends"): "keyword.other.extends", (2, "Sample"): "string.quoted.double",
    (3, "target"): "storage.type.target", (3, "root"): "keyword.other", (3, "Orders"): "entity.name.tag",
    (4, "history"): "storage.type.history", (4, "mutations"): "constant.language.history",
    (5, "param"): "storage.type.param", (5, "since"): "variable.other.definition",
    (5, "date"): "support.type", (5, "2026-01-31"): "constant.other.date",
    (6, "?"): "keyword.operator.nullable", (6, "12.50"): "constant.numeric", (7, "true"): "constant.language",
    (8, "table"): "storage.type.table", (8, "->"): "keyword.operator.mapping", (8, "passthrough"): "keyword.other",
    (8, "\\n"): "constant.character.escape", (8, "{"): "punctuation.section.block",
    (9, "source"): "storage.type.source", (9, "key"): "keyword.other", (10, "id"): "variable.other.field",
    (10, ":"): "punctuation.separator.type", (11, "list"): "support.type",
    (13, "let"): "storage.type.let", (13, "upper"): "support.function", (13, "text"): "support.function",
    (14, "Order"): "entity.name.tag", (14, "for"): "keyword.control", (14, "where"): "keyword.control",
    (14, ">="): "keyword.operator", (14, "["): "punctuation.section.brackets", (14, "since"): "variable.other",
    (15, ">"): "keyword.operator.rule", (15, "@id"): "entity.other.attribute-name",
    (16, "previous"): "variable.language", (16, "run"): "variable.language", (16, "null"): "constant.language",
    (16, "Note"): "entity.name.tag", (16, "override"): "keyword.other.override",
    (17, "Lines"): "entity.name.tag", (17, "when"): "keyword.control", (18, "by"): "keyword.control",
    (18, "@nr"): "entity.other.attribute-name", (18, "*"): "keyword.operator",
    (20, "check"): "keyword.other.check", (20, "error"): "keyword.other.severity",
}


def _tokenize(*files: Path) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None or not (VSCODE / "node_modules" / "vscode-textmate").is_dir():
        if os.environ.get("EXPORTC_REQUIRE_NODE"):
            pytest.fail("node and editors/vscode/node_modules are required (npm ci --prefix editors/vscode)")
        pytest.skip("needs node and `npm ci --prefix editors/vscode`")
    out = subprocess.run([node, str(VSCODE / "test" / "tokenize.js"), *map(str, files)], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_textmate_grammar_gives_every_token_class_on_the_sample() -> None:
    tokens = _tokenize(SAMPLE)
    found = {(t["line"], t["text"]): t["scopes"][-1] for t in tokens}  # type: ignore[index]
    wrong = {k: (found.get(k), v) for k, v in EXPECTED.items() if found.get(k) != f"{v}.exportc"}
    assert wrong == {}


def test_textmate_grammar_marks_every_rule_target_of_the_shipped_profiles() -> None:
    tokens = _tokenize(*SHIPPED)
    assert not [t for t in tokens if any("invalid" in s for s in t["scopes"])]  # type: ignore[attr-defined]
    arrows = {(Path(str(t["file"])).resolve(), t["line"]) for t in tokens
              if t["scopes"][-1] == "keyword.operator.rule.exportc"}  # type: ignore[index]
    rules = set()
    for path in SHIPPED:
        module = parse_file(str(path)).module
        assert module is not None

        def walk(items: tuple[object, ...], file: Path) -> None:
            for item in items:
                if isinstance(item, ast.Rule):
                    rules.add((file, item.target_span.line))
                elif isinstance(item, ast.Block):
                    walk(item.items, file)
        walk(module.items, path.resolve())
    assert rules and rules == arrows


def test_pygments_lexer_is_registered_and_covers_the_sample() -> None:
    assert isinstance(get_lexer_by_name("exportc"), ExportcLexer)
    tokens = list(ExportcLexer().get_tokens(SAMPLE.read_text("utf-8")))
    assert {t for t, _ in tokens} >= set(TOKEN_TYPES)
    by_text = {v: t for t, v in tokens}
    assert by_text["Lines"] in Token.Name.Tag and by_text["upper"] in Token.Name.Function
    assert by_text["2026-01-31"] in Token.Number and by_text["mutations"] in Token.Keyword


def test_pygments_lexer_reads_the_shipped_profiles_without_errors() -> None:
    for path in SHIPPED:
        tokens = list(ExportcLexer().get_tokens(path.read_text("utf-8")))
        assert [v for t, v in tokens if t is Error] == [], path
        assert "".join(v for _, v in tokens) == path.read_text("utf-8")


def test_pre_commit_hooks_run_clean_on_the_shipped_profiles() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text("utf-8")
    entries = re.findall(r"^\s+entry: exportc (.+)$", text, flags=re.M)
    assert entries == ["check", "fmt --check"]
    for entry in entries:
        result = CliRunner().invoke(app, [*entry.split(), *map(str, SHIPPED)])
        assert result.exit_code == 0, result.output


def test_vscode_extension_declares_the_grammar_and_starts_the_server() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text("utf-8"))
    (grammar,) = manifest["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).is_file() and grammar["scopeName"] == "source.exportc"
    assert manifest["contributes"]["languages"][0]["extensions"] == [".map"]
    assert '["lsp"]' in (VSCODE / "extension.js").read_text("utf-8")
