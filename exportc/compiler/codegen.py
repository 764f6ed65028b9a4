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
import io
import textwrap
import tokenize
from dataclasses import dataclass, field
from decimal import Decimal

from exportc.artefact import (
    BIND,
    GLOBAL_CHECKS,
    RUN_FIELDS,
    RUNTIME_API,
    emit_name,
    file_name_name,
    set_check_name,
    where_name,
)
from exportc.compiler import ir
from exportc.compiler.codewriter import INDENT, Code, CodeWriter, Origin, bare, concat, with_comments
from exportc.compiler.naming import Names, cannot_fail, rows_used, snake, stems
from exportc.compiler.targets import facets_of
from exportc.diagnostics import Span
from exportc.values import format_value, xml_escape

_XML_INDENT = "  "  # of the XML written (the Python's own is codewriter.INDENT)


@dataclass(frozen=True)
class Probe:
    """A coverage probe: a rule or check that ran (``outcome`` empty), or one way a ``when``,
    ``where`` or ``if`` went (``true``/``false``, ``then``/``else``), at a profile location."""

    kind: str
    outcome: str
    file: str
    line: int
    column: int


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
        self.facets: dict[str, str] = {}
        self.fn = _Function()  # the block function being generated

    # -- names --
    def value(self, slot: ir.Slot) -> str:
        """The local holding a slot's value: one computed already where this code runs (the
        same expression twice is computed once), or a new one, before the outermost loop it
        does not depend on when computing it cannot fail."""
        code = self.expr(slot.expr)
        if isinstance(slot.expr, ir.ParamRef | ir.RunRef):
            return code  # bound once per run already
        for scope in reversed(self.fn.scopes):
            if code in scope:
                return scope[code]
        var = self.fn.names.new(*stems(slot))
        origin = (slot.span.file, slot.span.line)
        loop = self.hoist_to(slot.expr)
        if loop is None:
            self.fn.scopes[-1][code] = var
            self.w.line(f"{var} = {bare(code)}", origin)
            return var
        self.fn.scopes[loop.scope][code] = var
        self.w.insert(loop.line, loop.indent, f"{var} = {bare(code)}", origin)
        for later in self.fn.loops:
            if later.line >= loop.line:
                later.line += 1
        return var

    def hoist_to(self, e: ir.Expr) -> _Loop | None:
        """The outermost enclosing loop ``e`` does not depend on, when it may move before it."""
        if self.probes is not None or not self.fn.loops or not cannot_fail(e):
            return None
        used = rows_used(e)
        for loop in self.fn.loops:
            if all(d < loop.depth for d in used):
                return loop
        return None

    def push(self, known: str | None = None) -> None:
        """Into an ``if`` or ``for`` body; ``known`` is a value it knows to be present."""
        self.w.indent()
        self.fn.scopes.append({})
        self.fn.present.append(known)

    def pop(self) -> None:
        self.w.outdent()
        self.fn.scopes.pop()
        self.fn.present.pop()

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
    def prepare(self, el: ir.Element) -> dict[int, str]:
        """Evaluate the element's values (and its implicit children's) into locals."""
        names: dict[int, str] = {}
        slots = [s for _, s in el.attrs] + ([el.text] if el.text else [])
        for s in slots:
            if isinstance(s.expr, ir.Const):
                names[id(s)] = self.const(s.expr.value)
                continue
            self.here = s.span
            names[id(s)] = self.value(s)
        for _, child in el.children:
            if isinstance(child, ir.Element) and child.implicit:
                names.update(self.prepare(child))
        return names

    def presence(self, el: ir.Element, names: dict[int, str]) -> list[str] | None:
        """For an implicit element whose values may all be null: the values of which one must
        be present for it to be written."""
        if not el.implicit:
            return None
        tests: list[str] = []

        def collect(e: ir.Element) -> bool:
            for _, s in e.attrs + ([("", e.text)] if e.text else []):
                if not s.expr.type.nullable:
                    return False
                tests.append(names[id(s)])
            for _, c in e.children:
                if not isinstance(c, ir.Element) or not c.implicit or c.when is not None:
                    return False
                if not collect(c):
                    return False
            return True
        if not collect(el):
            return None
        return tests

    def nullable(self, slot: ir.Slot, var: str) -> bool:
        """Whether ``var`` may be null here: a null test around this code settled it already."""
        return slot.expr.type.nullable and var not in self.fn.present

    def element(self, el: ir.Element, depth: int, names: dict[int, str] | None = None,
                counter: str | None = None, head: str = "") -> None:
        """Write ``el``; ``counter`` (a local) counts it when it is written (see ``ir.Occurs``);
        ``head`` is raw text for its start tag (a document root's namespace declarations)."""
        w = self.w
        w.at(_origin(el.span))
        opened = 0
        if el.when is not None:
            self.here = el.span
            w.line(f"if {bare(self.branch('when', el.when))}:")
            self.push()
            opened += 1
        if names is None:
            self.hit_rules(el)
            names = self.prepare(el)
        self.checks(el.checks)
        w.at(_origin(el.span))
        # the rule that writes the element's line: its text's, an implicit element's first value's
        origin = _origin(el.text.span if el.text else el.attrs[0][1].span if el.implicit and el.attrs
                         else el.span)
        tests = self.presence(el, names)
        if tests is not None:
            w.line("if " + (" or ".join(f"{t} is not None" for t in tests) or "False") + ":", origin)
            self.push(tests[0] if len(tests) == 1 else None)
            opened += 1
        pad = "\n" + _XML_INDENT * depth
        start: list[str | Code] = [f"{pad}<{el.name}{head}"]
        for attr, slot in el.attrs:
            var = names[id(slot)]
            value = self.rendered(var, slot, True)
            if self.nullable(slot, var):
                inner = concat([f' {attr}="', value, '"'])
                start.append(Code(f"('' if {var} is None else {inner})"))
            else:
                start += [f' {attr}="', value, '"']
        if el.text is not None:
            var = names[id(el.text)]
            parts = [*start, ">", self.rendered(var, el.text, False), f"</{el.name}>"]
            if self.nullable(el.text, var) and tests is None:
                w.line(f"if {var} is not None:", origin)
                self.push(var)
                w.write(parts, origin)
                self.count(counter)
                self.pop()
            else:
                w.write(parts, origin)
                self.count(counter)
        elif not el.children:
            w.write([*start, "/>"], origin)
            self.count(counter)
        else:
            w.write([*start, ">"], origin)
            self.count(counter)
            self.children(el, depth, names)
            w.write([f"{pad}</{el.name}>"], _origin(el.span) or origin)
        for _ in range(opened):
            self.pop()

    def checks(self, checks: list[ir.Check]) -> None:
        """An element's checks: an error fails the record, a warning is reported."""
        w = self.w
        for c in checks:
            w.at(_origin(c.span))
            self.here = c.span
            w.line(f"if {_negate(self.branch('check', c.cond, ('held', 'failed')))}:")
            w.indent()
            if c.severity == "error":
                w.line(f"raise check_failed({self.message(c.message)})")
            else:
                w.line(f"warn({self.message(c.message)}, {c.span.file!r}, {c.span.line})")
            w.outdent()

    def count(self, counter: str | None) -> None:
        if counter is not None:
            self.w.line(f"{counter} += 1")

    def children(self, el: ir.Element, depth: int, names: dict[int, str]) -> None:
        """The children in schema order; a counted child's bounds are checked after its last
        writer, across all the sibling blocks that write it."""
        w = self.w
        counters = {o.name: (o, self.fn.names.new(snake(o.name) + "_count")) for o in el.occurs}
        for o, n in counters.values():
            w.line(f"{n} = 0", _origin(o.span))
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
        w.at(_origin(occurs.span))
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
        w.at(_origin(rep.span))
        var = f"r{rep.depth}"
        w.flush()
        loop = _Loop(len(w.lines), w.depth, rep.depth, len(self.fn.scopes) - 1)
        if rep.group_by:
            w.line(f"for {var} in group_by({self.expr(rep.source)}, {rep.group_by!r}, "
                   f"{rep.list_name!r}):")
        else:
            w.line(f"for {var} in {self.expr(rep.source)} or ():")
        self.fn.loops.append(loop)
        self.push()
        if rep.where is not None:
            self.here = rep.span
            w.line(f"if {_negate(self.branch('where', rep.where))}:")
            w.indent()
            w.line("continue")
            w.outdent()
        self.element(rep.element, depth, counter=counter)
        self.pop()
        self.fn.loops.pop()

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
        w.line("")
        w.line("")
        w.line(f"def {BIND}(P, T, RUN, warn):")
        w.indent()
        w.line('"""Bind params, tables and the run context; return the block functions."""')
        for name in p.params:
            w.line(f"p_{name} = P[{name!r}]", _origin(p.params[name].span))
        for name in p.tables:
            w.line(f"t_{name} = T[{name!r}]", _origin(p.tables[name].span))
        for name, attr in RUN_FIELDS.items():
            w.line(f"run_{name} = RUN.{attr}")
        if self.probes is not None:
            w.line("from exportc.runtime.probes import cov_hit, cov_if, cov_val")
        entries = [self.block(block) for block in p.blocks]
        checks = "None"
        if p.global_checks:
            checks = GLOBAL_CHECKS
            self.fn = _Function()
            w.line("")
            w.line(f"def {GLOBAL_CHECKS}():")
            w.indent()
            w.line("change = previous = None")
            self.checks(p.global_checks)
            w.outdent()
        w.origin = ("", 0)
        w.line("")
        w.line("return Bound({")
        w.indent()
        for entry in entries:
            w.line(entry)
        w.outdent()
        w.line(f"}}, {checks})")
        w.outdent()
        head = [f"# Generated by exportc from {p.file}; do not edit.",
                f"# Profile {p.name}: target {p.root} in {p.schema_path.rsplit('/', 1)[-1]}",
                *self.imports(w.lines),
                *(f"{name} = {code}" for code, name in self.consts.items())]
        lines = head + with_comments(w.lines, w.linemap)
        self.linemap = [("", 0)] * len(head) + w.linemap
        return "\n".join(lines) + "\n"

    def imports(self, lines: list[str]) -> list[str]:
        """The import lines: exactly the runtime names the code below uses."""
        code = "\n".join([*lines, *self.consts])
        used = {t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                if t.type == tokenize.NAME}
        names = sorted((n for n in RUNTIME_API if n in used), key=lambda n: (not n.isupper(), n))
        out = ["from exportc.artefact import BlockEntry, Bound"]
        if names:
            body = textwrap.wrap(", ".join(names), 96, initial_indent=INDENT, subsequent_indent=INDENT,
                                 break_on_hyphens=False)
            out += ["from exportc.runtime.api import (", *body, ")"]
        return out

    def block(self, b: ir.TopBlock) -> str:
        """Define the block's functions; return its ``BlockEntry(...)`` entry for ``Bound``."""
        w = self.w
        self.fn = _Function()
        w.at(_origin(b.span))
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
            w.at(_origin(b.span))
            self.here = b.span
            self.function(where_name(b.index), self.branch("where", b.where))
            args.append(f"where={where_name(b.index)}")
        if b.file is not None:
            w.at(_origin(b.span))
            self.function(file_name_name(b.index), f"str({self.expr(b.file)})")
            args.append(f"file_name={file_name_name(b.index)}")
        checks = []
        for n, sc in enumerate(b.set_checks):
            w.at(_origin(sc.span))
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
        w.line(f"return {bare(result)}")
        w.outdent()


@dataclass
class _Loop:
    """A ``for`` being generated: where its line is, so a value it does not depend on can be
    computed before it (into the scope around it)."""

    line: int  # index of the ``for`` line in the writer
    indent: int
    depth: int  # of its row variable (``r1``)
    scope: int  # index of the scope around it


@dataclass
class _Function:
    """What is known while one block function is generated: its names, the values computed so
    far per nested ``if``/``for`` body (expression code -> local), which values a null test
    around the code settled, and the loops open."""

    names: Names = field(default_factory=Names)
    scopes: list[dict[str, str]] = field(default_factory=lambda: [{}])
    present: list[str | None] = field(default_factory=list)
    loops: list[_Loop] = field(default_factory=list)


def _origin(span: Span | None) -> Origin | None:
    return (span.file, span.line) if span is not None else None


def _negate(code: str) -> str:
    """``not code``, without a double negation."""
    inner = bare(code)
    if inner.startswith("not ") and (inner[4:].isidentifier() or bare(inner[4:]) != inner[4:]):
        return bare(inner[4:])
    return f"not {code}"


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
