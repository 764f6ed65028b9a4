"""Lowering: the checked IR and its generated module become the artefact, the plain data the
runtime reads (``exportc.artefact``): types, params, tables, source shapes and top-level blocks,
and the profile lines a report quotes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from exportc.artefact import (
    RUN_FIELDS,
    Artefact,
    BlockSpec,
    DocumentSpec,
    ParamSpec,
    SetCheckSpec,
    ShapeSpec,
    TableSpec,
    TypeSpec,
)
from exportc.compiler import ir
from exportc.compiler.naming import nodes, runs_read
from exportc.compiler.types import Type
from exportc.dsl.parser import comment_start
from exportc.project import table_path


def _type(t: Type) -> TypeSpec:
    return TypeSpec(t.name, t.nullable, _type(t.elem) if t.elem else None)


def _shape(s: ir.SourceShape) -> ShapeSpec:
    return ShapeSpec(s.name, s.key, s.window, {k: _type(v) for k, v in s.fields.items()},
                     {k: _shape(v) for k, v in s.lists.items()}, dict(s.refs), s.join_source,
                     s.join_on)


def _ref_reads(p: ir.Profile) -> dict[str, tuple[str, ...]]:
    """Per source some record refers to (``klant: ref customers``), the fields the profile reads
    of a referenced record (``klant.Naam`` is ``get(klant, "Naam")``), sorted; a source referred
    to but never read through has none (only whether the record exists is tested)."""
    reads: dict[str, set[str]] = {target: set() for s in p.sources.values()
                                  for target, _on in s.refs.values()}
    for node in nodes((p.blocks, p.global_checks)):
        if isinstance(node, ir.Op) and node.op == "get":
            obj, name = node.args
            if obj.type.name == "record" and obj.type.record and isinstance(name, ir.Const):
                reads.setdefault(obj.type.record, set()).add(str(name.value))
    return {k: tuple(sorted(v)) for k, v in reads.items()}


def _mentions(node: object, hit: Callable[[object], bool]) -> bool:
    """Whether any IR node below ``node`` satisfies ``hit``."""
    return any(hit(n) for n in nodes(node))


_CHECK_MESSAGE = re.compile(r'\s+else\s+(error|warning)\s+".*$')


def _rules(linemap: list[tuple[str, int]], texts: dict[str, str]) -> dict[str, str]:
    """Each profile line the generated code comes from, without its comment, so a runtime
    problem can quote the rule it happened in."""
    out: dict[str, str] = {}
    lines = {file: text.splitlines() for file, text in texts.items()}
    for file, line in set(linemap):
        if file in lines and 0 < line <= len(lines[file]):
            text = lines[file][line - 1]
            cut = comment_start(text)
            text = " ".join((text if cut is None else text[:cut]).split()).rstrip("{ ")
            # A check's message is the problem's message already: quote only its condition.
            out[f"{file}:{line}"] = _CHECK_MESSAGE.sub("", text) if text.startswith("check ") else text
    return out


def lower(p: ir.Profile, source: str, linemap: list[tuple[str, int]], texts: dict[str, str]) -> Artefact:
    """The artefact of a checked profile and its generated module (``source``, ``linemap``);
    ``texts`` are the profile files' contents, for the rule each report quotes."""
    params = tuple(ParamSpec(x.name, _type(x.type), x.default, x.has_default, x.description,
                             x.span.line) for x in p.params.values())
    tables = tuple(TableSpec(
        t.name, _type(t.key_type), _type(t.value_type), t.entries if t.file is None else None,
        str(table_path(t.file, t.span.file)) if t.file else None, t.policy,
        t.default, t.description) for t in p.tables.values())
    blocks = tuple(BlockSpec(
        b.index, b.containers, b.element.name, b.source,
        tuple(SetCheckSpec(s.fn, s.severity, s.message, s.span.file, s.span.line)
              for s in b.set_checks), b.span.file, b.span.line,
        _mentions(b, lambda x: isinstance(x, ir.RunRef) and x.name == "change"),
        _mentions(b, lambda x: isinstance(x, ir.PreviousRef)), b.document,
        _nodes(b.element) if b.document else {}) for b in p.blocks)
    reads = _ref_reads(p)
    sources = {k: dataclasses.replace(_shape(v), ref_reads=reads.get(k)) for k, v in p.sources.items()}
    run_fields = runs_read([p.blocks, p.global_checks])  # one walk of the IR, not one per run field
    return Artefact(p.name, p.title, p.files, p.schema_path, p.schema_digest, p.root,
                    p.namespaces, p.history, params, tables, sources, blocks, source, tuple(linemap),
                    tuple(n for n in RUN_FIELDS if n in run_fields),
                    rules=_rules(
                        [*linemap, *((s.file, s.line) for b in blocks for s in b.set_checks),
                         *((b.file, line) for b in blocks for line in b.nodes.values())], texts),
                    documents={k: DocumentSpec(d.root, d.schema_path, d.namespaces, d.schematron)
                               for k, d in p.documents.items()})


def _nodes(root: ir.Element) -> dict[str, int]:
    """Element path (local names, ``Invoice/LegalMonetaryTotal/PayableAmount``, ``…/@currencyID``)
    -> the profile line of the rule or block that writes it, so a business-rule failure found in
    the document can name the `.map` line."""
    out: dict[str, int] = {}

    def walk(el: ir.Element, prefix: str) -> None:
        path = f"{prefix}/{el.name.split(':')[-1]}" if prefix else el.name.split(":")[-1]
        if el.span is not None:
            out.setdefault(path, el.span.line)
        for attr, slot in el.attrs:
            out[f"{path}/@{attr}"] = slot.span.line
        if el.text is not None:
            out[path] = el.text.span.line
        for _pos, child in el.children:
            walk(child.element if isinstance(child, ir.Repeat) else child, path)
    walk(root, "")
    return out
