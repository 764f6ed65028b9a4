"""JSON Lines records decoded and coerced in one C pass, by a decoder made per declared shape.

For each source the declared fields become a msgspec ``Struct`` type, so parsing a line and
coercing its values to the declared types is one call into C instead of ``json.loads`` plus a
Python call per value. That fast path only ever takes the values whose coercion is plain: text
that is not empty, whole JSON numbers for ints, numbers or decimal strings for decimals, ISO
``YYYY-MM-DD`` for dates, ``true``/``false``, every declared field given once (null or not) and
no other. Anything else (an empty text that means null, ``"12"`` for an int, ``0``/``"ja"`` for a
bool, a missing or extra key, a bad value, a line that is not JSON) makes the fast path
decline the line, and it goes through the exact path (``json`` + ``sources.Coercer``), which
accepts, converts or reports it word for word as always. So the records and the errors are the
same; only the plain lines get faster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.runtime.sources import Binding, Located, Row, _file_errors, jsonl_object, read_raw
from exportc.values import MAX_DIGITS, bounded


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
    """A Struct type for ``shape`` (every field present, nothing else), or None when a field
    needs the exact path for every record."""
    fields: list[tuple[str, Any]] = []
    for name, t in shape.fields.items():
        ftype = _field_type(t)
        if ftype is None:
            return None
        fields.append((name, ftype))
    for name, sub in shape.lists.items():
        if name in joined:
            continue  # filled by the join: a line that holds it anyway takes the exact path
        item = _struct(sub, set())
        if item is None:
            return None
        fields.append((name, list[item]))  # type: ignore[valid-type]
    return msgspec.defstruct(f"_{shape.name.replace('.', '_')}", fields, forbid_unknown_fields=True)


def _within(d: Decimal) -> bool:
    """``bounded(d)`` without raising, cheaply for the usual amount: a finite decimal whose plain
    text (no exponent) has at most MAX_DIGITS characters has at most that many digits either side
    of the point; anything else asks ``bounded`` itself."""
    if d.is_finite():
        text = str(d)
        if len(text) <= MAX_DIGITS and "E" not in text:
            return True
    try:
        bounded(d)
    except ValueError:
        return False
    return True


class _Plain:
    """What msgspec does not check itself, checked on a decoded record of one shape.

    A key given twice: JSON allows it, exportc refuses it, msgspec keeps the last. Each key is
    followed by a `:`, and msgspec has made sure every declared key is there and no other, so
    a line has a key twice exactly when it holds more colons than its objects have fields plus
    the colons inside its texts. And every decimal within ``bounded``."""

    def __init__(self, shape: ShapeSpec, joined: set[str]) -> None:
        lists = [n for n in shape.lists if n not in joined]
        self.size = len(shape.fields) + len(lists)
        self.texts = [n for n, t in shape.fields.items() if t.name == "text"]
        self.decimals = [n for n, t in shape.fields.items() if t.name == "decimal"]
        self.lists = [(n, _Plain(shape.lists[n], set())) for n in lists]

    def keys(self, o: Row) -> int:
        """How many keys the objects of a record hold (one per field, nested lists too)."""
        return self.size + sum(sub.keys(item) for name, sub in self.lists for item in o[name])

    def text_colons(self, o: Row) -> int:
        own: int = sum(o[n].count(":") for n in self.texts if o[n] is not None)
        return own + sum(sub.text_colons(item) for name, sub in self.lists for item in o[name])

    def bounded(self, o: Row) -> bool:
        for name in self.decimals:
            if o[name] is not None and not _within(o[name]):
                return False
        return all(sub.bounded(item) for name, sub in self.lists for item in o[name])

    def holds(self, line: str, record: Row) -> bool:
        colons = line.count(":")
        keys = self.keys(record)
        if colons != keys:  # texts with colons, or a key twice
            if "\\" in line or colons != keys + self.text_colons(record):
                return False  # (an escaped colon in a text would blur the count)
        return self.bounded(record)


class TypedLines:
    """Decodes one JSON Lines source's lines straight into typed records, where it can."""

    def __init__(self, shape: ShapeSpec, joined: set[str]) -> None:
        struct = _struct(shape, joined)
        self.decoder = msgspec.json.Decoder(struct, float_hook=Decimal) if struct is not None else None
        self.plain = _Plain(shape, joined)
        self.builtins = (Decimal, dt.date)

    def decode(self, line: str) -> Row | None:
        """The typed record of a plain line, or None: the exact path must take it."""
        if self.decoder is None:
            return None
        try:
            record: Row = msgspec.to_builtins(self.decoder.decode(line), builtin_types=self.builtins)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None
        return record if self.plain.holds(line, record) else None


def typed_rows(binding: Binding, shape: ShapeSpec, joined: set[str]
               ) -> Iterator[tuple[Located, bool]]:
    """The rows of a source, each with whether it is typed already (a plain JSON Lines line) or
    raw (everything else: the caller coerces it)."""
    if binding.kind != "jsonl":
        for loc in read_raw(binding):
            yield loc, False
        return
    typed = TypedLines(shape, joined)
    for line, file, number in jsonl_lines(binding):
        yield typed_line(typed, line, file, number)


def jsonl_lines(binding: Binding) -> Iterator[tuple[str, str, int]]:
    """The lines of a JSON Lines source that hold something, with file and line number."""
    read_raw(binding)  # checks the file as the exact path does (missing, a folder...), reads nothing
    file = binding.location
    with _file_errors(file), open(file, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield line, file, number


def typed_line(typed: TypedLines, line: str, file: str, number: int) -> tuple[Located, bool]:
    """One line as a typed record (a plain line) or a raw row the caller coerces; a line that
    is not a JSON object is a SourceError (E0501)."""
    record = typed.decode(line)
    if record is not None:
        return Located(record, file, number), True
    return Located(jsonl_object(line, file, number), file, number), False
