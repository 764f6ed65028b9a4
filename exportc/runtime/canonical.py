"""The canonical text of a record, by an encoder generated per source from its declared types.

The history stores, per delivered record, a content hash of this text and the text itself (the
values a later run reads back as ``previous``). Its format is fixed: what ``json.dumps(record,
sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, with decimals and dates as
JSON strings (``canonical`` below, kept as the reference). Histories written by earlier releases
hold hashes of exactly these bytes, so a faster encoder must write them byte for byte, or every
delivered record would look changed after an upgrade.

The generic encoder calls back into Python for every decimal and date and sorts keys per record;
the generated one knows each field's type and the sorted key order up front, so a record is one
f-string of per-field expressions (3-4x faster). Values of an undeclared shape (``any``) go
through the reference encoder.

A record the typed JSON Lines reader decoded (``typedjson``) holds exactly the declared fields,
each of exactly its declared type (msgspec checked them), so msgspec writes its canonical bytes
in C, keys sorted (``typed_encoder``, another 3x faster than the generated one). msgspec writes
every string, date, int, bool and null as ``json.dumps`` does (its strings tested over every
code point), and a decimal as ``str(d)``, which is the reference's ``format(d, "f")`` except in
exponent form (``1E+2``, ``1E-7``): any ``E+``/``E-`` in the bytes sends the record to the
generated encoder instead.

A ``ref`` field (another source's record, looked up by key) is not part of a record's content:
it is left out, so a changed customer does not make its invoices count as changed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

import msgspec

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.cache import compiled

Encoder = Callable[[dict[str, Any]], str]


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):  # and datetime
        return value.isoformat()
    raise TypeError(f"cannot record {type(value).__name__}")


def canonical(record: Any) -> str:
    """The reference encoding: canonical JSON (sorted keys, decimals and dates as strings)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def own(record: dict[str, Any], refs: tuple[str, ...]) -> dict[str, Any]:
    """A record without its ref fields (other sources' records)."""
    return {k: v for k, v in record.items() if k not in refs} if refs else record


def _str(v: str) -> str:
    return encode_basestring(v)  # type: ignore[no-any-return]


def _scalar(t: TypeSpec, var: str) -> str:
    """A Python expression for the canonical text of a value of type ``t`` in ``var``: inline
    for a value of exactly the declared Python type, else the reference encoder, which decides
    exactly as ``json.dumps`` always did (an ``any`` field, an odd value from a test)."""
    inline = {"text": ("str", f"_str({var})"), "int": ("int", f"_int({var})"),
              "decimal": ("Decimal", f"f'\"{{{var}:f}}\"'"),
              "date": ("date", f"f'\"{{{var}.isoformat()}}\"'"),
              "datetime": ("datetime", f"f'\"{{{var}.isoformat()}}\"'"),
              "bool": ("bool", f"('true' if {var} else 'false')")}.get(t.name)
    if inline is None:
        return f"_canonical({var})"
    exact, expr = inline
    return f"({expr} if type({var}) is {exact} else _canonical({var}))"


def _literal(text: str) -> str:
    """``text`` as the literal part of a single-quoted f-string."""
    return (text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "{{").replace("}", "}}")
            .replace("\n", "\\n").replace("\r", "\\r"))


def _source(shape: ShapeSpec, name: str, out: list[str]) -> str:
    """Append the encoder function of ``shape`` (and those of its nested lists) to ``out``."""
    subs = {field: _source(sub, f"{name}_{n}", out) for n, (field, sub) in enumerate(shape.lists.items())}
    keys = sorted([*shape.fields, *shape.lists])
    refs = tuple(sorted(shape.refs))
    lines = [f"def {name}(r):",
             f"    if len(r) != {len(keys) + len(refs)}" + "".join(f" or {k!r} not in r" for k in refs) + ":",
             f"        return _canonical(_own(r, {refs!r}))  # not the declared shape: the reference decides"]
    text = "{{"
    for i, key in enumerate(keys):
        var = f"v{i}"
        if key in shape.fields:
            value = _scalar(shape.fields[key], var)
        else:
            value = f"'[' + ','.join([{subs[key]}(x) for x in {var}]) + ']'"
        lines.append(f"    {var} = r[{key!r}]")
        lines.append(f"    {var} = 'null' if {var} is None else {value}")
        text += _literal(("," if i else "") + _str(key) + ":") + "{" + var + "}"
    lines.append(f"    return f'{text}}}}}'")
    out.append("\n".join(lines))
    return name


def encoder_source(shape: ShapeSpec) -> str:
    """The Python source of the generated encoder (``encode``) for records of ``shape``."""
    out: list[str] = []
    top = _source(shape, "_encode", out)
    out.append(f"def encode(r):\n    try:\n        return {top}(r)\n"
               "    except (KeyError, TypeError, AttributeError):  # not the declared shape\n"
               f"        return _canonical(_own(r, {tuple(sorted(shape.refs))!r}))")
    return "\n\n".join(out) + "\n"


def encoder(shape: ShapeSpec) -> Encoder:
    """A function from a typed record of ``shape`` to its canonical text (see module doc)."""
    namespace: dict[str, Any] = {"_str": encode_basestring, "_int": int.__repr__, "_own": own,
                                 "_canonical": canonical, "Decimal": Decimal, "date": dt.date,
                                 "datetime": dt.datetime}
    try:
        exec(compiled(encoder_source(shape), f"<canonical {shape.name}>"), namespace)
    except SyntaxError:  # a field name no f-string can hold: the reference is always right
        refs = tuple(shape.refs)
        return lambda r: canonical(own(r, refs))
    return namespace["encode"]  # type: ignore[no-any-return]



_SORTED = msgspec.json.Encoder(order="sorted")
_EXPONENT = re.compile(rb"E[+-]").search  # 5x faster than `b"E+" in data or b"E-" in data`

TypedEncoder = Callable[[dict[str, Any]], bytes | None]


def typed_encoder(shape: ShapeSpec) -> TypedEncoder:
    """For records of ``shape`` the typed reader decoded: their canonical text, UTF-8 encoded
    (see module doc), or None where msgspec's bytes might not be the reference's (a decimal in
    exponent form, or so it looks: a text holding ``E+``/``E-``) or it cannot write them (a
    lone surrogate): the generated encoder decides then."""
    refs = tuple(shape.refs)  # in the order the reader adds them to a record

    def encode(record: dict[str, Any]) -> bytes | None:
        # The refs are set aside for the call rather than the record copied without them (a
        # third of the cost); the reader added them last, and they go back last.
        held: list[tuple[str, Any]] = []
        try:
            for name in refs:
                held.append((name, record.pop(name)))
            data = _SORTED.encode(record)
        except (KeyError, msgspec.EncodeError, UnicodeEncodeError):
            return None
        finally:
            record.update(held)
        if b"E" in data and _EXPONENT(data):  # (one memchr first: most records hold no E)
            return None
        return data
    return encode
