"""Reading and writing typed values as text, shared by compiler and runtime.

Money is Decimal and never passes through float or prints an exponent; dates are ISO.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import cache


def parse_scalar(text: str, name: str) -> object:
    """Parse a text cell or parameter by type name; raises ValueError with a plain message."""
    if name in ("text", "any"):
        return text
    s = text.strip()
    if name == "int":
        try:
            return int(s)
        except ValueError:
            raise ValueError(f"`{text}` is not a whole number") from None
    if name == "decimal":
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise ValueError(f"`{text}` is not a decimal number (use `.` as separator)") from None
        return bounded(d, text)
    if name == "bool":
        low = s.lower()
        if low in ("true", "1", "yes", "ja", "y"):
            return True
        if low in ("false", "0", "no", "nee", "n"):
            return False
        raise ValueError(f"`{text}` is not true/false (or 1/0)")
    if name == "date":
        try:
            return dt.date.fromisoformat(s)
        except ValueError:
            raise ValueError(f"`{text}` is not a date (YYYY-MM-DD)") from None
    if name == "datetime":
        try:
            return dt.datetime.fromisoformat(s)
        except ValueError:
            raise ValueError(f"`{text}` is not a date-time (YYYY-MM-DDTHH:MM:SS)") from None
    raise ValueError(f"cannot read a {name} from text")


MAX_DIGITS = 40  # digits a decimal may have before, and after, its point (money needs 15)

# The characters a text needs work for in an XML attribute (escaping, or refusing those XML
# cannot carry): the runtime escapes by it, and the compiler writes a table's code unescaped only
# when no value of the table holds one of them. One pattern for both, so they cannot drift apart.
ATTR_WORK = re.compile("[&<>\"\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def bounded(d: Decimal, text: str | None = None) -> Decimal:
    """``d`` when it is finite and fits ``MAX_DIGITS`` digits either side of the point.

    `1e999999999` is a valid decimal, but written out it is a gigabyte of digits: a run would
    hang formatting it and deliver a 10 MB amount. No accounting value comes near the bound.
    """
    shown = (text if text is not None else str(d))[:40]
    if not d.is_finite():
        raise ValueError(f"`{shown}` is not a finite number")
    if d and d.adjusted() >= MAX_DIGITS:
        raise ValueError(f"`{shown}` is too large: more than {MAX_DIGITS} digits before the point")
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DIGITS:
        raise ValueError(f"`{shown}` has more than {MAX_DIGITS} digits after the point")
    return d


def format_value(value: object) -> str:
    """A value as XML text: decimals in plain notation, dates ISO, booleans true/false."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@cache
def _xsd_regex(pattern: str) -> re.Pattern[str]:
    # XSD patterns are anchored; the common subset (classes, quantifiers, \d) matches Python's.
    return re.compile(pattern.replace("\\i", "[A-Za-z_:]").replace("\\c", "[-.0-9A-Za-z_:]"))


def show_pattern(p: str) -> str:
    """An XSD pattern as written, from xmlschema's anchored Python translation."""
    if p.startswith("^(?:") and p.endswith(")$(?!\\n\\Z)"):
        return p[4:-len(")$(?!\\n\\Z)")]
    return p


def facet_problem(text: str, facets: dict[str, object]) -> str | None:
    """Why ``text`` breaks one of the facets (as ``SimpleType`` fields), or None."""
    enum = facets.get("enumeration")
    if enum is not None and text not in enum:  # type: ignore[operator]
        return f"must be one of {', '.join(repr(e) for e in enum)}"  # type: ignore[attr-defined]
    n = len(text)
    for key, what in (("length", "exactly"), ("min_length", "at least"), ("max_length", "at most")):
        limit = facets.get(key)
        if not isinstance(limit, int):
            continue
        if (key == "length" and n != limit) or (key == "min_length" and n < limit) or (
                key == "max_length" and n > limit):
            return f"is {n} characters long, but must be {what} {limit}"
    for p in facets.get("patterns") or ():  # type: ignore[attr-defined]
        try:
            if not _xsd_regex(p).fullmatch(text):
                return f"does not match the pattern {show_pattern(p)}"
        except re.error:
            continue
    bounds = [(k, facets.get(k)) for k in ("min_inclusive", "max_inclusive", "min_exclusive",
                                           "max_exclusive")]
    digits = (facets.get("total_digits"), facets.get("fraction_digits"))
    if any(v is not None for _, v in bounds) or any(v is not None for v in digits):
        try:
            num = Decimal(text)
        except InvalidOperation:
            return None
        for key, limit in bounds:
            if limit is None:
                continue
            lim = Decimal(str(limit))
            if ((key == "min_inclusive" and num < lim) or (key == "max_inclusive" and num > lim)
                    or (key == "min_exclusive" and num <= lim)
                    or (key == "max_exclusive" and num >= lim)):
                word = {"min_inclusive": "at least", "max_inclusive": "at most",
                        "min_exclusive": "more than", "max_exclusive": "less than"}[key]
                return f"is {text}, but must be {word} {lim}"
        total, fraction = digits
        _sign, ds, exp = num.normalize().as_tuple()
        frac = max(0, -int(exp))
        if fraction is not None and frac > int(fraction):  # type: ignore[call-overload]
            return f"has {frac} decimals, at most {fraction} allowed"
        if total is not None and max(len(ds), frac) > int(total):  # type: ignore[call-overload]
            return f"has more than {total} digits"
    return None


def xml_escape(text: str, attr: bool = False) -> str:
    """Escape text for element content or (``attr``) a double-quoted attribute."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    if attr:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text
