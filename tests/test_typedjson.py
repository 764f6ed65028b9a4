"""JSON Lines read through the per-shape C decoder give exactly the records and the errors of
the exact path (``json`` + ``Coercer``), for plain lines and odd ones alike."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.runtime import typedjson
from exportc.runtime.records import RecordReader
from exportc.runtime.sources import Binding

LINE = ShapeSpec("invoices.Regels", ("n",), None,
                 {"n": TypeSpec("int"), "amount": TypeSpec("decimal"), "from": TypeSpec("date", True),
                  "note": TypeSpec("text", True), "ok": TypeSpec("bool", True)}, {}, {})
SHAPE = ShapeSpec("invoices", ("number",), None,
                  {"number": TypeSpec("text"), "day": TypeSpec("date"), "total": TypeSpec("decimal", True),
                   "cust": TypeSpec("int"), "ref": TypeSpec("text", True)}, {"lines": LINE}, {})

ODD = st.sampled_from(["", " ", "12", "12.0", "1e3", "NaN", "-Infinity", "sNaN", "2026-02-30", "20260101",
                       "2026-01-01", " 2026-01-01", "ja", "true", "0", "x\u00e9<&>", "\ud800"])
VALUES = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | ODD
          | st.decimals(allow_nan=False, allow_infinity=False).map(str)
          | st.floats(allow_nan=False, allow_infinity=False, width=32))


def _plain_line() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"n": st.integers(0, 99), "amount": st.sampled_from(["1.50", 2, "-0.00"]),
                                  "from": st.none() | st.just("2026-03-01"), "note": st.none() | st.just("a"),
                                  "ok": st.none() | st.booleans()})


def _maybe_odd(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A plain object with some of its values replaced by odd ones or left out."""
    return st.tuples(base, st.dictionaries(st.sampled_from(["n", "amount", "from", "note", "ok", "number", "day",
                                                             "total", "cust", "ref", "lines", "extra"]),
                                           VALUES | st.just("<missing>"), max_size=3)).map(
        lambda pair: {k: v for k, v in {**pair[0], **pair[1]}.items() if v != "<missing>"})


RECORDS = _maybe_odd(st.fixed_dictionaries({
    "number": st.just("F1"), "day": st.just("2026-01-31"), "total": st.sampled_from(["10.00", 3.25, None]),
    "cust": st.just(42), "ref": st.none() | st.just("R"),
    "lines": st.lists(_maybe_odd(_plain_line()), max_size=2)}))


def _read(path: Path) -> list[tuple[Any, ...]]:
    reader = RecordReader("invoices", SHAPE, {"invoices": Binding("invoices", str(path))}, {"invoices": SHAPE})
    out = []
    try:
        for rec in reader:
            out.append((rec.number, rec.value, rec.error and str(rec.error)))
    except Exception as exc:  # an E0501 ends the source
        out.append(("raised", str(exc)))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(RECORDS, min_size=1, max_size=4), st.booleans())
def test_typed_and_exact_paths_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     records: list[dict[str, Any]], broken: bool) -> None:
    path = tmp_path / "invoices.jsonl"
    lines = [json.dumps(r) for r in records] + (["{not json", "[1]"] if broken else [])
    path.write_text("\n".join(lines) + "\n", "utf-8")
    fast = _read(path)
    with monkeypatch.context() as m:
        m.setattr(typedjson.TypedLines, "decode", lambda self, line: None)
        exact = _read(path)
    assert fast == exact


def test_plain_lines_take_the_typed_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "invoices.jsonl"
    plain = {"number": "F1", "day": "2026-01-31", "total": 1.5, "cust": 42, "ref": None,
             "lines": [{"n": 1, "amount": "1.50", "from": None, "note": "a", "ok": True}]}
    path.write_text(json.dumps(plain) + "\n", "utf-8")
    typed = typedjson.TypedLines(SHAPE, set())
    assert typed.decode(path.read_text("utf-8")) is not None
    monkeypatch.setattr("exportc.runtime.sources.Coercer.__call__", lambda *a: pytest.fail("exact path taken"))
    [(_n, value, error)] = _read(path)
    assert error is None and value["lines"][0]["amount"] == typed.decode(json.dumps(plain))["lines"][0]["amount"]


ODD_VALUES = [None, True, 0, 12, 12.0, 10**20, "", " ", "12", "12.0", "1e3", "NaN", "-Infinity", "sNaN",
              "2026-02-30", "20260101", "2026-01-01", " 2026-01-01", "ja", "true", "x\u00e9<&>", "\ud800", [], {},
              "1e999999999", 1e-50, "1" * 45, "note", '"note"']
PLAIN = {"number": "F1", "day": "2026-01-31", "total": "10.00", "cust": 42, "ref": None,
         "lines": [{"n": 1, "amount": "1.50", "from": None, "note": "a", "ok": True}]}


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_each_odd_value_in_each_field_reads_as_the_exact_path_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    lines = []
    for field in [*SHAPE.fields, "lines"]:
        lines += [json.dumps({**PLAIN, field: value}), json.dumps({k: v for k, v in PLAIN.items() if k != field})]
    for field in LINE.fields:
        lines.append(json.dumps({**PLAIN, "lines": [{**PLAIN["lines"][0], field: value}]}))
    path = tmp_path / "invoices.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    fast = _read(path)
    monkeypatch.setattr(typedjson.TypedLines, "decode", lambda self, line: None)
    assert fast == _read(path)


@pytest.mark.parametrize("line", [
    '{"number": "F1", "number": "F2", "day": "2026-01-31", "total": null, "cust": 1, "ref": null, "lines": []}',
    '{"number": "F1", "day": "2026-01-31", "total": null, "cust": 1, "ref": null, "lines": [{"n": 1, "n": 2, '
    '"amount": 1, "from": null, "note": null, "ok": null}, {"n": 3, "amount": 1, "from": null, "ok": null}]}',
    '{"number": "F1", "day": "2026-01-31", "total": null, "cust": 1, "ref": "\\"ref\\"", "lines": []}',
    '{"number": "F1", "day": "2026-01-31", "total": null, "cust": 1, "ref": null, "lines": [], "x": 1, "x": 2}',
    '{"\\u006eumber": "F1", "day": "2026-01-31", "total": null, "cust": 1, "ref": null, "lines": []}',
    '{"number": "a:b", "day": "2026-01-31", "total": null, "cust": 1, "ref": "c:d", "ref": "e", "lines": []}',
    '{"number": "a:b", "day": "2026-01-31", "total": null, "cust": 1, "ref": "\\u003a", "ref": "e", "lines": []}',
    '{"number": "F1", "day": "2026-01-31", "total": null, "cust": 1, "ref": null, "\\u006eumber": "F2", "lines": []}',
], ids=["top", "nested", "value-like-a-key", "unknown", "escaped-key", "colons-in-texts", "escaped-colon",
        "escaped-duplicate"])
def test_keys_given_twice_or_unknown_read_as_the_exact_path_reads_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    path = tmp_path / "invoices.jsonl"
    path.write_text(line + "\n", "utf-8")
    fast = _read(path)
    monkeypatch.setattr(typedjson.TypedLines, "decode", lambda self, line: None)
    assert fast == _read(path)


@pytest.mark.parametrize("amount", [
    '"1' + "0" * 40 + '"', "1" + "0" * 40, '"0.' + "0" * 40 + '1"', "1e41", '"1E+41"', '"\\u0031e41"',
    '"NaN"', '"-Infinity"', '"sNaN"',
], ids=["41-digits-text", "41-digits-number", "41-decimals", "exponent", "exponent-text", "escaped-exponent",
        "nan", "infinity", "snan"])
def test_a_decimal_out_of_bounds_is_refused_on_the_typed_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, amount: str) -> None:
    """The typed path skips the per-value bound check on a line with nothing suspect in it; each
    way a decimal can be out of bounds must make the line suspect."""
    line = ('{"number": "F1", "day": "2026-01-31", "total": ' + amount
            + ', "cust": 1, "ref": null, "lines": []}')
    path = tmp_path / "invoices.jsonl"
    path.write_text(line + "\n", "utf-8")
    fast = _read(path)
    assert fast[0][2] is not None and "total" in fast[0][2], fast  # a record error naming the field
    monkeypatch.setattr(typedjson.TypedLines, "decode", lambda self, line: None)
    assert fast == _read(path)


DECIMALS = (st.decimals() | st.decimals(places=2) | st.sampled_from(["NaN", "-sNaN", "Infinity", "1E+41", "1E+39",
                                                                      "1e-41", "0E-50", "-0.00"]).map(Decimal)
            | st.integers(-10**45, 10**45).map(Decimal) | st.none())


@settings(max_examples=300, deadline=None)
@given(DECIMALS)
def test_the_inlined_bound_check_answers_as_within(amount: Decimal | None) -> None:
    """holds() checks a decimal's bounds inline for the usual amount and asks ``within`` for any
    other: both must accept and refuse the same decimals."""
    shape = ShapeSpec("amounts", ("amount",), None, {"amount": TypeSpec("decimal", True)}, {}, {})
    namespace: dict[str, Any] = {"within": typedjson.within}
    exec(typedjson.plain_check(shape, set()), namespace)
    assert namespace["holds"]('{"amount":1}', {"amount": amount}) is typedjson.within(amount)
