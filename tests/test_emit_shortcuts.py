"""What the generated code leaves out because the compiler knows it cannot matter, and that the
output is the same without it: no escaping of a code from a table whose every value is plain
text (it must still escape one that is not, or one a passthrough table takes from the data), a
table lookup that is the dict's own (a key it lacks still fails the record, and a default
applies), the builtin ``sum`` over a list when no element can be null, and a text's escape and
length check made one call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import first_block
from hypothesis import given, settings
from hypothesis import strategies as st

from exportc import artefact
from exportc.runtime import api
from exportc.runtime.api import RecordError

PROFILE = """profile t.shortcuts
target "{schema}" root Orders
table plain: text -> text {{ "open" -> "O"  "shut" -> "S" }} default "?"
table marked: text -> text {{ "open" -> "A&B" }}
table thru: text -> text {{ "open" -> "O" }} passthrough
source orders key id {{ id: text  placed: date  total: decimal  state: text
                        lines: list key nr {{ nr: int  amount: decimal }} }}
Order for orders {{
  id > @id
  placed > Date
  sum(lines.amount * 2) > Amount
  Lines {{ Line for lines {{ nr > @nr   amount > Amount   {text} > Text }} }}
}}
"""


def _bound(tmp_path: Path, text: str) -> tuple[str, artefact.Emit]:
    schema = ROOT / "tests" / "schemas" / "orders.xsd"
    return first_block(tmp_path / "shortcuts.map", PROFILE.format(schema=schema, text=text))


def _emit(emit: artefact.Emit, state: str) -> str:
    order = {"id": "A1", "placed": dt.date(2026, 1, 2), "total": Decimal("3"), "state": state,
             "lines": [{"nr": 1, "amount": Decimal("1.25")}, {"nr": 2, "amount": Decimal("0.5")}]}
    out: list[str] = []
    emit(order, "new", None, out.append)  # type: ignore[operator]
    return "".join(out)


def test_a_code_from_a_plain_table_is_not_escaped(tmp_path: Path) -> None:
    python, emit = _bound(tmp_path, "plain[state]")
    assert "esc_text(" not in python and "+ text +" in python
    assert _emit(emit, "open").count("<Text>O</Text>") == 2
    assert "<Text>?</Text>" in _emit(emit, "gone")  # its default is plain too


@pytest.mark.parametrize(("table", "state", "written"), [
    ("marked", "open", "<Text>A&amp;B</Text>"),  # a value with markup
    ("thru", "a<b", "<Text>a&lt;b</Text>"),  # an unknown key passed through: data, not the table's
])
def test_a_table_that_can_give_markup_is_escaped(tmp_path: Path, table: str, state: str, written: str) -> None:
    python, emit = _bound(tmp_path, f"{table}[state]")
    assert "esc_text(text)" in python
    assert written in _emit(emit, state)


def test_a_key_the_table_lacks_fails_the_record(tmp_path: Path) -> None:
    _python, emit = _bound(tmp_path, "marked[state]")
    with pytest.raises(RecordError, match="table `marked` has no entry for 'shut'") as err:
        _emit(emit, "shut")
    assert err.value.code == "E0605"


def test_a_sum_over_values_that_cannot_be_null_is_the_builtin_sum(tmp_path: Path) -> None:
    python, emit = _bound(tmp_path, "state")
    assert "sum([(r1['amount'] * 2) for r1 in (r0['lines'] or ())], D0)" in python
    assert "<Amount>3.50</Amount>" in _emit(emit, "open")


def _outcome(call: Callable[[], str]) -> tuple[str, str]:
    try:
        return "ok", call()
    except RecordError as exc:
        return exc.code, f"{exc.message} {exc.at}"


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(codec=None) | st.sampled_from("&<>\"\r\n\t\x00\ufffe")), st.integers(0, 12))
def test_an_escape_with_its_length_check_in_one_call_is_the_two_calls(text: str, limit: int) -> None:
    """esc_text_len/esc_attr_len (a text element or attribute with a length facet) escape,
    check the length before escaping, and fail a bad character first, as the two calls did."""
    at = ("p.map", 3)
    assert _outcome(lambda: api.esc_text_len(text, limit, "A/B", at)) == _outcome(
        lambda: api.check_len(api.esc_text(text), text, limit, "A/B", at))
    assert _outcome(lambda: api.esc_attr_len(text, limit, "A/@b", at)) == _outcome(
        lambda: api.check_len(api.esc_attr(text), text, limit, "A/@b", at))
