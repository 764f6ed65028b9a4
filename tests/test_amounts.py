"""The runtime's amount helpers take shortcuts for the usual amount (``fixed`` returns a decimal
that has its decimals already, ``fmt_float`` writes its ``str``); whatever the decimal, they give
what the plain definitions give: the quantized value and its plain text, or the same error. And
an xs:float is never written as `NaN` or `Infinity` (it was: Infinity's exponent is 0). The two
in one call (``fixed_float``, what generated code calls for an amount with fixed decimals in an
xs:float element) give what the two give one after the other."""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exportc.runtime.api import DOUBLE_MAX, FLOAT_MAX, RecordError, fixed_float, fmt_float, fn_fixed

EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
ODD = ["0", "-0", "-0.00", "0.00", "121.5", "121.50", "121.500", "121.005", "1E+2", "1.00E+2", "1E-7",
       "0.0000001", "-1.23E-5", "12345678901234567890.12", "NaN", "-NaN", "sNaN", "NaN12", "Infinity",
       "-Infinity", "3.4028234663852886E+38", "1E+38", "9.99E+37", "1" + "0" * 45 + ".00",
       "9" * 34 + ".00", "-" + "9" * 33 + ".00", "9" * 35 + ".00", "-" + "9" * 36 + ".000000000",
       "3" + "0" * 38 + ".00", "-4" + "0" * 38 + ".00", "-.50"]
DECIMALS = st.sampled_from([Decimal(x) for x in ODD]) | st.decimals(allow_nan=False, allow_infinity=False)


def fixed_reference(x: Decimal, places: int) -> Decimal | str:
    """``fixed`` as defined: the quantized value when no digit is dropped, else its error."""
    try:
        q = x.quantize(Decimal(1).scaleb(-places), context=EXACT)
    except ArithmeticError as exc:
        return type(exc).__name__
    return q if q == x else "E0640"


def outcome(f: object, *args: object) -> object:
    try:
        value = f(*args)  # type: ignore[operator]
    except RecordError as exc:
        return exc.code
    except ArithmeticError as exc:
        return type(exc).__name__
    return (value, str(value)) if isinstance(value, Decimal) else value


@given(DECIMALS, st.integers(0, 12))
def test_fixed_gives_the_quantized_value_and_text(x: Decimal, places: int) -> None:
    expected = fixed_reference(x, places)
    got = outcome(fn_fixed, x, places)
    if isinstance(expected, Decimal):
        assert got == (expected, str(expected))  # the same digits and exponent, not only equal
    elif not x.is_nan():  # (a NaN never equals itself: the reference cannot say)
        assert got == expected


@pytest.mark.parametrize("text", ODD)
def test_fixed_keeps_each_odd_decimal_as_quantize_does(text: str) -> None:
    x = Decimal(text)
    for places in range(9):  # (6 places for `9.99E+37`: a `.` where the fast path looks)
        expected = fixed_reference(x, places)
        if isinstance(expected, Decimal):
            assert outcome(fn_fixed, x, places) == (expected, str(expected))


@given(DECIMALS | st.integers(-10**40, 10**40), st.sampled_from([FLOAT_MAX, DOUBLE_MAX]))
def test_fmt_float_writes_plain_text_within_the_range(d: Decimal | int, limit: Decimal) -> None:
    got = outcome(fmt_float, d, limit, "Value", None)
    if isinstance(d, Decimal) and not d.is_finite():
        assert got == "E0602"  # it passes the XSD's lexical check, but no reader takes it
    elif -limit <= d <= limit:
        assert got == (format(d, "f") if isinstance(d, Decimal) else str(d))
    else:
        assert got == "E0602"


@given(DECIMALS | st.integers(-10**40, 10**40) | st.none(), st.integers(1, 9),
       st.sampled_from([FLOAT_MAX, DOUBLE_MAX]))
def test_fixed_float_is_fixed_then_fmt_float(x: Decimal | int | None, places: int, limit: Decimal) -> None:
    got = outcome(fixed_float, x, places, limit, "Value", None)
    if x is None:
        assert got is None
        return
    first = outcome(fn_fixed, x, places)
    expected = outcome(fmt_float, first[0], limit, "Value", None) if isinstance(first, tuple) else first
    assert got == expected


@pytest.mark.parametrize("text", ODD)
def test_fixed_float_of_each_odd_decimal(text: str) -> None:
    x = Decimal(text)
    for places in range(1, 10):
        first = outcome(fn_fixed, x, places)
        if isinstance(first, tuple):
            assert outcome(fixed_float, x, places, FLOAT_MAX, "Value", None) == outcome(
                fmt_float, first[0], FLOAT_MAX, "Value", None)
