"""The generated canonical encoder, and msgspec's for records as the typed reader decodes them,
write exactly the reference bytes (``json.dumps`` with sorted keys), for every type a source can
declare: the history's hashes depend on it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.runtime.canonical import canonical, encoder, own, typed_encoder
from exportc.runtime.typedjson import TypedLines

LINE = ShapeSpec("invoices.Regels", ("n",), None,
                 {"n": TypeSpec("int"), "amount": TypeSpec("decimal"), "from": TypeSpec("date", True),
                  "note": TypeSpec("text", True)}, {}, {})
SHAPE = ShapeSpec("invoices", ("number",), "day",
                  {"number": TypeSpec("text"), "day": TypeSpec("date"), "at": TypeSpec("datetime", True),
                   "paid": TypeSpec("bool", True), "total": TypeSpec("decimal", True),
                   "codes": TypeSpec("list", True, TypeSpec("int")), "extra": TypeSpec("any", True),
                   "Zeta": TypeSpec("text"), "ünï": TypeSpec("text", True)},
                 {"lines": LINE}, {"customer": ("customers", ("number",))})

texts = st.text(st.characters(codec="utf-8"), max_size=12)


def _line() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"n": st.integers(), "amount": st.decimals(allow_nan=False, allow_infinity=False),
                                  "from": st.none() | st.dates(), "note": st.none() | texts})


RECORDS = st.fixed_dictionaries({
    "number": texts, "day": st.dates(), "at": st.none() | st.datetimes(),
    "paid": st.none() | st.booleans(), "total": st.none() | st.decimals(allow_nan=False, allow_infinity=False),
    "codes": st.none() | st.lists(st.integers(), max_size=3).map(tuple), "extra": st.none() | texts | st.integers(),
    "Zeta": texts, "ünï": st.none() | texts, "lines": st.lists(_line(), max_size=3),
    "customer": st.none() | st.fixed_dictionaries({"number": texts, "since": st.dates()}),
})


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_the_generated_encoder_writes_the_reference_bytes(record: dict[str, Any]) -> None:
    assert encoder(SHAPE)(record) == canonical(own(record, ("customer",)))


def test_a_ref_is_not_part_of_the_record() -> None:
    """A referenced record (the invoice's customer) is another source's content: a changed
    customer must not make its invoices look changed."""
    base = {"number": "A1", "day": dt.date(2026, 1, 2), "at": None, "paid": None, "total": None,
            "codes": None, "extra": None, "Zeta": "z", "ünï": None, "lines": []}
    one = encoder(SHAPE)({**base, "customer": {"number": "7", "since": dt.date(2020, 1, 1)}})
    assert one == encoder(SHAPE)({**base, "customer": None}) == canonical(base)


def test_values_of_another_type_than_declared_take_the_reference_path() -> None:
    odd = {"number": 7, "day": dt.datetime(2026, 1, 2, 3, 4), "at": None, "paid": 1, "total": 2,
           "codes": [1, None], "extra": {"b": Decimal("1.50"), "a": [dt.date(2026, 1, 1)]}, "Zeta": "z",
           "ünï": None, "lines": [], "customer": None}
    refs = ("customer",)
    assert encoder(SHAPE)(odd) == canonical(own(odd, refs))
    assert encoder(SHAPE)({**odd, "unknown": 1}) == canonical(own({**odd, "unknown": 1}, refs))
    missing = dict(odd)
    del missing["Zeta"]
    assert encoder(SHAPE)({**missing, "other": 1}) == canonical(own({**missing, "other": 1}, refs))


def test_a_field_name_an_fstring_cannot_hold_still_encodes() -> None:
    shape = ShapeSpec("s", ("a",), None, {"a{b}": TypeSpec("text"), "it's\\": TypeSpec("int")}, {}, {})
    record = {"a{b}": "x\"y\n", "it's\\": 3}
    assert encoder(shape)(record) == canonical(record)


TYPED_LINE = ShapeSpec("invoices.Regels", ("n",), None,
                       {"n": TypeSpec("int"), "amount": TypeSpec("decimal"), "from": TypeSpec("date", True),
                        "note": TypeSpec("text", True), "ok": TypeSpec("bool", True)}, {}, {})
TYPED = ShapeSpec("invoices", ("number",), None,
                  {"number": TypeSpec("text"), "day": TypeSpec("date"), "total": TypeSpec("decimal", True),
                   "cust": TypeSpec("int"), "note": TypeSpec("text", True)},
                  {"lines": TYPED_LINE}, {"customer": ("customers", ("cust",)), "agent": ("agents", ("cust",))})
# decimals as a source writes them: strings and numbers, plain and in exponent form
DECIMALS = (st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str)
            | st.sampled_from(["1E+2", "1e-7", "0.0000001", "-0.00", "0E-10", "1.5E3", "12345678901234567890.12"])
            | st.integers(-10**6, 10**6))


def _typed_line() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"n": st.integers(-2**63, 2**63 - 1), "amount": DECIMALS,
                                  "from": st.none() | st.dates().map(str), "note": st.none() | texts,
                                  "ok": st.none() | st.booleans()})


TYPED_RECORDS = st.fixed_dictionaries({
    "number": texts.filter(bool), "day": st.dates().map(str), "total": st.none() | DECIMALS,
    "cust": st.integers(-2**63, 2**63 - 1), "note": st.none() | texts.filter(bool),
    "lines": st.lists(_typed_line(), max_size=3)})


@settings(max_examples=500, deadline=None)
@given(TYPED_RECORDS, st.none() | st.fixed_dictionaries({"x": texts}))
def test_the_typed_encoder_writes_the_reference_bytes(line: dict[str, Any], customer: Any) -> None:
    """A record as the typed JSON Lines reader decodes it (refs added after, as the reader does)
    gets exactly the reference bytes from msgspec, or None (then the generated encoder writes
    them): a decimal in exponent form, however the line wrote it, never slips through."""
    record = TypedLines(TYPED, set()).decode(json.dumps(line, ensure_ascii=False) + "\n")
    assume(record is not None)  # a line the exact path takes (an out-of-bounds decimal)
    assert record is not None
    record.update({"customer": customer, "agent": None})
    before = list(record.items())
    data = typed_encoder(TYPED)(record)
    assert list(record.items()) == before  # the refs are back, in their place
    reference = canonical(own(record, ("customer", "agent"))).encode()
    if data is None:
        assert b"E+" in reference or b"E-" in reference or "E" in str(record)
    else:
        assert data == reference


def test_a_decimal_in_exponent_form_is_left_to_the_generated_encoder() -> None:
    line = {"number": "A1", "day": "2026-01-02", "total": "1E+2", "cust": 7, "note": None, "lines": []}
    record = TypedLines(TYPED, set()).decode(json.dumps(line) + "\n")
    assert record is not None and str(record["total"]) == "1E+2"
    record.update({"customer": None, "agent": None})
    assert typed_encoder(TYPED)(record) is None
    assert encoder(TYPED)(record) == canonical(own(record, ("customer", "agent")))
    assert '"total":"100"' in encoder(TYPED)(record)
