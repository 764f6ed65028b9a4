"""What the language server knows of one open profile: the compiler's result on the unsaved text,
and the questions features ask of it (which blocks enclose a position, which XSD element that
is, which names are in scope).

Enclosing blocks are found by scanning braces in the text, not from the AST, so completion
works while the user is typing a line that does not parse yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from exportc.compiler.pipeline import compile_file
from exportc.compiler.result import CompileResult
from exportc.compiler.schema import Attribute, ComplexType, Particle, SchemaError, SchemaModel, SimpleType, load_model
from exportc.config import ConfigError
from exportc.diagnostics import Span
from exportc.dsl import ast
from exportc.dsl.formatter import format_expr
from exportc.project import find_schema

_T = TypeVar("_T")


@dataclass
class Analysis:
    """The compiler's view of a document's current text (``emit=False``: no code is generated)."""

    path: Path
    text: str
    result: CompileResult

    @property
    def own(self) -> ast.Module | None:
        """This file's own AST (a customer profile's, before merging with its base)."""
        return self.result.parsed.get(str(self.path))

    @property
    def merged(self) -> ast.Module | None:
        return self.result.module

    @property
    def model(self) -> SchemaModel | None:
        return self.result.schema

    @property
    def root(self) -> str | None:
        module = self.merged or self.own
        target = next((i for i in (module.items if module else ()) if isinstance(i, ast.TargetDecl)), None)
        return target.root if target else None

    def schema_for(self, root: str | None) -> SchemaModel | None:
        """The schema of the target with this root (profiles with several document kinds have
        one per kind); the first target's for None."""
        if root is None or root == self.root:
            return self.model
        module = self.merged or self.own
        for t in (i for i in (module.items if module else ()) if isinstance(i, ast.TargetDecl)):
            if t.root == root:
                try:
                    found = find_schema(t.schema, t.span.file or str(self.path))
                    return load_model(found) if found else None
                except (ConfigError, SchemaError):
                    return None
        return None

    def is_own(self, span: Span | None) -> bool:
        return span is not None and Path(span.file).resolve() == self.path.resolve()


def analyse(path: Path, text: str) -> Analysis:
    """Compile ``text`` as the profile at ``path`` (its base, schema and tables found from there)."""
    return Analysis(path, text, compile_file(path, text=text, emit=False))


# ---- enclosing blocks, from the text -----------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """A block enclosing a position: a target block (``path``, its ``for``) or something else
    (a source, a table, a list of a source: ``kind`` other)."""

    kind: str
    path: str = ""
    for_: str | None = None
    line: int = 0
    root: str | None = None  # a `document Root for …` block: the root of its document kind


_HEADER_WORDS = {"source", "table", "profile", "target", "param", "let", "check"}
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"?')


def _code(line: str) -> str:
    """A line without its strings' content and its comment."""
    line = _STRING.sub('""', line)
    cut = line.find("#")
    return line if cut < 0 else line[:cut]


def _frame(header: str, line: int) -> Frame:
    words = header.split()
    if not words or words[0] in _HEADER_WORDS or ":" in words[0]:
        return Frame("other", line=line)
    for_ = words[words.index("for") + 1] if "for" in words[:-1] else None
    if words[0] == "document" and len(words) > 1:
        return Frame("block", "", for_, line, words[1])
    return Frame("block", words[0], for_, line)


def frames_at(text: str, line: int, column: int) -> list[Frame]:
    """The blocks around (line, column), 1-based, outermost first."""
    stack: list[Frame] = []
    for n, raw in enumerate(text.splitlines()[:line], 1):
        code = _code(raw if n < line else raw[: column - 1])
        start = 0
        for i, ch in enumerate(code):
            if ch == "{":
                stack.append(_frame(code[start:i], n))
                start = i + 1
            elif ch == "}":
                if stack:
                    stack.pop()
                start = i + 1
    return stack


def element_paths(frames: list[Frame]) -> list[str] | None:
    """The element path segments (below the root) of the innermost block, or None inside a
    source or table."""
    if any(f.kind != "block" for f in frames):
        return None
    return [seg for f in frames for seg in f.path.split("/") if seg]


# ---- the schema at a path --------------------------------------------------------------------

@dataclass
class Place:
    """Where a target path lands in the schema: an element (particle and type) or an attribute."""

    chain: list[str]  # root first
    particle: Particle | None = None
    type: ComplexType | SimpleType | None = None
    attribute: Attribute | None = None
    parents: list[ComplexType] = field(default_factory=list)


def local(name: str) -> str:
    """A name without its namespace prefix (``cbc:IssueDate`` -> ``IssueDate``)."""
    return name.split(":")[-1]


def _named(names: dict[str, _T], name: str) -> _T | None:
    """The exact (prefixed) name, or for a name without prefix the one with that local name:
    profiles may leave a prefix out where the local name is unambiguous."""
    if name in names:
        return names[name]
    found = [v for k, v in names.items() if local(k) == name] if ":" not in name else []
    return found[0] if len(found) == 1 else None


def resolve(model: SchemaModel, root: str, segments: list[str]) -> Place | None:
    """Walk ``segments`` down from the root element; None when a segment is not in the schema."""
    particle = _named(model.roots, root)
    if particle is None:
        return None
    place = Place([particle.name], particle, model.type_of(particle))
    for seg in segments:
        parent = place.type
        if not isinstance(parent, ComplexType):
            return None
        if seg.startswith("@"):
            attr = _named(parent.attributes, seg[1:])
            if attr is None:
                return None
            return Place([*place.chain, f"@{attr.name}"], None, attr.type, attr, [*place.parents, parent])
        child = _named({p.name: p for p in parent.particles()}, seg)
        if child is None:
            return None
        place = Place([*place.chain, child.name], child, model.type_of(child), None, [*place.parents, parent])
    return place


# ---- names in scope --------------------------------------------------------------------------

@dataclass(frozen=True)
class Named:
    """A name a profile can use: a field, param, let, table or source, with its declaration."""

    kind: str
    name: str
    detail: str
    span: Span
    doc: str | None = None


def _type_text(t: ast.TypeRef) -> str:
    inner = f"[{', '.join(_type_text(a) for a in t.args)}]" if t.args else ""
    return t.name + inner + ("?" if t.nullable else "")


def _shape_fields(shape: ast.SourceShape, owner: str) -> list[Named]:
    out = []
    for f in shape.fields:
        if isinstance(f, ast.FieldDecl):
            out.append(Named("field", f.name, _type_text(f.type), f.span, f"field of `{owner}`"))
        elif isinstance(f, ast.ListFieldDecl):
            out.append(Named("field", f.name, "list", f.span, f"list of `{owner}`"))
    return out


def _list_shape(shape: ast.SourceShape, name: str) -> ast.SourceShape | None:
    for f in shape.fields:
        if isinstance(f, ast.ListFieldDecl) and f.name == name:
            return f.shape
    return None


def declarations(module: ast.Module | None) -> list[Named]:
    """Params, lets, tables and sources of a (merged) module."""
    out: list[Named] = []
    for item in module.items if module else ():
        if isinstance(item, ast.ParamDecl):
            out.append(Named("param", item.name, _type_text(item.type), item.span, item.description))
        elif isinstance(item, ast.LetDecl):
            out.append(Named("let", item.name, "= " + format_expr(item.value), item.span, None))
        elif isinstance(item, ast.TableDecl):
            detail = f"{_type_text(item.key_type)} -> {_type_text(item.value_type)}"
            doc = (item.description or "") + (f" (from {item.file})" if item.file else "")
            out.append(Named("table", item.name, detail, item.span, doc.strip() or None))
        elif isinstance(item, ast.SourceDecl):
            out.append(Named("source", item.name, "source", item.span, f"key {', '.join(item.shape.key)}"))
    return out


def fields_in_scope(module: ast.Module | None, frames: list[Frame]) -> list[Named]:
    """The fields of the records the innermost block sees: its own, then enclosing ones'."""
    sources = {i.name: i.shape for i in (module.items if module else ()) if isinstance(i, ast.SourceDecl)}
    shapes: list[tuple[str, ast.SourceShape]] = []
    for f in frames:
        if f.for_ is None:
            continue
        name = f.for_.split(".")[-1]
        if name in sources:
            shapes.append((name, sources[name]))
        elif shapes:
            sub = _list_shape(shapes[-1][1], name)
            if sub is not None:
                shapes.append((name, sub))
    out: list[Named] = []
    seen: set[str] = set()
    for owner, shape in reversed(shapes):
        for n in _shape_fields(shape, owner):
            if n.name not in seen:
                seen.add(n.name)
                out.append(n)
    return out
