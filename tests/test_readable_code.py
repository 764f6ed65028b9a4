"""The generated module reads line by line: explicit imports, 4-space indentation, named values,
one XML line per source line, no repeated null tests, loop-invariant values computed once, and a
comment naming each statement's `.map` line. Readability must not change what it writes."""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, ROOT, rel
from helpers import first_block

from exportc import artefact
from exportc.compiler.pipeline import compile_file
from exportc.runtime import api
from exportc.runtime.api import RecordError


@pytest.fixture(scope="module")
def exact() -> str:
    result = compile_file(rel(EXACT_PROFILE))
    assert result.artefact is not None
    return result.artefact.python


def test_the_runtime_names_are_imported_one_by_one(exact: str) -> None:
    assert "import *" not in exact
    tree = ast.parse(exact)
    imported = {a.name for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "exportc.runtime.api"
                for a in n.names}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported == used & set(artefact.RUNTIME_API)  # exactly the ones used
    assert set(artefact.RUNTIME_API) == set(api.__all__) and all(hasattr(api, n) for n in api.__all__)


def test_code_is_indented_by_four_spaces(exact: str) -> None:
    assert "\n    def block_0(r0, change, previous, w):" in exact
    for line in exact.splitlines():
        if line.strip() and not line.lstrip().startswith("'"):  # continuation lines of w(...)
            indent = len(line) - len(line.lstrip(" "))
            assert indent % 4 == 0, line


def test_values_are_named_after_what_they_are(exact: str) -> None:
    assert not re.search(r"\bv\d+\b", exact)
    assert "factuurnummer = r0['Factuurnummer']" in exact
    assert "order_date = fn_coalesce(run_booking_date, getf(previous, 'Factuurdatum'))" in exact
    assert "ordered_by_code = p_cust_id_prefix + fn_pad(r0['cust_id'], p_cust_id_length)" in exact


def test_each_xml_line_is_one_source_line(exact: str) -> None:
    for line in exact.splitlines():
        assert line.count("\\n") <= 1, line


def test_a_null_test_is_not_repeated_inside_its_own_guard(exact: str) -> None:
    lines = exact.splitlines()
    for i, line in enumerate(lines):
        guard = re.match(r"( *)if (\w+) is not None:", line)
        if guard is None:
            continue
        for inner in lines[i + 1:]:
            if len(inner) - len(inner.lstrip(" ")) <= len(guard.group(1)) and inner.strip():
                break
            assert f"{guard.group(2)} is None" not in inner, inner


def test_no_loop_recomputes_a_value_that_does_not_depend_on_it(exact: str) -> None:
    loops = [n for n in ast.walk(ast.parse(exact)) if isinstance(n, ast.For)]
    assert loops
    for loop in loops:
        row = int(loop.target.id[1:])  # type: ignore[attr-defined]
        for stmt in loop.body:
            if isinstance(stmt, ast.Assign):
                rows = {int(n.id[1:]) for n in ast.walk(stmt.value) if isinstance(n, ast.Name)
                        and re.fullmatch(r"r\d+", n.id)}
                assert any(r >= row for r in rows), ast.unparse(stmt)


def test_each_statement_names_its_profile_line(exact: str) -> None:
    assert "if r0['Adres'] is not None:  # exact-online.map:112" in exact
    body = exact[exact.index("    def block_0"):exact.index("    return Bound(")]
    for line in body.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith('"""'):
            assert re.search(r"  # exact-online\.map:\d+$", line), line


# ---- values moved before a loop: only what cannot fail -------------------------------------

PROFILE = """profile t.hoist
target "{schema}" root Orders
table status: text -> text {{ "open" -> "O" }}
source orders key id {{ id: text  placed: date  total: decimal  state: text
                        lines: list key nr {{ nr: int  amount: decimal }} }}
Order for orders {{
  id > @id
  placed > Date
  total > Amount
  Lines {{ Line for lines {{ nr > @nr   amount > Amount   {text} > Text }} }}
}}
"""


def _bound(tmp_path: Path, text: str) -> tuple[str, artefact.Emit]:
    schema = ROOT / "tests" / "schemas" / "orders.xsd"
    return first_block(tmp_path / "hoist.map", PROFILE.format(schema=schema, text=text))


def _order(state: str, lines: int) -> dict[str, object]:
    return {"id": "A1", "placed": dt.date(2026, 1, 2), "total": Decimal("3"), "state": state,
            "lines": [{"nr": n, "amount": Decimal(n)} for n in range(lines)]}


def test_a_value_that_cannot_fail_is_computed_once_before_the_loop(tmp_path: Path) -> None:
    python, emit = _bound(tmp_path, "upper(state)")
    assert python.index("text = fn_upper(r0['state'])") < python.index("for r1 in")
    assert python.count("fn_upper(") == 1
    out: list[str] = []
    emit(_order("open", 2), "new", None, out.append)
    assert "".join(out).count("<Text>OPEN</Text>") == 2


def test_a_value_that_can_fail_stays_inside_the_loop(tmp_path: Path) -> None:
    python, emit = _bound(tmp_path, "status[state]")  # a lookup fails on a key it lacks
    assert python.index("for r1 in") < python.index("t_status[r0['state']]")
    out: list[str] = []
    emit(_order("open", 2), "new", None, out.append)
    assert "".join(out).count("<Text>O</Text>") == 2
    with pytest.raises(RecordError, match="no entry for 'unknown'"):
        emit(_order("unknown", 1), "new", None, out.append)
