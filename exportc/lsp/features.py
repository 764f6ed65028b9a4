"""The language features, one function each, on an ``Analysis`` of the document's text.

Positions inside are 1-based (line, column) like the compiler's spans; the server converts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lsprotocol import types as lsp

from exportc.compiler.functions import FUNCTIONS
from exportc.compiler.resolve import RUN_FIELDS
from exportc.compiler.schema import ComplexType, SimpleType
from exportc.diagnostics import Diagnostic, Severity, Span
from exportc.dsl import ast
from exportc.lsp.document import (
    Analysis,
    Frame,
    Named,
    Place,
    declarations,
    element_paths,
    fields_in_scope,
    frames_at,
    local,
    resolve,
)
from exportc.lsp.xsddoc import documentation

_SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error, Severity.WARNING: lsp.DiagnosticSeverity.Warning,
             Severity.NOTE: lsp.DiagnosticSeverity.Information}


def to_range(span: Span) -> lsp.Range:
    return lsp.Range(lsp.Position(span.line - 1, span.column - 1),
                     lsp.Position(span.end_line - 1, max(span.end_column - 1, span.column)))


def location(span: Span) -> lsp.Location:
    return lsp.Location(Path(span.file).resolve().as_uri(), to_range(span))


def _inside(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


# ---- diagnostics -----------------------------------------------------------------------------

def _anchor(a: Analysis) -> Span:
    """Where a problem in another file (the base profile, the XSD) is shown: the `extends` or
    `target` line that brings that file in, else the first line."""
    for item in a.own.items if a.own else ():
        if isinstance(item, ast.ProfileDecl) and item.extends:
            return item.span
    return Span(str(a.path), 1, 1, 1, 2)


def diagnostics(a: Analysis) -> list[lsp.Diagnostic]:
    """The compiler's diagnostics for the document; those located elsewhere are shown at the
    line that brings their file in, with their own location as related information."""
    out = []
    for d in a.result.diagnostics:
        out.append(_diagnostic(a, d))
    return out


def _diagnostic(a: Analysis, d: Diagnostic) -> lsp.Diagnostic:
    related = [lsp.DiagnosticRelatedInformation(location(r.span), r.message) for r in d.related]
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    if a.is_own(d.span):
        assert d.span is not None
        where = to_range(d.span)
    else:
        where = to_range(_anchor(a))
        if d.span is not None:
            message = f"{d.span}: {message}"
            related.insert(0, lsp.DiagnosticRelatedInformation(location(d.span), d.message))
    return lsp.Diagnostic(where, message, _SEVERITY[d.severity], d.code, source="exportc",
                          related_information=related or None)


# ---- what is under the cursor ------------------------------------------------------------------

Chain = tuple[ast.Block, ...]


def _blocks(items: tuple[object, ...], chain: Chain = ()) -> Iterator[tuple[ast.Block, Chain]]:
    for item in items:
        if isinstance(item, ast.Block):
            yield item, chain
            yield from _blocks(item.items, (*chain, item))


def _rules(module: ast.Module | None) -> Iterator[tuple[ast.Rule, Chain]]:
    for block, chain in _blocks(module.items if module else ()):
        for item in block.items:
            if isinstance(item, ast.Rule):
                yield item, (*chain, block)


def _segments(chain: tuple[ast.Block, ...]) -> list[str]:
    return [s for b in chain for s in b.path.split("/")]


def _rooted(chain: Chain, below: list[str]) -> tuple[str | None, list[str]]:
    """(root, segments): a `document Root` block's chain starts at its own root."""
    if chain and getattr(chain[0], "document", False):
        return chain[0].path, _segments(chain[1:]) + below
    return None, _segments(chain) + below


def _target_at(a: Analysis, line: int, column: int) -> tuple[str | None, list[str]] | None:
    """The root and the element path below it of the target path segment under the cursor."""
    for rule, chain in _rules(a.own):
        span = rule.target_span
        if a.is_own(span) and span.line == line and span.column <= column <= span.end_column:
            upto = len(rule.target[: column - span.column].split("/"))
            return _rooted(chain, rule.target.split("/")[:upto])
    for block, chain in _blocks(a.own.items if a.own else ()):
        span = block.path_span
        if a.is_own(span) and span.line == line and span.column <= column <= span.column + len(block.path):
            upto = len(block.path[: column - span.column].split("/"))
            if not chain and getattr(block, "document", False):
                return block.path, []
            return _rooted(chain, block.path.split("/")[:upto])
    return None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def word_at(text: str, line: int, column: int) -> tuple[str, str] | None:
    """The word under the cursor and the text before it on its line."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    src = lines[line - 1]
    for m in _WORD.finditer(src):
        if m.start() <= column - 1 <= m.end():
            return m.group(), src[: m.start()]
    return None


# ---- hover -----------------------------------------------------------------------------------

def _occurs(place: Place) -> str:
    if place.attribute is not None:
        return "attribute, " + ("required" if place.attribute.required else "optional")
    p = place.particle
    if p is None:
        return ""
    high = "unbounded" if p.max_occurs is None else str(p.max_occurs)
    return f"occurs {p.min_occurs}..{high}" + (" (required)" if p.min_occurs > 0 else " (optional)")


def _type_text(t: ComplexType | SimpleType | None) -> str:
    if isinstance(t, SimpleType):
        return t.describe()
    if isinstance(t, ComplexType):
        if t.simple is not None:
            attrs = ", ".join(f"@{n}" for n in t.attributes)
            return t.simple.describe() + (f" with attributes {attrs}" if attrs else "")
        kids = [p.name for p in t.particles()]
        shown = ", ".join(kids[:12]) + (", …" if len(kids) > 12 else "")
        attrs = ", ".join(f"@{n}" for n in t.attributes)
        return "element content: " + (shown or "empty") + (f"; attributes {attrs}" if attrs else "")
    return "unknown"


def hover_target(a: Analysis, segments: list[str], root: str | None = None) -> str | None:
    model, root = a.schema_for(root), root or a.root
    if model is None or root is None:
        return None
    place = resolve(model, root, segments)
    if place is None:
        return f"`{'/'.join(segments)}` is not in {Path(model.path).name}"
    doc = documentation(model.path, place.chain)
    lines = [f"**{'/'.join(place.chain)}** ({Path(model.path).name})", "",
             f"type: {_type_text(place.type)}", "", _occurs(place)]
    if doc:
        lines += ["", doc]
    return "\n".join(lines)


def _named_text(n: Named) -> str:
    where = f"{Path(n.span.file).name}:{n.span.line}"
    text = f"**{n.kind} `{n.name}`**: {n.detail}\n\ndeclared at {where}"
    return text + (f"\n\n{n.doc}" if n.doc else "")


def names_at(a: Analysis, line: int, column: int) -> list[Named]:
    frames = frames_at(a.text, line, column)
    return fields_in_scope(a.merged, frames) + declarations(a.merged)


def hover(a: Analysis, line: int, column: int) -> str | None:
    """Markdown for the target path, name or function under the cursor."""
    target = _target_at(a, line, column)
    if target is not None:
        return hover_target(a, target[1], target[0])
    found = word_at(a.text, line, column)
    if found is None:
        return None
    word, before = found
    after = a.text.splitlines()[line - 1][len(before) + len(word):]
    if word in FUNCTIONS and after.lstrip().startswith("("):
        f = FUNCTIONS[word]
        return f"**function** `{f.signature}`\n\n{f.doc}"
    if before.endswith("run."):
        return f"**run context** `run.{word}`: an option of the run (`--{word.replace('_', '-')}`)"
    for n in names_at(a, line, column):
        if n.name == word:
            return _named_text(n)
    return None


# ---- completion ------------------------------------------------------------------------------

def _target_items(a: Analysis, segments: list[str], prefix: str, root: str | None = None
                  ) -> list[lsp.CompletionItem]:
    """Children and attributes valid at ``segments`` (plus a typed ``A/B/`` prefix), in schema
    order, required ones marked."""
    model, root = a.schema_for(root), root or a.root
    if model is None or root is None:
        return []
    parts = prefix.split("/")[:-1]
    place = resolve(model, root, segments + parts)
    if place is None or not isinstance(place.type, ComplexType):
        return []
    t = place.type
    items = []
    particles = t.particles()
    locals_ = [local(p.name) for p in particles]
    for n, p in enumerate(particles):
        required = p.min_occurs > 0
        high = "unbounded" if p.max_occurs is None else p.max_occurs
        # the prefix may be left out where the local name is unambiguous, as profiles do
        label = local(p.name) if locals_.count(local(p.name)) == 1 else p.name
        items.append(lsp.CompletionItem(
            label, kind=lsp.CompletionItemKind.Field, sort_text=f"0{n:04d}",
            detail=(f"{p.name}, " if label != p.name else "") + ("required" if required else "optional")
            + f", {p.min_occurs}..{high}",
            label_details=lsp.CompletionItemLabelDetails(detail=" (required)" if required else None),
            documentation=documentation(model.path, [*place.chain, p.name])))
    for n, attr in enumerate(t.attributes.values()):
        items.append(lsp.CompletionItem(
            f"@{local(attr.name)}", kind=lsp.CompletionItemKind.Property, sort_text=f"1{n:04d}",
            filter_text=f"@{local(attr.name)}",
            insert_text=f"@{local(attr.name)}" if not prefix.endswith("@") else local(attr.name),
            detail=("required" if attr.required else "optional") + f" attribute, {attr.type.describe()}",
            label_details=lsp.CompletionItemLabelDetails(detail=" (required)" if attr.required else None)))
    return items


def _members(a: Analysis, owner: str, frames: list[Frame]) -> list[lsp.CompletionItem]:
    """After ``run.``: the run context; after ``previous.``: the fields delivered before."""
    if owner == "run":
        return [lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Property, detail=f"run.{name}: {t}")
                for name, t in RUN_FIELDS.items()]
    return [lsp.CompletionItem(n.name, kind=lsp.CompletionItemKind.Field, detail=f"previous.{n.name}: {n.detail}",
                               documentation="as delivered before (changed or deleted records)")
            for n in fields_in_scope(a.merged, frames)]


_KINDS = {"field": lsp.CompletionItemKind.Field, "param": lsp.CompletionItemKind.Constant,
          "let": lsp.CompletionItemKind.Variable, "table": lsp.CompletionItemKind.Struct,
          "source": lsp.CompletionItemKind.Module}


def completion(a: Analysis, line: int, column: int) -> list[lsp.CompletionItem]:
    """Target paths after `>` (or at the start of a nested block); names and functions elsewhere."""
    src = a.text.splitlines()[line - 1][: column - 1] if 0 < line <= len(a.text.splitlines()) else ""
    frames = frames_at(a.text, line, column)
    segments = element_paths(frames)
    prefix = re.search(r"[A-Za-z0-9_@/]*$", src)
    typed = prefix.group() if prefix else ""
    if segments is None:
        return []
    member = re.search(r"\b(run|previous)\.[A-Za-z_]*$", src)
    if member:
        return _members(a, member.group(1), frames)
    root = frames[0].root if frames else None
    if ">" in src.replace("->", ""):
        return _target_items(a, segments, typed, root)
    items = _target_items(a, segments, typed, root) if frames else []
    if not frames:  # top level: a block starts from the root
        items = _target_items(a, [], typed)
    if "/" in typed:
        return items
    for n, named in enumerate(fields_in_scope(a.merged, frames) + declarations(a.merged)):
        items.append(lsp.CompletionItem(named.name, kind=_KINDS[named.kind], detail=f"{named.kind}: {named.detail}",
                                        documentation=named.doc, sort_text=f"2{n:04d}"))
    for f in FUNCTIONS.values():
        items.append(lsp.CompletionItem(f.name, kind=lsp.CompletionItemKind.Function, detail=f.signature,
                                        documentation=f.doc, sort_text=f"3{f.name}"))
    return items
