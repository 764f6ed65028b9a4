"""Lookup tables kept in CSV files beside a profile: read by the compiler (``exportc check``)
and again by the runtime when a run starts, so a customer can update a table without
recompiling. A header row, then ``key,value`` rows, parsed by the table's declared types."""

from __future__ import annotations

import csv
from pathlib import Path

from exportc.values import parse_scalar


class TableFileError(Exception):
    """A table file is missing or has a bad row; the message names file and row."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def read_table_csv(path: Path, key_type: str, value_type: str) -> dict[object, object]:
    """A two-column CSV (header row, then key,value rows) as a typed dict."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise TableFileError(f"file not found: {path}",
                             "table files are found relative to the profile") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TableFileError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise TableFileError(f"{path} is empty", "the first row names the two columns")
    out: dict[object, object] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise TableFileError(f"{path}, row {n}: expected 2 columns, found {len(row)}")
        try:
            key = parse_scalar(row[0], key_type)
            value = parse_scalar(row[1], value_type)
        except ValueError as exc:
            raise TableFileError(f"{path}, row {n}: {exc}") from None
        if key in out:
            raise TableFileError(f"{path}, row {n}: key {row[0]!r} appears twice")
        out[key] = value
    return out
