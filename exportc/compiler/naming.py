"""Names for the values of generated code, and which values it may compute early.

A value is named after what it is: the source field it reads (``Factuurnummer`` ->
``factuurnummer``) or the target it is written to (``OrderDate`` -> ``order_date``,
``InvoiceTo/@code`` -> ``invoice_to_code``), made unique in its function and kept clear of the
names the generated module binds itself (``p_…`` params, ``t_…`` tables, ``run_…``, ``r0``…).

A value may be computed before a loop it does not depend on, or once for a record when the same
expression occurs again, only when computing it cannot fail and has no effect: then computing it
early (even for a loop that runs zero times) changes nothing but the time it takes.
"""

from __future__ import annotations

import builtins
import dataclasses
import keyword
import re
from collections.abc import Iterator

from exportc.artefact import RUNTIME_API
from exportc.compiler import ir

_TAKEN = frozenset([*keyword.kwlist, *dir(builtins), *RUNTIME_API,
                    "w", "change", "previous", "warn", "P", "T", "RUN", "BlockEntry", "Bound"])
# Prefixes and shapes of the names the generated module gives params, tables, run fields, rows,
# constants and its own functions.
_OWN = re.compile(r"(?:p|t|run|block|where|file|set|dispatch|cov|fn|n|r\d+)_|r\d+$|[KF]\d+$")


def snake(name: str) -> str:
    """``OrderDate`` -> ``order_date``, ``GLAccount`` -> ``gl_account``, ``cbc:ID`` -> ``id``,
    ``BTW_code`` -> ``btw_code``."""
    local = name.rsplit(":", 1)[-1].lstrip("@")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", local).lower()
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", words)).strip("_")


def stems(slot: ir.Slot) -> list[str]:
    """Candidate names for a slot's value, best first."""
    e = slot.expr
    if isinstance(e, ir.FieldRef):
        return [snake(e.name)]
    if isinstance(e, ir.PreviousRef):
        return ["previous_" + snake(e.name)]
    path = [p for p in slot.target.split("/") if p]
    last = path[-1]
    parent = snake(path[-2]) if len(path) > 1 else ""
    if last.startswith("@"):
        return [f"{parent}_{snake(last)}"]
    return [snake(last), f"{parent}_{snake(last)}"]


class Names:
    """The names taken in one generated function."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, *candidates: str) -> str:
        """The first free candidate; else the first with a number."""
        usable = [c for c in candidates if c and not c[0].isdigit() and c.isidentifier()]
        usable = [c for c in usable if c not in _TAKEN and not _OWN.match(c)] + [c + "_value" for c in usable]
        usable = usable or ["value"]
        for c in usable:
            if c not in self.taken:
                self.taken.add(c)
                return c
        n = 2
        while f"{usable[0]}_{n}" in self.taken:
            n += 1
        self.taken.add(f"{usable[0]}_{n}")
        return f"{usable[0]}_{n}"


# Library functions that cannot fail on values of the types the compiler allows them.
_SAFE_FUNCTIONS = frozenset(f"fn_{n}" for n in (
    "pad", "upper", "lower", "trim", "join", "coalesce", "abs", "text", "min", "max", "substring",
    "before", "after", "replace", "length", "contains"))
_SAFE_OPS = frozenset(("add", "sub", "mul", "concat", "neg", "eq", "ne", "and", "or", "not",
                       "is_null", "not_null", "in", "not_in", "get", "date_diff"))
_ORDER = frozenset(("lt", "le", "gt", "ge"))


def children(e: ir.Expr) -> Iterator[ir.Expr]:
    for f in dataclasses.fields(e):
        value = getattr(e, f.name)
        if isinstance(value, tuple):
            yield from (v for v in value if _is_expr(v))
        elif _is_expr(value):
            yield value


def _is_expr(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type) and hasattr(value, "type")


def cannot_fail(e: ir.Expr) -> bool:
    """Whether computing ``e`` can neither raise nor have an effect (a table lookup can fail the
    record, a division divide by zero, ``fixed`` refuse an amount, ``<`` meet a null)."""
    match e:
        case ir.Lookup():
            return False
        case ir.Op(op=op, args=args):
            # `<` on a null raises; the other safe operators and functions take any value
            safe = not any(a.type.nullable for a in args) if op in _ORDER else op in _SAFE_OPS | _SAFE_FUNCTIONS
            return safe and all(cannot_fail(a) for a in args)
    return all(cannot_fail(c) for c in children(e))


def nodes(root: object) -> Iterator[object]:
    """Every IR node under ``root``, itself included: the fields of a node and the items of a
    list or tuple, depth first (the walk every question about a whole profile asks). The walk
    does not go into what is not the IR's own (a span, a type, a schema type): no question
    looks there, and they were two thirds of the nodes."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        kind = type(node)
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = _fields(kind)
        stack.extend([getattr(node, n) for n in names])


_FIELDS: dict[type, tuple[str, ...]] = {}  # an IR class -> the fields the walk goes into


def _fields(kind: type) -> tuple[str, ...]:
    if kind.__module__ != ir.__name__ or not dataclasses.is_dataclass(kind):
        return ()
    return tuple(f.name for f in dataclasses.fields(kind))


def runs_read(node: object) -> set[str]:
    """The run fields (``run.booking_date``…) read anywhere in an IR node, its change kind apart."""
    return {n.name for n in nodes(node) if isinstance(n, ir.RunRef) and n.name != "change"}


def rows_used(e: ir.Expr) -> set[int]:
    """The depths of the records (``r0``, ``r1``…) ``e`` reads, apart from the ones an aggregate
    inside it binds itself."""
    match e:
        case ir.FieldRef(depth=d):
            return {d}
        case ir.Aggregate(source=s, elem_depth=d, body=body):
            inner = rows_used(body) if body is not None else set()
            return rows_used(s) | {x for x in inner if x < d}
    out: set[int] = set()
    for c in children(e):
        out |= rows_used(c)
    return out
