"""Block dispatch by what the compiler knows: a record goes only to the blocks its params, run
and change kind leave open, decided before the record, not by asking every block's `where`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import EXACT_PROFILE, EXAMPLES, rel
from helpers import run

from exportc.artefact import Artefact, Bind, Bound, RunValues
from exportc.compiler import ir
from exportc.compiler.dispatch import selection
from exportc.compiler.pipeline import compile_file
from exportc.compiler.types import BOOL, INT, TEXT
from exportc.runtime import execute


def test_the_compiler_decides_what_needs_no_record() -> None:
    result = compile_file(rel(EXACT_PROFILE))
    assert result.profile is not None
    blocks = {b.index: b for b in result.profile.blocks}
    journal, journal_fix, invoice_fix, invoice = (selection(blocks[i].where) for i in (3, 4, 1, 2))
    assert [type(c).__name__ for c in journal.bound] == ["Op"] and journal.changes is None
    assert journal_fix.changes == invoice_fix.changes == {"changed", "deleted"}
    assert len(invoice.bound) == 1 and invoice.changes is None
    assert selection(blocks[0].where).bound == ()  # debtors: `cust_id in debtors` reads the record


def test_a_condition_after_one_that_can_fail_is_not_decided_early() -> None:
    may_fail = ir.Op("gt", (ir.Lookup("t", ir.FieldRef(0, "k", INT), INT), ir.Const(1, INT)), BOOL)
    param = ir.ParamRef("on", BOOL)
    assert selection(ir.Op("and", (param, may_fail), BOOL)).bound == (param,)
    assert selection(ir.Op("and", (may_fail, param), BOOL)).bound == ()


_PARAM = ir.ParamRef("invoice_export", BOOL)
_CHANGE = ir.RunRef("change", TEXT)


@pytest.mark.parametrize(("where", "bound", "changes"), [
    (ir.Op("not", (_PARAM,), BOOL), 1, None),  # a param rules it out, or in, for every record
    (ir.Op("in", (ir.FieldRef(0, "cust_id", INT), ir.ListExpr((ir.Const(1, INT),), INT)), BOOL), 0, None),
    (ir.Op("in", (_CHANGE, ir.ListExpr((ir.Const("changed", TEXT), ir.Const("deleted", TEXT)), TEXT)), BOOL),
     0, {"changed", "deleted"}),
    (ir.Op("is_null", (ir.PreviousRef("Factuurbedrag", INT),), BOOL), 0, None),
    (ir.Op("div", (ir.Const(1, INT), ir.Const(0, INT)), BOOL), 0, None),  # fails: left to the record
])
def test_only_what_reads_no_record_is_decided_before_it(where: ir.Expr, bound: int,
                                                        changes: set[str] | None) -> None:
    chosen = selection(where)
    assert len(chosen.bound) == bound and chosen.changes == changes


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Counts the calls of each block's `where` from here on."""
    calls: Counter[int] = Counter()
    real = execute.load_bind

    def load_bind(a: Artefact) -> Bind:
        bind = real(a)

        def counted(P: Any, T: Any, RUN: RunValues, warn: Any) -> Bound:
            bound = bind(P, T, RUN, warn)

            def spy(i: int, where: Any) -> Any:
                def wrapped(*args: Any) -> Any:
                    calls[i] += 1
                    return where(*args)
                return wrapped
            return dataclasses.replace(bound, blocks={
                i: dataclasses.replace(e, where=spy(i, e.where) if e.where else None)
                for i, e in bound.blocks.items()})
        return counted
    monkeypatch.setattr(execute, "load_bind", load_bind)
    return calls


def test_an_invoice_mode_test_run_asks_only_the_invoice_block(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    report = run(EXACT_PROFILE, tmp_path, {"customers": EXAMPLES / "customers.jsonl",
                                           "invoices": EXAMPLES / "invoices.jsonl"},
                 params={"invoice_export": "true"})
    assert report.status == "succeeded", report.problems
    invoices = len((EXAMPLES / "invoices.jsonl").read_text("utf-8").splitlines())
    # journal blocks (3, 4): ruled out by the param; the invoice correction block (1): only for
    # changed and deleted records, and with no history every record is new
    assert calls[3] == calls[4] == calls[1] == 0
    assert calls[2] == invoices
