"""Which blocks a record can go to, decided from what the compiler knows.

A block's ``where`` is a chain of conditions joined by ``and``. Some of them read no record at
all, only params and the run (``not invoice_export``): they are decided once, when the module
is bound, and a block they rule out is never offered a record (an invoice-mode run does not
offer its invoices to the journal blocks). Others only compare the record's change kind with
constants (``change in ("changed", "deleted")``): the runtime skips the block for other kinds
without calling its ``where``. Either is exact only when the conditions before it cannot fail:
``a and b`` with ``b`` false still evaluates ``a``, and ``a`` failing fails the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from exportc.compiler import ir
from exportc.compiler.naming import cannot_fail, children

CHANGE_KINDS = frozenset(("new", "changed", "unchanged", "deleted"))


@dataclass(frozen=True)
class Selection:
    """What of a block's ``where`` is known before its record: the conditions on params and the
    run (all must hold), and the change kinds it can take (None: any)."""

    bound: tuple[ir.Expr, ...]
    changes: frozenset[str] | None


def conjuncts(e: ir.Expr) -> list[ir.Expr]:
    """``a and b and c`` as ``[a, b, c]``, in the order they are evaluated."""
    if isinstance(e, ir.Op) and e.op == "and":
        return [x for a in e.args for x in conjuncts(a)]
    return [e]


def selection(where: ir.Expr | None) -> Selection:
    """The part of ``where`` decided without the record, as far as it is exact."""
    bound: list[ir.Expr] = []
    changes: frozenset[str] | None = None
    for c in conjuncts(where) if where is not None else []:
        kinds = _change_kinds(c)
        safe = cannot_fail(c)
        if kinds is not None:
            changes = kinds if changes is None else changes & kinds
        elif _reads_no_record(c) and safe:  # evaluated in bind: it must not fail there
            bound.append(c)
        if not safe:
            break  # what follows runs only when this held: deciding it earlier is not exact
    return Selection(tuple(bound), changes)


def _reads_no_record(e: ir.Expr) -> bool:
    if isinstance(e, ir.FieldRef | ir.PreviousRef) or (isinstance(e, ir.RunRef) and e.name == "change"):
        return False
    return all(_reads_no_record(c) for c in children(e))


def _change_kinds(e: ir.Expr) -> frozenset[str] | None:
    """The kinds ``change in ("a", "b")`` / ``change == "a"`` (or their negations) admit."""
    if not isinstance(e, ir.Op) or len(e.args) != 2:
        return None
    left, right = e.args
    if not (isinstance(left, ir.RunRef) and left.name == "change"):
        return None
    if e.op in ("eq", "ne") and isinstance(right, ir.Const) and isinstance(right.value, str):
        kinds = frozenset((right.value,))
    elif e.op in ("in", "not_in") and isinstance(right, ir.ListExpr) and all(
            isinstance(i, ir.Const) and isinstance(i.value, str) for i in right.items):
        kinds = frozenset(str(i.value) for i in right.items if isinstance(i, ir.Const))
    else:
        return None
    return kinds & CHANGE_KINDS if e.op in ("eq", "in") else CHANGE_KINDS - kinds
