"""Collect declarations: params, tables, sources and lets, typed and checked."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exportc.compiler import ir
from exportc.compiler.resolve import did_you_mean, literal_type
from exportc.compiler.types import SCALARS, Type, assignable, list_of
from exportc.diagnostics import Diagnostic, Related, Span, error
from exportc.dsl import ast
from exportc.project import display_path, table_path
from exportc.tablefile import TableFileError, read_table_csv

TYPE_NAMES = (*SCALARS, "list")


class Declarations:
    """The typed declarations of one (merged) profile."""

    def __init__(self) -> None:
        self.params: dict[str, ir.Param] = {}
        self.tables: dict[str, ir.Table] = {}
        self.sources: dict[str, ir.SourceShape] = {}
        self.lets: dict[str, ast.LetDecl] = {}
        self.diagnostics: list[Diagnostic] = []
        self._spans: dict[str, Span] = {}

    def err(self, code: str, message: str, span: Span | None, hint: str | None = None,
            related: list[Related] | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint, related or []))

    def _unique(self, kind: str, name: str, span: Span) -> bool:
        key = f"{kind}:{name}"
        if key in self._spans:
            self.err("E0214", f"{kind} `{name}` is declared twice", span, None,
                     [Related(self._spans[key], "first declared here")])
            return False
        self._spans[key] = span
        return True

    # -- types --
    def type(self, t: ast.TypeRef) -> Type:
        if t.name == "list":
            elem = self.type(t.args[0]) if t.args else Type("any")
            result = list_of(elem)
        elif t.name in SCALARS:
            result = Type(t.name)
        else:
            self.err("E0212", f"unknown type `{t.name}`", t.span,
                     did_you_mean(t.name, TYPE_NAMES) or "types: " + ", ".join(TYPE_NAMES))
            result = Type("any")
        return result.or_null() if t.nullable else result

    # -- params --
    def param(self, p: ast.ParamDecl) -> None:
        if not self._unique("param", p.name, p.span):
            return
        t = self.type(p.type)
        default: object = None
        if p.default is not None:
            default = self.constant(p.default, t, f"the default of `{p.name}`")
        self.params[p.name] = ir.Param(p.name, t, default, p.default is not None, p.description,
                                       p.span)

    def constant(self, e: ast.Expr, t: Type, what: str) -> object:
        """Evaluate a constant expression (literals and lists of them) of type ``t``."""
        if isinstance(e, ast.ListLiteral):
            if t.name != "list":
                self.err("E0217", f"{what} is a list, but the type is {t}", e.span)
                return None
            elem = t.elem or Type("any")
            return [self.constant(i, elem, what) for i in e.items]
        if not isinstance(e, ast.Literal):
            self.err("E0217", f"{what} must be a constant", e.span,
                     "write a literal: a number, \"text\", true/false, a date, or [a, b]")
            return None
        lt = literal_type(e.value)
        if e.value is None:
            if not t.nullable:
                self.err("E0217", f"{what} is null, but the type {t} is not nullable", e.span,
                         f"declare the type as `{t}?`")
            return None
        if not assignable(lt, t):
            self.err("E0217", f"{what} is {lt}, but the type is {t}", e.span)
            return None
        if t.name == "decimal" and isinstance(e.value, int):
            return Decimal(e.value)
        return e.value

    # -- tables --
    def table(self, t: ast.TableDecl, profile_file: str) -> None:
        if not self._unique("table", t.name, t.span):
            return
        kt, vt = self.type(t.key_type), self.type(t.value_type)
        entries: dict[object, object] | None = None
        if t.entries is not None:
            entries = {}
            for entry in t.entries:
                k = self.constant(entry.key, kt, f"a key of table `{t.name}`")
                v = self.constant(entry.value, vt, f"a value of table `{t.name}`")
                if k in entries:
                    self.err("E0215", f"table `{t.name}` has the key {k!r} twice", entry.span)
                entries[k] = v
        elif t.file is not None:
            path = display_path(table_path(t.file, profile_file))
            entries = self.table_file(t, path, kt, vt)
        default = None
        if t.policy == "default" and t.default_value is not None:
            default = self.constant(t.default_value, vt, f"the default of table `{t.name}`")
        if t.policy == "passthrough" and not assignable(kt, vt):
            self.err("E0215", f"table `{t.name}` passes unknown keys through, but its keys "
                     f"({kt}) are not values ({vt})", t.span,
                     "declare a `default` instead, or make the key and value types equal")
        self.tables[t.name] = ir.Table(t.name, kt, vt, entries, t.file, t.policy, default,
                                       t.description, t.span)

    def table_file(self, t: ast.TableDecl, path: Path, kt: Type, vt: Type
                   ) -> dict[object, object] | None:
        """Read and check a CSV table; problems become diagnostics naming file and row."""
        try:
            return read_table_csv(path, kt.name, vt.name)
        except TableFileError as exc:
            self.err("E0216", f"table `{t.name}`: {exc}", t.span, exc.hint)
            return None

    # -- sources --
    def source(self, s: ast.SourceDecl) -> None:
        if not self._unique("source", s.name, s.span):
            return
        self.sources[s.name] = self.shape(s.name, s.shape, s.span, top=True)

    def shape(self, name: str, shape: ast.SourceShape, span: Span, top: bool) -> ir.SourceShape:
        fields: dict[str, Type] = {}
        lists: dict[str, ir.SourceShape] = {}
        refs: dict[str, tuple[str, tuple[str, ...]]] = {}
        seen: dict[str, Span] = {}
        for f in shape.fields:
            if f.name in seen:
                self.err("E0214", f"field `{f.name}` is declared twice", f.span, None,
                         [Related(seen[f.name], "first declared here")])
                continue
            seen[f.name] = f.span
            if isinstance(f, ast.FieldDecl):
                fields[f.name] = self.type(f.type)
            elif isinstance(f, ast.ListFieldDecl):
                lists[f.name] = self.shape(f"{name}.{f.name}", f.shape, f.span, top=False)
            else:
                refs[f.name] = (f.source, f.on)
        result = ir.SourceShape(name, shape.key, shape.window, fields, lists, refs,
                                shape.join_source, shape.join_on, span)
        for k in shape.key:
            if k not in fields:
                self.err("E0222", f"key field `{k}` is not a field of `{name}`", span,
                         did_you_mean(k, fields))
            elif fields[k].nullable:
                self.err("E0222", f"key field `{k}` may not be nullable", span)
        if shape.window is not None:
            wt = fields.get(shape.window)
            if wt is None or wt.name not in ("date", "datetime"):
                self.err("E0223", f"window field `{shape.window}` must be a date field of "
                         f"`{name}`", span, did_you_mean(shape.window, fields))
        if top and not shape.key:
            self.err("E0222", f"source `{name}` has no key", span,
                     "name the field(s) that identify a record: `source x key id { ... }`")
        return result

    def check_relations(self) -> None:
        """Refs and joins name existing sources and fields."""
        def walk(shape: ir.SourceShape) -> None:
            for fname, (target, on) in shape.refs.items():
                if target not in self.sources:
                    self.err("E0208", f"field `{fname}` refers to unknown source `{target}`",
                             shape.span, did_you_mean(target, self.sources))
                    continue
                for k in on:
                    if k not in shape.fields:
                        self.err("E0222", f"`{fname}` joins on `{k}`, which is not a field of "
                                 f"`{shape.name}`", shape.span)
            for sub in shape.lists.values():
                if sub.join_source is not None and not sub.join_on:
                    self.err("E0222", f"list `{sub.name}` needs `on` fields", sub.span)
                walk(sub)
        for s in self.sources.values():
            walk(s)
