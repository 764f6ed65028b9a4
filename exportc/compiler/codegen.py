"""Generate readable Python from the checked IR.

Each top-level block becomes one function that writes one record's XML into a list of strings.
Tag names, attribute names and indentation are known here, so they become pre-built string
constants; only values are escaped at run time, and only text values (numbers and dates cannot
need it). Lookups and paths are resolved here; the generated code calls ``exportc.runtime.api``
and nothing else. A line map records which profile line each generated line came from, so a
runtime error names the ``.map`` line.
"""

from __future__ import annotations

import io
import textwrap
import tokenize
from dataclasses import dataclass, field

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
from exportc.compiler.dispatch import selection
from exportc.compiler.expressions import Expressions, Probe
from exportc.compiler.naming import Names, cannot_fail, rows_used, runs_read, snake, stems
from exportc.diagnostics import Span
from exportc.values import ATTR_WORK

_XML_INDENT = "  "  # of the XML written (the Python's own is codewriter.INDENT)


class Generator(Expressions):
    """Turns an ``ir.Profile`` into the source of a module with ``bind(P, T, RUN, warn)``."""

    def __init__(self, profile: ir.Profile, probes: bool = False) -> None:
        super().__init__(probes)
        self.p = profile
        self.w = CodeWriter()
        self.fn = _Function()  # the block function being generated

    def plain_table(self, name: str) -> bool:
        """Whether every value table ``name`` gives is plain text, known at compile time: its
        entries (inline, or its CSV, read here and again by the run, which a compile cache
        entry is keyed by) and its default, and it passes no unknown key through (that is data)."""
        table = self.p.tables[name]
        if table.entries is None or table.policy == "passthrough":
            return False
        values = [*table.entries.values(), *([table.default] if table.policy == "default" else [])]
        return all(isinstance(v, str) and ATTR_WORK.search(v) is None for v in values)

    # -- names --
    def value(self, slot: ir.Slot) -> str:
        """The local holding a slot's value: one computed already where this code runs (the
        same expression twice is computed once), or a new one, before the outermost loop it
        does not depend on when computing it cannot fail."""
        code = self.slot_value(slot)
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
        read = runs_read([p.blocks, p.global_checks])
        for name, attr in RUN_FIELDS.items():
            if name in read:  # only the run fields the profile reads
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
        args += self.dispatch(b)
        return f"{b.index}: BlockEntry({', '.join(args)}),"

    def dispatch(self, b: ir.TopBlock) -> list[str]:
        """What of the block's ``where`` is decided before its records (see ``dispatch``): whether
        it takes any record in this run, and the change kinds it takes. Coverage builds offer
        every record to every block, so each ``where`` records which way it went."""
        if self.probes is not None:
            return []
        chosen = selection(b.where)
        out = []
        if chosen.bound:
            out.append("active=" + bare(" and ".join(self.expr(c) for c in chosen.bound)))
        if chosen.changes is not None:
            out.append(f"changes=frozenset({sorted(chosen.changes)!r})")
        return out

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
