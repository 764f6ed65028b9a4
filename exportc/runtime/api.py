"""The narrow runtime API that generated emit code calls, and nothing else.

Escaping, value formatting, null-propagating operators, table lookups and the library functions.
Every problem a record can cause raises ``RecordError``; the run turns it into a report entry
naming the record's key and the profile line (found from the generated code's line map).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from exportc.artefact import RUNTIME_API
from exportc.values import ATTR_WORK, facet_problem, format_value

__all__ = list(RUNTIME_API)  # the contract (exportc.artefact) names them once

D0 = Decimal(0)
date = dt.date
datetime = dt.datetime


class RecordError(Exception):
    """A record cannot be exported; ``code`` is a stable diagnostic code (E06xx)."""

    def __init__(self, code: str, message: str, at: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The rule whose value this is (profile file, line), when the raising code knows it better
        # than the traceback: one generated statement writes several rules' elements.
        self.at = at


# XML 1.0 cannot carry most C0 controls, lone surrogates or U+FFFE/U+FFFF.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _bad_char(s: str) -> RecordError:
    m = _BAD_XML.search(s)
    assert m is not None
    return RecordError("E0601", f"the text {s[:40]!r} contains the character "
                       f"U+{ord(m.group()):04X}, which XML cannot carry")


# One search decides whether a value needs any work at all; most do not, so the common case is a
# single regex scan (400k typical values: esc_text 84 -> 79 ms, esc_attr 102 -> 96 ms).
_TEXT_WORK = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc_text(s: str) -> str:
    """Escape element text."""
    if _TEXT_WORK.search(s) is None:
        return s
    return _escaped_text(s)


def _escaped_text(s: str) -> str:
    """``esc_text`` of a text that needs work (``_TEXT_WORK`` found something)."""
    if _BAD_XML.search(s):
        raise _bad_char(s)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def esc_attr(s: str) -> str:
    """Escape an attribute value (quotes and white space that parsers would normalise)."""
    if ATTR_WORK.search(s) is None:
        return s
    return _escaped_attr(s)


def _escaped_attr(s: str) -> str:
    """``esc_attr`` of a value that needs work (``ATTR_WORK`` found something)."""
    return esc_text(s).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def fmt_dec(d: Decimal) -> str:
    """A decimal in plain notation (never an exponent, never through float)."""
    return format(d, "f")


FLOAT_MAX = Decimal("3.4028234663852886e38")  # the largest xs:float (IEEE single precision)
DOUBLE_MAX = Decimal("1.7976931348623157e308")  # the largest xs:double


def fmt_float(d: Decimal | int, limit: Decimal, target: str, at: tuple[str, int] | None = None) -> str:
    """A number for an xs:float/xs:double target, in plain notation, within the type's range.

    Written as plain digits, `1e400` passes the XSD's lexical check but no reader holds it (Exact
    reads amounts as floats): a record error, not a 401-digit amount.
    """
    if type(d) is Decimal and d.is_finite() and d.adjusted() < 38:  # the usual: below both limits
        text = str(d)  # a third of format(d, "f"), and the same text when it has no exponent
        return text if "E" not in text else format(d, "f")
    if isinstance(d, Decimal) and not d.is_finite():  # NaN and INF pass the XSD, not a reader
        raise RecordError("E0602", f"the value {d} for `{target}` is not a finite number", at)
    if not -limit <= d <= limit:
        kind = "xs:float" if limit == FLOAT_MAX else "xs:double"
        shown = f"{Decimal(d):.6E}"
        raise RecordError("E0602", f"the value {shown} for `{target}` is out of the range of "
                          f"{kind} (at most ±{limit:.7E})", at)
    return format(d, "f") if isinstance(d, Decimal) else str(d)


def check_facets(text: str, facets: dict[str, object], target: str,
                 at: tuple[str, int] | None = None) -> str:
    """Return ``text`` when it satisfies the XSD facets of ``target``; else a record error
    located at the rule ``at`` that produced the value."""
    problem = facet_problem(text, facets)
    if problem:
        raise RecordError("E0602", f"the value {text[:60]!r} for `{target}` {problem}", at)
    return text


def check_len(escaped: str, raw: str, limit: int, target: str,
              at: tuple[str, int] | None = None) -> str:
    """The common facet, inline: at most ``limit`` characters (counted before escaping)."""
    if len(raw) > limit:
        raise RecordError("E0602", f"the value {raw[:60]!r} for `{target}` is {len(raw)} characters "
                          f"long, but must be at most {limit}", at)
    return escaped


def esc_text_len(s: str, limit: int, target: str, at: tuple[str, int] | None = None) -> str:
    """``check_len(esc_text(s), s, limit, target, at)`` in one call (a text element with a
    length facet: 350k in a run over 100k invoices): a bad character fails first, as there."""
    escaped = s if _TEXT_WORK.search(s) is None else _escaped_text(s)
    return escaped if len(s) <= limit else check_len(escaped, s, limit, target, at)


def esc_attr_len(s: str, limit: int, target: str, at: tuple[str, int] | None = None) -> str:
    """``check_len(esc_attr(s), s, limit, target, at)`` in one call (see ``esc_text_len``)."""
    escaped = s if ATTR_WORK.search(s) is None else _escaped_attr(s)
    return escaped if len(s) <= limit else check_len(escaped, s, limit, target, at)


def too_few(element: str, child: str, minimum: int, found: int) -> RecordError:
    return RecordError("E0603", f"`{element}` needs at least {minimum} `{child}`, found {found}")


def too_many(element: str, child: str, maximum: int, found: int) -> RecordError:
    return RecordError("E0611", f"`{element}` allows at most {maximum} `{child}`, found {found}")


def check_failed(message: str) -> RecordError:
    return RecordError("E0604", message)


class Table(dict[Any, Any]):
    """A lookup table with its unmatched-key policy (fail, default or passthrough).

    The generated code looks a key up as in any dict (``t_vat[code]``), in C (a Python
    ``__call__`` cost more than the lookup: two a line of an invoice); only a key it lacks
    reaches ``__missing__``, which applies the policy. (A key is always hashable: the compiler lets only a value of the
    table's declared key type, a scalar, look a table up.)"""

    __slots__ = ("default", "name", "policy")

    def __init__(self, name: str, entries: dict[Any, Any], policy: str, default: Any) -> None:
        super().__init__(entries)
        self.name, self.policy, self.default = name, policy, default

    def __missing__(self, key: Any) -> Any:
        if self.policy == "default":
            return self.default
        if self.policy == "passthrough":
            return key
        raise RecordError("E0605", f"table `{self.name}` has no entry for {format_value(key)!r}")

    def opt(self, key: Any) -> Any:
        return None if key is None else self[key]


# ---- null-propagating operators ---------------------------------------------------------------

def n_add(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def n_sub(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a - b


def n_mul(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a * b


def n_concat(a: str | None, b: str | None) -> str | None:
    return None if a is None or b is None else a + b


def n_neg(a: Any) -> Any:
    return None if a is None else -a


def div(a: Any, b: Any) -> Decimal:
    if b == 0:
        raise RecordError("E0606", "division by zero")
    return Decimal(a) / Decimal(b)


def n_div(a: Any, b: Any) -> Decimal | None:
    return None if a is None or b is None else div(a, b)


def date_add(d: dt.date | None, days: int | None) -> dt.date | None:
    return None if d is None or days is None else d + dt.timedelta(days=days)


def date_sub(d: dt.date | None, days: int | None) -> dt.date | None:
    return None if d is None or days is None else d - dt.timedelta(days=days)


def date_diff(a: dt.date | None, b: dt.date | None) -> int | None:
    return None if a is None or b is None else (a - b).days


def getf(record: dict[str, Any] | None, name: str) -> Any:
    return None if record is None else record.get(name)


def group_by(items: Iterable[dict[str, Any]] | None, keys: tuple[str, ...], name: str
             ) -> list[dict[str, Any]]:
    """Groups of list elements sharing ``keys``, in order of first appearance."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for item in items or ():
        key = tuple(item[k] for k in keys)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {**dict(zip(keys, key, strict=True)), name: []}
        group[name].append(item)
    return list(groups.values())


def min_of(values: Iterable[Any]) -> Any:
    """The smallest value over a list's elements, nulls skipped (null when none)."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


def max_of(values: Iterable[Any]) -> Any:
    """The largest value over a list's elements, nulls skipped (null when none)."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


def sum_of(values: Iterable[Any], start: Any) -> Any:
    total = start
    for v in values:
        if v is not None:
            total += v
    return total


# ---- library functions (signatures in exportc.compiler.functions) -----------------------------

def fn_pad(value: Any, length: int | None, fill: str | None = "0") -> str | None:
    if value is None or length is None or fill is None:
        return None
    text = str(value)
    if not fill:
        return text
    return text.rjust(length, fill[0]) if len(text) < length else text


def fn_upper(s: str | None) -> str | None:
    return None if s is None else s.upper()


def fn_lower(s: str | None) -> str | None:
    return None if s is None else s.lower()


def fn_trim(s: str | None) -> str | None:
    return None if s is None else s.strip()


def fn_join(sep: str, *values: Any) -> str:
    return sep.join(t for v in values if v is not None and (t := format_value(v)) != "")


def fn_coalesce(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def fn_round(x: Any, places: int | None = 0) -> Any:
    if x is None or places is None:
        return None
    if isinstance(x, int):
        return x if places >= 0 else int(Decimal(x).quantize(Decimal(10) ** -places, ROUND_HALF_UP))
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


# Quantizing in a context with room for any number of digits never rounds nor overflows, so
# `fixed` needs no per-call localcontext() (which cost more than the quantize itself).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(10)}


def fn_fixed(x: Any, places: int | None) -> Decimal | None:
    """``x`` with exactly ``places`` decimals; a value that has more fails the record, because
    dropping a digit unasked would change an amount (121.005 is not 121.00 nor 121.01)."""
    if x is None or places is None:
        return None
    if type(x) is Decimal and 0 < places < 10:
        # The usual amount has its decimals already (`121.50` read for fixed(…, 2)): its plain
        # text then has exactly ``places`` digits after the point, and is returned as it is, for
        # a fifth of a quantize. (A text in exponent notation can have `.` there too, `9.99E+37`
        # for 6 places: it is quantized; NaN and Infinity have no `.`.)
        text = str(x)
        if len(text) > places and text[-places - 1] == "." and "E" not in text:
            return x
    d = x if type(x) is Decimal else Decimal(x)
    quantum = _QUANTA.get(places)
    q = d.quantize(quantum if quantum is not None else Decimal(1).scaleb(-places), context=_EXACT)
    if q != d:
        raise RecordError("E0640", f"the amount {fmt_dec(d)} has more than {places} decimals; it is "
                          f"not rounded silently: correct the source, or round(…, {places}) it in "
                          "the profile by a rule you state")
    return q


def fixed_float(x: Any, places: int, limit: Decimal, target: str,
                at: tuple[str, int] | None = None) -> str | None:
    """``fmt_float(fn_fixed(x, places), limit, target, at)`` in one call, for ``places`` from
    1 to 9: an amount with fixed decimals written to an xs:float/xs:double element (the Exact
    profile's every amount: 300k in a run over 100k invoices). The usual amount has its
    decimals already and fewer than 38 characters, so it is its own text, made once (``fixed``
    and ``fmt_float`` each made it: 1.0 -> 0.5 us); anything else takes the two steps."""
    if type(x) is Decimal:
        text = str(x)
        if places < len(text) < 38 and text[-places - 1] == "." and "E" not in text:
            return text
    elif x is None:
        return None
    fixed = fn_fixed(x, places)
    assert fixed is not None  # (x is not None)
    return fmt_float(fixed, limit, target, at)


def fn_abs(x: Any) -> Any:
    return None if x is None else abs(x)


def fn_format(value: Any, pattern: str | None) -> str | None:
    if value is None or pattern is None:
        return None
    try:
        if isinstance(value, dt.date):
            return value.strftime(pattern)
        return format(value, pattern)
    except (ValueError, TypeError) as exc:
        raise RecordError("E0607", f"format({format_value(value)!r}, {pattern!r}): {exc}") from None


def show_message(*parts: object) -> str:
    """A check's message with its ``{placeholder}`` values: each as the XML would show it, and a
    null as ``null`` (so "customer 7 (null)" says the name is missing, not that it is empty)."""
    return "".join("null" if p is None else format_value(p) for p in parts)


def fn_text(value: Any) -> str | None:
    return None if value is None else format_value(value)


def fn_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise RecordError("E0607", f"{value!r} is not a number") from None
    if not d.is_finite():
        raise RecordError("E0607", f"{value!r} is not a finite number")
    return d


def fn_int(value: Any) -> int | None:
    d = fn_decimal(value)
    if d is None:
        return None
    if d != d.to_integral_value():
        raise RecordError("E0607", f"{format_value(value)!r} is not a whole number")
    return int(d)


def fn_min(*values: Any) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def fn_max(*values: Any) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def fn_substring(s: str | None, start: int | None, length: int | None = -1) -> str | None:
    if s is None or start is None or length is None:
        return None
    begin = max(0, start - 1)
    return s[begin:] if length < 0 else s[begin:begin + length]


def fn_before(s: str | None, sep: str | None) -> str | None:
    if s is None or sep is None or sep not in s:
        return None
    return s.split(sep, 1)[0]


def fn_after(s: str | None, sep: str | None) -> str | None:
    if s is None or sep is None or sep not in s:
        return None
    return s.split(sep, 1)[1]


def fn_replace(s: str | None, old: str | None, new: str | None) -> str | None:
    return None if s is None or old is None or new is None else s.replace(old, new)


def fn_length(s: str | None) -> int | None:
    return None if s is None else len(s)


def fn_contains(s: str | None, part: str | None) -> bool | None:
    return None if s is None or part is None else part in s
