"""JSON Lines records decoded and coerced in one C pass, by a decoder made per declared shape.

For each source the declared fields become a ``TypedDict`` type, so parsing a line and coercing
its values to the declared types is one call into msgspec's C decoder, which returns the record's
plain dicts, instead of ``json.loads`` plus a Python call per value; what msgspec does not check
(a key given twice or undeclared, a decimal out of bounds) a function generated per shape checks
(``plain_check``). That fast path only ever takes the values whose coercion is plain: text
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
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any, TypedDict

import msgspec

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.cache import compiled
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


def _typed_dict(shape: ShapeSpec, joined: set[str]) -> Any:
    """A TypedDict type for ``shape`` (every field required), or None when a field needs the
    exact path for every record. msgspec decodes a line straight into plain dicts of it; a key
    it does not declare is dropped there, so ``plain_check`` declines any line holding one."""
    fields: dict[str, Any] = {}
    for name, t in shape.fields.items():
        ftype = _field_type(t)
        if ftype is None:
            return None
        fields[name] = ftype
    for name, sub in shape.lists.items():
        if name in joined:
            continue  # filled by the join: a line that holds it anyway takes the exact path
        item = _typed_dict(sub, set())
        if item is None:
            return None
        fields[name] = list[item]  # type: ignore[valid-type]
    return TypedDict(f"_{shape.name.replace('.', '_')}", fields)  # type: ignore[operator]


def within(d: Decimal | None) -> bool:
    """``bounded(d)`` without raising (a null too), cheaply for the usual amount: a finite
    decimal whose plain text (no exponent) has at most MAX_DIGITS characters has at most that
    many digits either side of the point; anything else asks ``bounded`` itself."""
    if d is None:
        return True
    text = str(d)
    if len(text) <= MAX_DIGITS and "E" not in text and d.is_finite():
        return True
    try:
        bounded(d)
    except ValueError:
        return False
    return True


def plain_check(shape: ShapeSpec, joined: set[str]) -> str:
    """The source of ``holds(line, o)`` for one shape: whether a decoded line is plain, i.e.
    passes what msgspec does not check itself.

    A key given twice (JSON allows it, exportc refuses it, msgspec keeps the last) or one the
    shape does not declare (msgspec drops it): each key is followed by a `:`, and msgspec has
    made sure every declared key is there, so a line holds no other key exactly when it holds
    as many colons as its objects have declared fields, plus the colons inside its texts. And
    every decimal within ``bounded``. Generated per shape rather than a walk over it, because
    it runs for every line (for the Exact profile's invoices: 2.6 -> 0.9 us a line)."""
    body = ["def holds(line, o):", f"    keys = {_size(shape, joined)}"]
    body += _bounds(shape, joined, "o", 1)
    body += ["    colons = line.count(':')",
             "    if colons == keys:",
             "        return True",
             "    if '\\\\' in line:",
             "        return False  # an escaped colon in a text would blur the count",
             "    return colons == keys + text_colons(o)",
             "",
             "",
             "def text_colons(o):",
             "    n = 0"]
    body += _texts(shape, joined, "o", 1)
    return "\n".join([*body, "    return n", ""])


def _size(shape: ShapeSpec, joined: set[str]) -> int:
    return len(shape.fields) + sum(1 for n in shape.lists if n not in joined)


def _bounds(shape: ShapeSpec, joined: set[str], var: str, depth: int) -> list[str]:
    """Lines that fail the line on a decimal out of bounds and count the keys of the lists."""
    pad = "    " * depth
    out = []
    for name, t in shape.fields.items():
        if t.name == "decimal":  # within()'s usual case inline (a call per amount cost more)
            out += [f"{pad}d = {var}[{name!r}]",
                    f"{pad}if d is not None and (len(t := str(d)) > {MAX_DIGITS} or 'E' in t"
                    " or not d.is_finite()) and not within(d):",
                    f"{pad}    return False"]
    for name, sub in shape.lists.items():
        if name in joined:
            continue
        item = f"i{depth}"
        out.append(f"{pad}for {item} in {var}[{name!r}]:")
        out.append(f"{pad}    keys += {_size(sub, set())}")
        out += _bounds(sub, set(), item, depth + 1)
    return out


def _texts(shape: ShapeSpec, joined: set[str], var: str, depth: int) -> list[str]:
    """Lines that add the colons inside the texts of the objects to ``n``."""
    pad = "    " * depth
    out = [f"{pad}n += ({var}[{name!r}] or '').count(':')"
           for name, t in shape.fields.items() if t.name == "text"]
    for name, sub in shape.lists.items():
        if name in joined:
            continue
        item = f"i{depth}"
        out.append(f"{pad}for {item} in {var}[{name!r}]:")
        out += _texts(sub, set(), item, depth + 1) or [f"{pad}    pass"]
    return out


class TypedLines:
    """Decodes one JSON Lines source's lines straight into typed records, where it can."""

    def __init__(self, shape: ShapeSpec, joined: set[str]) -> None:
        typed = _typed_dict(shape, joined)
        self.decoder = msgspec.json.Decoder(typed, float_hook=Decimal) if typed is not None else None
        namespace: dict[str, Any] = {"within": within}
        exec(compiled(plain_check(shape, joined), f"<exportc plain check of {shape.name}>"), namespace)
        self.holds: Callable[[str, Row], bool] = namespace["holds"]

    def decode(self, line: str) -> Row | None:
        """The typed record of a plain line, or None: the exact path must take it."""
        if self.decoder is None:
            return None
        try:
            record: Row = self.decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None
        return record if self.holds(line, record) else None


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
