"""The function library: typed signatures checked at compile time.

Each entry gives the accepted argument types and computes the result type. Null propagates:
a function of a nullable argument is nullable, except ``join`` (skips nulls) and ``coalesce``.
The runtime implementation of each function is ``exportc.runtime.api.fn_<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exportc.compiler.types import BOOL, DECIMAL, INT, TEXT, Type, unify

SCALAR_NAMES = frozenset({"text", "int", "decimal", "bool", "date", "datetime"})


class SignatureError(Exception):
    """Wrong number or type of arguments; ``index`` is the offending argument, if one."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Function:
    name: str
    signature: str
    doc: str
    check: Callable[[list[Type]], Type]


def _nullable_if_any(args: list[Type], result: Type) -> Type:
    return result.or_null() if any(a.nullable for a in args) else result


def _arity(args: list[Type], low: int, high: int | None, sig: str) -> None:
    if len(args) < low or (high is not None and len(args) > high):
        raise SignatureError(f"expects {sig}, got {len(args)} argument(s)")


def _want(args: list[Type], i: int, names: set[str], what: str) -> None:
    if args[i].name not in names and args[i].name not in ("any", "null"):
        raise SignatureError(f"argument {i + 1} must be {what}, not {args[i]}", i)


def _pad(args: list[Type]) -> Type:
    _arity(args, 2, 3, "pad(value, length[, fill])")
    _want(args, 0, {"text", "int"}, "text or int")
    _want(args, 1, {"int"}, "an int")
    if len(args) == 3:
        _want(args, 2, {"text"}, "text")
    return _nullable_if_any(args, TEXT)


def _text1(name: str) -> Callable[[list[Type]], Type]:
    def check(args: list[Type]) -> Type:
        _arity(args, 1, 1, f"{name}(text)")
        _want(args, 0, {"text"}, "text")
        return _nullable_if_any(args, TEXT)
    return check


def _join(args: list[Type]) -> Type:
    _arity(args, 2, None, "join(separator, value, ...)")
    _want(args, 0, {"text"}, "text")
    if args[0].nullable:
        raise SignatureError("the separator must not be null", 0)
    for i in range(1, len(args)):
        _want(args, i, set(SCALAR_NAMES), "a text, number or date")
    return TEXT


def _coalesce(args: list[Type]) -> Type:
    _arity(args, 2, None, "coalesce(value, fallback, ...)")
    result: Type | None = args[0]
    for i, a in enumerate(args[1:], 1):
        result = unify(result, a) if result else None
        if result is None:
            raise SignatureError(f"argument {i + 1} ({a}) does not fit the others ({args[0]})", i)
    assert result is not None
    return result if all(a.nullable for a in args) else result.non_null()


def _round(args: list[Type]) -> Type:
    _arity(args, 1, 2, "round(number[, places])")
    _want(args, 0, {"int", "decimal"}, "a number")
    if len(args) == 2:
        _want(args, 1, {"int"}, "an int")
    return _nullable_if_any(args, args[0].non_null())


def _fixed(args: list[Type]) -> Type:
    _arity(args, 2, 2, "fixed(number, places)")
    _want(args, 0, {"int", "decimal"}, "a number")
    _want(args, 1, {"int"}, "an int")
    return _nullable_if_any(args, DECIMAL)


def _abs(args: list[Type]) -> Type:
    _arity(args, 1, 1, "abs(number)")
    _want(args, 0, {"int", "decimal"}, "a number")
    return args[0]


def _format(args: list[Type]) -> Type:
    _arity(args, 2, 2, "format(value, pattern)")
    _want(args, 0, {"date", "datetime", "int", "decimal"}, "a date or a number")
    _want(args, 1, {"text"}, "a text pattern")
    return _nullable_if_any(args, TEXT)


def _text(args: list[Type]) -> Type:
    _arity(args, 1, 1, "text(value)")
    _want(args, 0, set(SCALAR_NAMES), "a scalar value")
    return _nullable_if_any(args, TEXT)


def _decimal(args: list[Type]) -> Type:
    _arity(args, 1, 1, "decimal(value)")
    _want(args, 0, {"int", "decimal", "text"}, "a number or text")
    return _nullable_if_any(args, DECIMAL)


def _int(args: list[Type]) -> Type:
    _arity(args, 1, 1, "int(value)")
    _want(args, 0, {"int", "decimal", "text"}, "a number or text")
    return _nullable_if_any(args, INT)


def _minmax(name: str) -> Callable[[list[Type]], Type]:
    def check(args: list[Type]) -> Type:
        _arity(args, 2, None, f"{name}(a, b, ...)")
        result: Type | None = args[0]
        for i, a in enumerate(args):
            _want(args, i, {"int", "decimal", "date", "datetime", "text"}, "comparable")
            result = unify(result, a) if result else None
            if result is None:
                raise SignatureError(f"argument {i + 1} ({a}) does not fit {args[0]}", i)
        assert result is not None
        return result
    return check


def _substring(args: list[Type]) -> Type:
    _arity(args, 2, 3, "substring(text, start[, length])")
    _want(args, 0, {"text"}, "text")
    for i in range(1, len(args)):
        _want(args, i, {"int"}, "an int")
    return _nullable_if_any(args, TEXT)


def _replace(args: list[Type]) -> Type:
    _arity(args, 3, 3, "replace(text, old, new)")
    for i in range(3):
        _want(args, i, {"text"}, "text")
    return _nullable_if_any(args, TEXT)


def _length(args: list[Type]) -> Type:
    _arity(args, 1, 1, "length(text)")
    _want(args, 0, {"text"}, "text")
    return _nullable_if_any(args, INT)


def _contains(args: list[Type]) -> Type:
    _arity(args, 2, 2, "contains(text, part)")
    _want(args, 0, {"text"}, "text")
    _want(args, 1, {"text"}, "text")
    return _nullable_if_any(args, BOOL)


def _split(name: str) -> Callable[[list[Type]], Type]:
    def check(args: list[Type]) -> Type:
        _arity(args, 2, 2, f"{name}(text, separator)")
        _want(args, 0, {"text"}, "text")
        _want(args, 1, {"text"}, "text")
        return TEXT.or_null()  # null when the separator does not occur
    return check


FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    Function("pad", "pad(value, length[, fill])",
             "Left-pads with `fill` (default \"0\") to `length` characters.", _pad),
    Function("upper", "upper(text)", "Upper case.", _text1("upper")),
    Function("lower", "lower(text)", "Lower case.", _text1("lower")),
    Function("trim", "trim(text)", "Strips leading and trailing white space.", _text1("trim")),
    Function("join", "join(separator, value, ...)",
             "Joins the non-null, non-empty values with the separator.", _join),
    Function("coalesce", "coalesce(value, fallback, ...)", "The first non-null value.", _coalesce),
    Function("round", "round(number[, places])",
             "Rounds half away from zero to `places` decimals (default 0).", _round),
    Function("fixed", "fixed(number, places)",
             "The number written with exactly `places` decimals (`121` as `121.00`); one with more "
             "decimals fails the record (E0640) instead of being rounded silently: round() first "
             "to round by a stated rule.", _fixed),
    Function("abs", "abs(number)", "Absolute value.", _abs),
    Function("format", "format(value, pattern)",
             "Dates with strftime patterns (`%d-%m-%Y`), numbers with format specs (`.2f`).",
             _format),
    Function("text", "text(value)", "The value as text (dates ISO, decimals as written).", _text),
    Function("decimal", "decimal(value)", "A number or numeric text as a decimal.", _decimal),
    Function("int", "int(value)", "A whole number; a fraction is an error.", _int),
    Function("min", "min(a, b, ...)", "The smallest value.", _minmax("min")),
    Function("max", "max(a, b, ...)", "The largest value.", _minmax("max")),
    Function("substring", "substring(text, start[, length])",
             "Characters from `start` (1-based).", _substring),
    Function("replace", "replace(text, old, new)", "Replaces every `old` by `new`.", _replace),
    Function("length", "length(text)", "Number of characters.", _length),
    Function("contains", "contains(text, part)", "Whether `part` occurs in the text.", _contains),
    Function("before", "before(text, separator)",
             "The text before the first separator (`0106` of `0106:12345678`); null without one.",
             _split("before")),
    Function("after", "after(text, separator)",
             "The text after the first separator (`12345678` of `0106:12345678`); null without one.",
             _split("after")),
]}

# Aggregates over a list field and set-level checks are resolved specially (see resolve.py).
AGGREGATES = {"sum": "sum(list.field or expression over one list)",
              "count": "count(list)"}
SET_CHECKS = {"no_overlap": "no_overlap(start, end) per key", "unique": "unique(value) [per key]"}
ALL_NAMES = sorted([*FUNCTIONS, *AGGREGATES, *SET_CHECKS])
