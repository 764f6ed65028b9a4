"""Lookup tables read from CSV at run time (so a customer can update them without recompiling)."""

from __future__ import annotations

import csv

from exportc.artefact import TableSpec
from exportc.runtime.sources import SourceError
from exportc.values import parse_scalar


def read_table(t: TableSpec) -> dict[object, object]:
    """A two-column CSV (header, then key,value rows) as a typed dict; errors name file and row."""
    assert t.file is not None
    try:
        with open(t.file, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise SourceError(f"table `{t.name}`: file not found", t.file, code="E0505") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"table `{t.name}`: cannot read: {exc}", t.file, code="E0505") from None
    out: dict[object, object] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise SourceError(f"table `{t.name}`: expected 2 columns, found {len(row)}", t.file, n,
                              code="E0505")
        try:
            key = parse_scalar(row[0], t.key_type.name)
            value = parse_scalar(row[1], t.value_type.name)
        except ValueError as exc:
            raise SourceError(f"table `{t.name}`: {exc}", t.file, n, code="E0505") from None
        if key in out:
            raise SourceError(f"table `{t.name}`: key {row[0]!r} appears twice", t.file, n,
                              code="E0505")
        out[key] = value
    return out
