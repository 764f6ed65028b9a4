"""Go to definition, the outline (document symbols) and formatting through ``fmt``."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp

from exportc.diagnostics import Span
from exportc.dsl import ast
from exportc.dsl.formatter import format_module
from exportc.dsl.parser import parse_text
from exportc.lsp.document import Analysis
from exportc.lsp.features import _inside, location, names_at, to_range, word_at
from exportc.project import table_path


def _whole_file(path: Path) -> lsp.Location:
    return lsp.Location(path.resolve().as_uri(), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)))


def definition(a: Analysis, line: int, column: int) -> lsp.Location | None:
    """The base rule an override replaces, the base profile of `extends`, a table's CSV file, or
    the declaration of the name under the cursor."""
    for o in a.result.overrides:
        if a.is_own(o.override) and _inside(o.override, line, column):
            return location(o.base)
    for item in a.own.items if a.own else ():
        if not _inside(item.span, line, column):  # type: ignore[attr-defined]
            continue
        if isinstance(item, ast.ProfileDecl) and item.extends:
            base = next((f for f in a.result.parsed if Path(f).resolve() != a.path.resolve()), None)
            return _whole_file(Path(base)) if base else None
        if isinstance(item, ast.TableDecl) and item.file:
            csv = table_path(item.file, item.span.file)  # the one rule for table files
            return _whole_file(csv) if csv.is_file() else None
    found = word_at(a.text, line, column)
    if found is None:
        return None
    for named in names_at(a, line, column):
        if named.name == found[0]:
            return location(named.span)
    return None


def _symbol(name: str, detail: str, kind: lsp.SymbolKind, span: Span, focus: Span | None = None,
            children: list[lsp.DocumentSymbol] | None = None) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(name, kind, to_range(span), to_range(focus or span), detail=detail,
                              children=children or None)


def _block_symbol(block: ast.Block) -> lsp.DocumentSymbol:
    nested = [_block_symbol(i) for i in block.items if isinstance(i, ast.Block)]
    detail = " ".join(x for x in (f"for {block.for_}" if block.for_ else "",
                                  "where …" if block.where else "", "when …" if block.when else "") if x)
    return _symbol(block.path, detail, lsp.SymbolKind.Object, block.span, block.path_span, nested)


def symbols(a: Analysis) -> list[lsp.DocumentSymbol]:
    """The outline: params, tables, sources, lets, and the blocks with their nested blocks."""
    out = []
    for item in a.own.items if a.own else ():
        match item:
            case ast.ProfileDecl():
                out.append(_symbol(item.name, item.title or "", lsp.SymbolKind.Module, item.span))
            case ast.ParamDecl():
                out.append(_symbol(item.name, "param", lsp.SymbolKind.Constant, item.span))
            case ast.TableDecl():
                out.append(_symbol(item.name, "table", lsp.SymbolKind.Struct, item.span))
            case ast.SourceDecl():
                out.append(_symbol(item.name, "source", lsp.SymbolKind.Class, item.span))
            case ast.LetDecl():
                out.append(_symbol(item.name, "let", lsp.SymbolKind.Variable, item.span))
            case ast.Block():
                out.append(_block_symbol(item))
    return out


def formatting(text: str, file: str) -> list[lsp.TextEdit]:
    """``exportc fmt`` on the buffer: one edit replacing the whole text (none when it does not
    parse or is formatted already)."""
    parsed = parse_text(text, file)
    if parsed.module is None or not parsed.ok:
        return []
    new = format_module(parsed.module)
    if new == text:
        return []
    lines = text.splitlines()
    end = lsp.Position(len(lines), 0)
    return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), new)]
