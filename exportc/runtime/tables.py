"""Lookup tables read from CSV at run time (so a customer can update them without recompiling)."""

from __future__ import annotations

from pathlib import Path

from exportc.artefact import TableSpec
from exportc.runtime.sources import SourceError
from exportc.tablefile import TableFileError, read_table_csv


def read_table(t: TableSpec) -> dict[object, object]:
    """The table's entries; a problem is a ``SourceError`` naming the table, file and row."""
    assert t.file is not None
    try:
        return read_table_csv(Path(t.file), t.key_type.name, t.value_type.name)
    except TableFileError as exc:
        raise SourceError(f"table `{t.name}`: {exc}", t.file, code="E0505") from None
