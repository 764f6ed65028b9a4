"""Generate readable Python from the checked IR.

Each top-level block becomes one function that writes one record's XML into a list of strings.
Tag names, attribute names and indentation are known here, so they become pre-built string
constants; only values are escaped at run time, and only text values (numbers and dates cannot
need it). Lookups and paths are resolved here; the generated code calls ``exportc.runtime.api``
and nothing else. A line map records which profile line each generated line came from, so a
runtime error names the ``.map`` line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from exportc.artefact import (
    BIND,
    GLOBAL_CHECKS,
    RUN_FIELDS,
    emit_name,
    file_name_name,
    set_check_name,
    where_name,
)
from exportc.compiler import ir
from exportc.compiler.targets import facets_of
from exportc.diagnostics import Span
from exportc.values import format_value, xml_escape

_INDENT = "  "


@dataclass(frozen=True)
class Probe:
    """A coverage probe: a rule or check that ran (``outcome`` empty), or one way a ``when``,
    ``where`` or ``if`` went (``true``/``false``, ``then``/``else``), at a profile location."""

    kind: str
    outcome: str
    file: str
    line: int
    column: int


class Code(str):
    """A piece of Python code (as opposed to literal XML text) in a concatenation."""


def concat(parts: list[str | Code]) -> str:
    """Python for the concatenation of literal text and code, adjacent literals merged."""
    merged: list[str | Code] = []
    for part in parts:
        if not isinstance(part, Code) and merged and not isinstance(merged[-1], Code):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return " + ".join(p if isinstance(p, Code) else repr(p) for p in merged)


class CodeWriter:
    """Lines of Python with indentation and a line map back to the profile."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.linemap: list[tuple[str, int]] = []
        self.depth = 0
        self.origin: tuple[str, int] = ("", 0)
        self.pending: list[str | Code] = []

    def write(self, parts: list[str | Code]) -> None:
        """Output to write; consecutive writes become one ``w(...)`` call."""
        self.pending += parts

    def flush(self) -> None:
        if self.pending:
            parts, self.pending = self.pending, []
            self.line(f"w({concat(parts)})")

    def line(self, text: str = "") -> None:
        self.flush()
        self.lines.append(_INDENT * self.depth + text if text else "")
        self.linemap.append(self.origin)

    def indent(self) -> None:
        self.flush()
        self.depth += 1

    def outdent(self) -> None:
        self.flush()
        self.depth -= 1

    def at(self, span: Span | None) -> None:
        if span is not None:
            self.origin = (span.file, span.line)

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


_SIMPLE_OPS = {"add": "+", "sub": "-", "mul": "*", "concat": "+", "eq": "==", "ne": "!=",
               "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_NULLABLE_OPS = {"add": "n_add", "sub": "n_sub", "mul": "n_mul", "concat": "n_concat",
                 "div": "n_div", "neg": "n_neg"}


class Generator:
    """Turns an ``ir.Profile`` into the source of a module with ``bind(P, T, RUN)``."""

    def __init__(self, profile: ir.Profile, probes: bool = False) -> None:
        self.p = profile
        # Coverage builds only (``exportc test --coverage``): what each probe id stands for.
        self.probes: list[Probe] | None = [] if probes else None
        self.here: Span | None = None  # the rule or clause whose expression is being generated
        self.w = CodeWriter()
        self.consts: dict[str, str] = {}
        self.tmp = 0
        self.facets: dict[str, str] = {}

    # -- names --
    def fresh(self, stem: str) -> str:
        self.tmp += 1
        return f"{stem}{self.tmp}"

    def const(self, value: object) -> str:
        if value is None or isinstance(value, bool | int | str):
            return repr(value)
        if isinstance(value, Decimal):
            code = f"Decimal({format(value, 'f')!r})"
        elif isinstance(value, dt.datetime):
            code = f"datetime.fromisoformat({value.isoformat()!r})"
        elif isinstance(value, dt.date):
            code = f"date.fromisoformat({value.isoformat()!r})"
        else:  # pragma: no cover - literals are one of the above
            raise TypeError(value)
        name = self.consts.get(code)
        if name is None:
            name = self.consts[code] = f"K{len(self.consts)}"
        return name

    # -- expressions --
    def expr(self, e: ir.Expr) -> str:
        match e:
            case ir.Const(value=v):
                return self.const(v)
            case ir.FieldRef(depth=d, name=n):
                return f"r{d}[{n!r}]"
            case ir.ParamRef(name=n):
                return f"p_{n}"
            case ir.RunRef(name="change"):
                return "change"
            case ir.RunRef(name=n):
                return f"run_{n}"
            case ir.PreviousRef(name=n):
                return f"getf(previous, {n!r})"
            case ir.Lookup(table=t, key=k):
                return f"t_{t}.opt({self.expr(k)})" if k.type.nullable else f"t_{t}({self.expr(k)})"
            case ir.Cond(cond=c, then=a, otherwise=b) if self.probes is not None:
                then, other = self.probe_pair("if", ("then", "else"))
                return f"(cov_val({then}, {self.expr(a)}) if {self.expr(c)} else cov_val({other}, {self.expr(b)}))"
            case ir.Cond(cond=c, then=a, otherwise=b):
                return f"({self.expr(a)} if {self.expr(c)} else {self.expr(b)})"
            case ir.ListExpr(items=items):
                return "(" + "".join(self.expr(i) + ", " for i in items) + ")"
            case ir.Aggregate(fn="count", source=s):
                return f"len({self.expr(s)} or ())"
            case ir.Aggregate(fn="sum", source=s, body=None, type=t):
                start = "0" if t.name == "int" else "D0"
                return f"sum_of({self.expr(s)} or (), {start})"
            case ir.Aggregate(fn="min" | "max" as fn, source=s, elem_depth=d, body=body):
                assert body is not None
                return f"{fn}_of({self.expr(body)} for r{d} in ({self.expr(s)} or ()))"
            case ir.Aggregate(fn="sum", source=s, elem_depth=d, body=body, type=t):
                assert body is not None
                start = "0" if t.name == "int" else "D0"
                return f"sum_of(({self.expr(body)} for r{d} in ({self.expr(s)} or ())), {start})"
            case ir.Op():
                return self.op(e)
        raise TypeError(f"cannot generate {e!r}")  # pragma: no cover

    def op(self, e: ir.Op) -> str:
        args = [self.expr(a) for a in e.args]
        nullable = any(a.type.nullable for a in e.args)
        if e.op in _NULLABLE_OPS and (nullable or e.op == "div"):
            fn = _NULLABLE_OPS[e.op] if nullable else "div"
            return f"{fn}({', '.join(args)})"
        if e.op in _SIMPLE_OPS:
            return f"({args[0]} {_SIMPLE_OPS[e.op]} {args[1]})"
        match e.op:
            case "neg":
                return f"(-{args[0]})"
            case "is_null":
                return f"({args[0]} is None)"
            case "not_null":
                return f"({args[0]} is not None)"
            case "and" | "or":
                return f"({args[0]} {e.op} {args[1]})"
            case "not":
                return f"(not {args[0]})"
            case "in":
                return f"({args[0]} in {args[1]})"
            case "not_in":
                return f"({args[0]} not in {args[1]})"
            case "date_add" | "date_sub" | "date_diff":
                return f"{e.op}({', '.join(args)})"
            case "get":
                return f"getf({args[0]}, {args[1]})"
        if e.op.startswith("fn_"):
            return f"{e.op}({', '.join(args)})"
        raise TypeError(f"unknown op {e.op}")  # pragma: no cover

    def rendered(self, var: str, slot: ir.Slot, attr: bool) -> str | Code:
        """A constant's XML text is computed now; anything else at run time."""
        if isinstance(slot.expr, ir.Const) and slot.expr.value is not None:
            text = format_value(slot.expr.value)
            return xml_escape(text, attr)
        return Code(self.text_of(var, slot, attr))

    def text_of(self, var: str, slot: ir.Slot, attr: bool) -> str:
        """Code for the XML text of a non-null value held in ``var``; a check of it names the
        rule that produced it (``at``), since one statement writes several rules' elements."""
        t = slot.expr.type.name
        at = (slot.span.file, slot.span.line)
        if t == "text" or t == "any":
            conv = f"esc_attr({var})" if attr else f"esc_text({var})"
        elif t in ("int", "decimal") and slot.xsd.category in ("float", "double"):
            # xs:float/xs:double accept any digits, but not every magnitude: bound it here
            conv = f"fmt_float({var}, {slot.xsd.category.upper()}_MAX, {slot.target!r}, {at!r})"
        elif t == "int":
            conv = f"str({var})"
        elif t == "decimal":
            conv = f"fmt_dec({var})"
        elif t == "bool":
            conv = f"('true' if {var} else 'false')"
        elif t in ("date", "datetime"):
            conv = f"{var}.isoformat()"
        else:
            conv = f"esc_text(str({var}))"
        facets = facets_of(slot.xsd)
        if t != "text":  # typed values are always lexically valid for their XSD type
            facets.pop("patterns", None)
        if set(facets) == {"max_length"} and t in ("text", "any"):
            conv = f"check_len({conv}, {var}, {facets['max_length']}, {slot.target!r}, {at!r})"
        elif facets and not isinstance(slot.expr, ir.Const):
            key = repr(sorted(facets.items()))
            name = self.facets.get(key)
            if name is None:
                name = self.facets[key] = f"F{len(self.facets)}"
                self.consts[repr(facets)] = name
            conv = f"check_facets({conv}, {name}, {slot.target!r}, {at!r})"
        return conv

    # -- elements --
    def prepare(self, el: ir.Element, seen: dict[str, str] | None = None) -> dict[int, str]:
        """Evaluate the element's values (and its implicit children's) into locals; the same
        expression twice (``customer_code`` into OrderedBy and InvoiceTo) is computed once."""
        names: dict[int, str] = {}
        seen = {} if seen is None else seen
        slots = [s for _, s in el.attrs] + ([el.text] if el.text else [])
        for s in slots:
            if isinstance(s.expr, ir.Const):
                names[id(s)] = self.const(s.expr.value)
                continue
            self.here = s.span
            code = self.expr(s.expr)
            if code in seen:
                names[id(s)] = seen[code]
                continue
            self.w.at(s.span)
            var = self.fresh("v")
            names[id(s)] = seen[code] = var
            self.w.line(f"{var} = {code}")
        for _, child in el.children:
            if isinstance(child, ir.Element) and child.implicit:
                names.update(self.prepare(child, seen))
        return names

    def presence(self, el: ir.Element, names: dict[int, str]) -> str | None:
        """For an implicit element whose values may all be null: the test that it has one."""
        if not el.implicit:
            return None
        tests: list[str] = []

        def collect(e: ir.Element) -> bool:
            for _, s in e.attrs + ([("", e.text)] if e.text else []):
                if not s.expr.type.nullable:
                    return False
                tests.append(f"{names[id(s)]} is not None")
            for _, c in e.children:
                if not isinstance(c, ir.Element) or not c.implicit or c.when is not None:
                    return False
                if not collect(c):
                    return False
            return True
        if not collect(el):
            return None
        return " or ".join(tests) if tests else "False"

    def element(self, el: ir.Element, depth: int, names: dict[int, str] | None = None,
                counter: str | None = None, head: str = "") -> None:
        """Write ``el``; ``counter`` (a local) counts it when it is written (see ``ir.Occurs``);
        ``head`` is raw text for its start tag (a document root's namespace declarations)."""
        w = self.w
        w.at(el.span)
        opened = 0
        if el.when is not None:
            self.here = el.span
            w.line(f"if {self.branch('when', el.when)}:")
            w.indent()
            opened += 1
        if names is None:
            self.hit_rules(el)
            names = self.prepare(el)
        for c in el.checks:
            w.at(c.span)
            self.here = c.span
            if c.severity == "error":
                w.line(f"if not {self.branch('check', c.cond, ('held', 'failed'))}:")
                w.indent()
                w.line(f"raise check_failed({self.message(c.message)})")
                w.outdent()
            else:
                w.line(f"if not {self.branch('check', c.cond, ('held', 'failed'))}:")
                w.indent()
                w.line(f"warn({self.message(c.message)}, {c.span.file!r}, {c.span.line})")
                w.outdent()
        test = self.presence(el, names)
        if test is not None:
            w.line(f"if {test}:")
            w.indent()
            opened += 1
        pad = "\n" + _INDENT * depth
        start: list[str | Code] = [f"{pad}<{el.name}{head}"]
        for attr, slot in el.attrs:
            var = names[id(slot)]
            value = self.rendered(var, slot, True)
            if slot.expr.type.nullable:
                inner = concat([f' {attr}="', value, '"'])
                start.append(Code(f"('' if {var} is None else {inner})"))
            else:
                start += [f' {attr}="', value, '"']
        if el.text is not None:
            var = names[id(el.text)]
            parts = [*start, ">", self.rendered(var, el.text, False), f"</{el.name}>"]
            if el.text.expr.type.nullable and test is None:
                w.line(f"if {var} is not None:")
                w.indent()
                w.write(parts)
                self.count(counter)
                w.outdent()
            else:
                w.write(parts)
                self.count(counter)
        elif not el.children:
            w.write([*start, "/>"])
            self.count(counter)
        else:
            w.write([*start, ">"])
            self.count(counter)
            self.children(el, depth, names)
            w.write([f"{pad}</{el.name}>"])
        for _ in range(opened):
            w.outdent()

    def count(self, counter: str | None) -> None:
        if counter is not None:
            self.w.line(f"{counter} += 1")

    def children(self, el: ir.Element, depth: int, names: dict[int, str]) -> None:
        """The children in schema order; a counted child's bounds are checked after its last
        writer, across all the sibling blocks that write it."""
        w = self.w
        counters = {o.name: (o, self.fresh("n")) for o in el.occurs}
        for _, n in counters.values():
            w.line(f"{n} = 0")
        last = {_name(child): i for i, (_, child) in enumerate(el.children)}
        for i, (_, child) in enumerate(el.children):
            name = _name(child)
            counted = counters.get(name)
            var = counted[1] if counted else None
            if isinstance(child, ir.Repeat):
                self.repeat(child, depth + 1, var)
            else:
                self.element(child, depth + 1, names if child.implicit else None, var)
            if counted is not None and last[name] == i:
                self.bounds(el.name, *counted)

    def bounds(self, parent: str, occurs: ir.Occurs, var: str) -> None:
        w = self.w
        w.at(occurs.span)
        if occurs.minimum:
            w.line(f"if {var} < {occurs.minimum}:")
            w.indent()
            w.line(f"raise too_few({parent!r}, {occurs.name!r}, {occurs.minimum}, {var})")
            w.outdent()
        if occurs.maximum is not None:
            w.line(f"if {var} > {occurs.maximum}:")
            w.indent()
            w.line(f"raise too_many({parent!r}, {occurs.name!r}, {occurs.maximum}, {var})")
            w.outdent()

    def repeat(self, rep: ir.Repeat, depth: int, counter: str | None) -> None:
        w = self.w
        w.at(rep.span)
        var = f"r{rep.depth}"
        if rep.group_by:
            w.line(f"for {var} in group_by({self.expr(rep.source)}, {rep.group_by!r}, "
                   f"{rep.list_name!r}):")
        else:
            w.line(f"for {var} in {self.expr(rep.source)} or ():")
        w.indent()
        if rep.where is not None:
            self.here = rep.span
            w.line(f"if not {self.branch('where', rep.where)}:")
            w.indent()
            w.line("continue")
            w.outdent()
        self.element(rep.element, depth, counter=counter)
        w.outdent()

    # -- coverage probes --
    def probe(self, kind: str, outcome: str, span: Span | None) -> int:
        assert self.probes is not None
        at = span or self.here
        self.probes.append(Probe(kind, outcome, at.file if at else "", at.line if at else 0,
                                 at.column if at else 0))
        return len(self.probes) - 1

    def probe_pair(self, kind: str, outcomes: tuple[str, str]) -> tuple[int, int]:
        return self.probe(kind, outcomes[0], None), self.probe(kind, outcomes[1], None)

    def branch(self, kind: str, cond: ir.Expr, outcomes: tuple[str, str] = ("true", "false")) -> str:
        """A ``when``/``where`` condition or a check; in a coverage build it records which way
        it went."""
        if self.probes is None:
            return self.expr(cond)
        yes, no = self.probe_pair(kind, outcomes)
        return f"cov_if({yes}, {no}, {self.expr(cond)})"

    def message(self, message: ir.Message) -> str:
        """A check's message: a constant, or its text and ``{placeholder}`` values joined."""
        if all(isinstance(p, str) for p in message):
            return repr("".join(p for p in message if isinstance(p, str)))
        args = (repr(p) if isinstance(p, str) else self.expr(p) for p in message)
        return f"show_message({', '.join(args)})"

    def hit_rules(self, el: ir.Element) -> None:
        """Coverage builds: the rules of ``el`` (and its implicit children) ran."""
        if self.probes is None:
            return
        ids: list[int] = []

        def walk(e: ir.Element) -> None:
            for _, slot in [*e.attrs, *([("", e.text)] if e.text else [])]:
                ids.append(self.probe("rule", "", slot.span))
            for _, child in e.children:
                if isinstance(child, ir.Element) and child.implicit:
                    walk(child)
        walk(el)
        if ids:
            self.w.line(f"cov_hit({tuple(ids)!r})")

    # -- module --
    def module(self) -> str:
        p, w = self.p, self.w
        w.line(f"# Generated by exportc from {p.file}; do not edit.")
        w.line(f"# Profile {p.name}: target {p.root} in {p.schema_path.rsplit('/', 1)[-1]}")
        w.line("from exportc.runtime.api import *  # noqa: F403")
        w.line("from exportc.artefact import BlockEntry, Bound")
        w.line("")
        w.line("")
        w.line(f"def {BIND}(P, T, RUN, warn):")
        w.indent()
        w.line('"""Bind params, tables and the run context; return the block functions."""')
        for name in p.params:
            w.line(f"p_{name} = P[{name!r}]")
        for name in p.tables:
            w.line(f"t_{name} = T[{name!r}]")
        for name, attr in RUN_FIELDS.items():
            w.line(f"run_{name} = RUN.{attr}")
        if self.probes is not None:
            w.line("from exportc.runtime.probes import cov_hit, cov_if, cov_val")
        entries = [self.block(block) for block in p.blocks]
        checks = "None"
        if p.global_checks:
            checks = GLOBAL_CHECKS
            w.line("")
            w.line(f"def {GLOBAL_CHECKS}():")
            w.indent()
            w.line("change = previous = None")
            for c in p.global_checks:
                w.at(c.span)
                self.here = c.span
                w.line(f"if not {self.branch('check', c.cond, ('held', 'failed'))}:")
                w.indent()
                if c.severity == "error":
                    w.line(f"raise check_failed({self.message(c.message)})")
                else:
                    w.line(f"warn({self.message(c.message)}, {c.span.file!r}, {c.span.line})")
                w.outdent()
            w.outdent()
        w.line("")
        w.line("return Bound({")
        w.indent()
        for entry in entries:
            w.line(entry)
        w.outdent()
        w.line(f"}}, {checks})")
        w.outdent()
        header_len = 4
        consts = [f"{name} = {code}" for code, name in self.consts.items()]
        lines = w.lines[:header_len] + consts + w.lines[header_len:]
        self.linemap = w.linemap[:header_len] + [("", 0)] * len(consts) + w.linemap[header_len:]
        return "\n".join(lines) + "\n"

    def block(self, b: ir.TopBlock) -> str:
        """Define the block's functions; return its ``BlockEntry(...)`` entry for ``Bound``."""
        w = self.w
        w.at(b.span)
        w.line("")
        path = "/".join([*b.containers, b.element.name])
        emit = emit_name(b.index)
        w.line(f"def {emit}(r0, change, previous, w):")
        w.indent()
        w.line(f'"""{path}{" for " + b.source if b.source else ""}"""')
        if b.document is not None:  # a whole document: declaration, root with its namespaces
            kind = self.p.documents[b.document]
            w.write(['<?xml version="1.0" encoding="UTF-8"?>'])
            self.element(b.element, 0, head="".join(
                f' xmlns="{uri}"' if prefix == "" else f' xmlns:{prefix}="{uri}"'
                for prefix, uri in sorted(kind.namespaces.items())))
            w.write(["\n"])
        else:
            self.element(b.element, len(b.containers) + 1)
        w.flush()
        w.outdent()
        args = [emit]
        if b.where is not None:
            w.at(b.span)
            self.here = b.span
            self.function(where_name(b.index), self.branch("where", b.where))
            args.append(f"where={where_name(b.index)}")
        if b.file is not None:
            w.at(b.span)
            self.function(file_name_name(b.index), f"str({self.expr(b.file)})")
            args.append(f"file_name={file_name_name(b.index)}")
        checks = []
        for n, sc in enumerate(b.set_checks):
            w.at(sc.span)
            self.here = sc.span
            values = ", ".join(self.expr(a) for a in sc.args)
            per = "".join(self.expr(x) + ", " for x in sc.per)
            self.function(set_check_name(b.index, n), f"(({per}), ({values},))")
            checks.append(set_check_name(b.index, n) + ", ")
        if checks:
            args.append(f"set_checks=({''.join(checks)})")
        return f"{b.index}: BlockEntry({', '.join(args)}),"

    def function(self, name: str, result: str) -> None:
        """A one-expression entry point of a record (its change and previous state optional)."""
        w = self.w
        w.line("")
        w.line(f"def {name}(r0, change=None, previous=None):")
        w.indent()
        w.line(f"return {result}")
        w.outdent()


def _name(child: ir.Element | ir.Repeat) -> str:
    return child.element.name if isinstance(child, ir.Repeat) else child.name


def generate_probed(profile: ir.Profile) -> tuple[str, list[tuple[str, int]], list[Probe]]:
    """Like ``generate``, with coverage probes: which rules ran and which way each ``when``,
    ``where`` and ``if`` went. For ``exportc test --coverage`` only; runs never use it."""
    g = Generator(profile, probes=True)
    src = g.module()
    assert g.probes is not None
    return src, g.linemap, g.probes


def generate(profile: ir.Profile) -> tuple[str, list[tuple[str, int]]]:
    """The Python source of a profile's emit module and its line map."""
    g = Generator(profile)
    src = g.module()
    return src, g.linemap
