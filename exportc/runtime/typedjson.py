"""JSON Lines records decoded and coerced in one C pass, by a decoder made per declared shape.

For each source the declared fields become a msgspec ``Struct`` type, so parsing a line and
coercing its values to the declared types is one call into C instead of ``json.loads`` plus a
Python call per value. That fast path only ever takes the values whose coercion is plain: text
that is not empty, whole JSON numbers for ints, numbers or decimal strings for decimals, ISO
``YYYY-MM-DD`` for dates, ``true``/``false``. Anything else (an empty text that means null, ``"12"``
for an int, ``0``/``"ja"`` for a bool, a bad value, a line that is not JSON) makes the fast path
decline the line, and it goes through the exact path (``json`` + ``sources.Coercer``), which
accepts, converts or reports it word for word as always. So the records and the errors are the
same; only the plain lines get faster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.runtime.sources import Binding, Located, Row, _file_errors, jsonl_object, read_raw

# Decimal strings msgspec takes but exportc refuses (not finite); a line holding any of these
# letters in any case (`NaN`, `Infinity`, `sNaN`) is checked field by field, which is rare.
_NOT_FINITE = ("nan", "inf")


def _field_type(t: TypeSpec) -> Any:
    """The msgspec type that accepts exactly the plain values of ``t`` (see module doc)."""
    if t.name == "text":
        base: Any = Annotated[str, msgspec.Meta(min_length=1)]  # "" means null: exact path
    elif t.name in ("int", "bool"):
        base = int if t.name == "int" else bool
    elif t.name == "decimal":
        base = Decimal
    elif t.name == "date":
        base = dt.date
    else:
        return None  # datetime, lists, any: the exact path converts them
    return base | None if t.nullable else base


def _struct(shape: ShapeSpec, joined: set[str]) -> Any:
    """A Struct type for ``shape``, or None when a field needs the exact path for every record."""
    fields: list[Any] = []
    for name, t in shape.fields.items():
        ftype = _field_type(t)
        if ftype is None:
            return None
        fields.append((name, ftype, None) if t.nullable else (name, ftype))
    for name, sub in shape.lists.items():
        if name in joined:
            continue  # filled by the join, whatever the line holds
        item = _struct(sub, set())
        if item is None:
            return None
        if sub.join_source:  # a missing list is an error the exact path words
            fields.append((name, list[item]))  # type: ignore[valid-type]
        else:
            fields.append((name, list[item], msgspec.field(default_factory=list)))  # type: ignore[valid-type]
    required = [f for f in fields if len(f) == 2]
    optional = [f for f in fields if len(f) == 3]
    return msgspec.defstruct(f"_{shape.name.replace('.', '_')}", [*required, *optional])


def _decimals(shape: ShapeSpec) -> Callable[[Row], bool]:
    """Whether every decimal of a record (nested lists too) is finite."""
    names = [n for n, t in shape.fields.items() if t.name == "decimal"]
    subs = [(n, _decimals(sub)) for n, sub in shape.lists.items()]

    def finite(rec: Row) -> bool:
        return (all(rec[n] is None or rec[n].is_finite() for n in names)
                and all(ok(item) for n, ok in subs for item in rec.get(n) or ()))
    return finite


class TypedLines:
    """Decodes one JSON Lines source's lines straight into typed records, where it can."""

    def __init__(self, shape: ShapeSpec, joined: set[str]) -> None:
        struct = _struct(shape, joined)
        self.decoder = msgspec.json.Decoder(struct, float_hook=Decimal) if struct is not None else None
        self.finite = _decimals(shape)
        self.builtins = (Decimal, dt.date)

    def decode(self, line: str) -> Row | None:
        """The typed record of a plain line, or None: the exact path must take it."""
        if self.decoder is None:
            return None
        try:
            record: Row = msgspec.to_builtins(self.decoder.decode(line), builtin_types=self.builtins)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None
        lowered = line.lower()
        if any(word in lowered for word in _NOT_FINITE) and not self.finite(record):
            return None
        return record


def typed_rows(binding: Binding, shape: ShapeSpec, joined: set[str]
               ) -> Iterator[tuple[Located, bool]]:
    """The rows of a source, each with whether it is typed already (a plain JSON Lines line) or
    raw (everything else: the caller coerces it)."""
    if binding.kind != "jsonl":
        for loc in read_raw(binding):
            yield loc, False
        return
    read_raw(binding)  # checks the file as the exact path does (missing, a folder...), reads nothing
    typed = TypedLines(shape, joined)
    file = binding.location
    with _file_errors(file), open(file, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            record = typed.decode(line)
            if record is not None:
                yield Located(record, file, number), True
            else:
                yield Located(jsonl_object(line, file, number), file, number), False
