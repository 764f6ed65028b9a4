"""Source readers: CSV, JSON, JSON Lines and SQL, coerced to the declared types.

Rows stream: a CSV, JSON or JSON Lines file is never loaded whole. A nested list may come from a flat
source joined by key (``invoice_lines.csv`` joined to ``invoices.csv``): when both files are
sorted by the key the join streams; otherwise the child rows are grouped in memory first.
Every bad value is a ``SourceError`` naming file, row, field and value.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from exportc.artefact import ShapeSpec, TypeSpec
from exportc.runtime.jsonarray import JsonArrayError, iter_array, json_object, value_error
from exportc.runtime.secrets import REDACTED, expand
from exportc.values import bounded, format_value, parse_scalar

Row = dict[str, Any]
_SURROGATE = re.compile("[\ud800-\udfff]")



class SourceError(Exception):
    """A source cannot be read, or one of its values is wrong; says where."""

    def __init__(self, message: str, file: str, row: int | None = None, field: str | None = None,
                 value: object = None, code: str = "E0502") -> None:
        where = file + (f", row {row}" if row is not None else "")
        where += f", field `{field}`" if field else ""
        super().__init__(f"{where}: {message}")
        self.message, self.file, self.row, self.field, self.value = message, file, row, field, value
        self.code = code


class Located(NamedTuple):
    """A raw row with where it came from (a tuple: one is made per row read, and a frozen
    dataclass costs four times as much to make)."""

    row: Row
    file: str
    number: int


@dataclass(frozen=True)
class Binding:
    """``--source NAME=PATH`` (or a SQLAlchemy URL and a query)."""

    name: str
    location: str
    query: str | None = None

    @property
    def is_sql(self) -> bool:
        return "://" in self.location

    @property
    def kind(self) -> str:
        if self.is_sql:
            return "sql"
        suffix = Path(self.location).suffix.lower()
        return {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "?")


# ---- raw readers ------------------------------------------------------------------------------

def read_raw(b: Binding) -> Iterator[Located]:
    """Rows of a source as they are in the file (strings for CSV, JSON values for JSON)."""
    kind = b.kind
    if kind == "?":
        raise SourceError("unknown file type; use .csv, .json, .jsonl or a database URL",
                          b.location, code="E0501")
    if kind == "sql":
        return _read_sql(b)
    path = Path(b.location)
    if not path.is_file():
        raise SourceError("is a folder, not a file" if path.is_dir() else "file not found",
                          b.location, code="E0501")
    return {"csv": _read_csv, "json": _read_json, "jsonl": _read_jsonl}[kind](b.location)


@contextmanager
def _file_errors(file: str) -> Iterator[None]:
    """What can go wrong reading any source file, as a SourceError naming the file."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 (byte 0x{exc.object[exc.start]:02x})", file,
                          code="E0501") from None
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror}", file, code="E0501") from None


def _read_csv(file: str) -> Iterator[Located]:
    with _file_errors(file), open(file, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise SourceError("is empty: a CSV source needs at least its header row", file,
                              code="E0501") from None
        except csv.Error as exc:
            raise SourceError(f"bad CSV: {exc}", file, 1, code="E0501") from None
        header = [h.strip() for h in header]
        _check_delimiter(header, file)
        width = len(header)
        number = 1
        try:
            for number, cells in enumerate(reader, start=2):
                if not cells:
                    continue
                if len(cells) != width:
                    raise SourceError(f"expected {width} columns, found {len(cells)}", file, number)
                yield Located(dict(zip(header, cells, strict=True)), file, number)
        except csv.Error as exc:
            raise SourceError(f"bad CSV: {exc}", file, number + 1, code="E0501") from None


def _check_delimiter(header: list[str], file: str) -> None:
    """A header of one column that holds another separator: the file is not `,`-separated."""
    if len(header) != 1:
        return
    for sep, name in ((";", "`;`"), ("\t", "a tab"), ("|", "`|`")):
        if header[0].count(sep) >= 1:
            raise SourceError(f"the header has one column, `{header[0][:60]}`: the file seems "
                              f"separated by {name}, but a CSV source is separated by `,`", file, 1,
                              code="E0501")


def _loads(text: str, file: str, number: int) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, object_pairs_hook=json_object)
    except json.JSONDecodeError as exc:
        raise SourceError(f"invalid JSON: {exc.msg} (column {exc.colno})", file, number,
                          code="E0501") from None
    except ValueError as exc:  # a key twice, or an integer of more than 4300 digits
        raise SourceError(f"invalid JSON: {value_error(exc)}", file, number, code="E0501") from None


def jsonl_object(line: str, file: str, number: int) -> Row:
    """One line of a JSON Lines file as a raw row; a line that is not a JSON object is an error."""
    obj = _loads(line, file, number)
    if not isinstance(obj, dict):
        raise SourceError("each line must be a JSON object", file, number, code="E0501")
    return obj


def _read_jsonl(file: str) -> Iterator[Located]:
    with _file_errors(file), open(file, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            yield Located(jsonl_object(line, file, number), file, number)


def _read_json(file: str) -> Iterator[Located]:
    """A JSON array of objects, item by item (``jsonarray``): memory stays flat however long it is."""
    with _file_errors(file), open(file, encoding="utf-8-sig") as fh:
        try:
            for number, obj in enumerate(iter_array(fh), start=1):
                if not isinstance(obj, dict):
                    raise SourceError(f"item {number} is not an object", file, number, code="E0501")
                yield Located(obj, file, number)
        except JsonArrayError as exc:
            raise SourceError(f"invalid JSON: {exc}", file, exc.item, code="E0501") from None


def _read_sql(b: Binding) -> Iterator[Located]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    query = b.query or f'SELECT * FROM "{b.name}"'
    shown = b.location.split("@")[-1]  # never print a password
    if REDACTED in b.location.split("@")[0]:
        raise SourceError("the password of this URL was not stored with the run; give it through "
                          "the environment instead, as `${NAME}` in the URL", shown, code="E0501")
    try:
        engine = create_engine(expand(b.location))
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SourceError(f"cannot open the database: {exc}", shown, code="E0501") from None
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(text(query))
            keys = list(result.keys())
            for number, row in enumerate(result, start=1):
                yield Located(dict(zip(keys, row, strict=True)), shown, number)
    except SQLAlchemyError as exc:
        raise SourceError(f"query failed: {str(exc).splitlines()[0]}", shown,
                          code="E0501") from None
    finally:
        engine.dispose()


# ---- coercion ---------------------------------------------------------------------------------

def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("is true/false, not a number")
    if isinstance(v, int):
        return v
    if isinstance(v, Decimal | float):
        if v != int(v):
            raise ValueError(f"`{v}` is not a whole number")
        return int(v)
    return parse_scalar(str(v), "int")  # type: ignore[return-value]


def _to_decimal(v: Any) -> Decimal:
    if isinstance(v, bool):
        raise ValueError("is true/false, not a number")
    if isinstance(v, Decimal):
        return bounded(v)
    if isinstance(v, int):
        return bounded(Decimal(v))
    if isinstance(v, float):  # only from databases with binary floats; shortest repr, no noise
        try:
            return _to_decimal(Decimal(repr(v)))
        except InvalidOperation:
            raise ValueError(f"`{v}` is not a number") from None
    return parse_scalar(str(v), "decimal")  # type: ignore[return-value]


def _to_text(v: Any) -> str:
    if isinstance(v, str):
        if not v.isascii() and (bad := _SURROGATE.search(v)):
            raise ValueError(f"contains a lone surrogate (U+{ord(bad.group()):04X}), which is not a "
                             "character: the source is not valid Unicode text")
        return v
    if isinstance(v, (bool, dict | list)):
        raise ValueError(f"expected text, found {json.dumps(v, default=str)[:40]}")
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    return parse_scalar(str(v), "bool")  # type: ignore[return-value]


def _to_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        if v.time() != dt.time():
            raise ValueError(f"`{v}` has a time; a date is expected")
        return v.date()
    if isinstance(v, dt.date):
        return v
    return parse_scalar(str(v), "date")  # type: ignore[return-value]


def _to_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return parse_scalar(str(v), "datetime")  # type: ignore[return-value]


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int, "decimal": _to_decimal, "text": _to_text, "bool": _to_bool,
    "date": _to_date, "datetime": _to_datetime, "any": lambda v: v,
}


def converter(t: TypeSpec) -> Callable[[Any], Any]:
    """A function from a raw value to the declared type (not handling null)."""
    if t.name == "list":
        inner = converter(t.elem) if t.elem else (lambda v: v)

        def to_list(v: Any) -> tuple[Any, ...]:
            items = [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v
            if not isinstance(items, list | tuple):
                raise ValueError("expected a list")
            return tuple(inner(x) for x in items)
        return to_list
    return _CONVERTERS[t.name]


class Coercer:
    """Turns raw rows of one shape into typed records (dicts with every declared field)."""

    def __init__(self, shape: ShapeSpec, joined: set[str] | None = None) -> None:
        self.shape = shape
        self.fields = [(name, converter(t), t.nullable, str(t)) for name, t in shape.fields.items()]
        self.lists = {name: Coercer(sub) for name, sub in shape.lists.items()}
        self.joined = joined or set()  # lists filled by a join, not from the row itself

    def __call__(self, raw: Row, file: str, number: int) -> Row:
        out: Row = {}
        for name, conv, nullable, tname in self.fields:
            v = raw.get(name)
            if v is None or v == "":
                if not nullable:
                    present = name in raw
                    raise SourceError("has no value" if present else "is missing", file, number,
                                      name, v, code="E0503")
                out[name] = None
                continue
            try:
                out[name] = conv(v)
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise SourceError(f"{exc} (expected {tname})", file, number, name, v) from None
        for name, sub in self.lists.items():
            if name in self.joined:
                continue
            items = raw.get(name)
            if items is None:
                if sub.shape.join_source:
                    raise SourceError(f"has no `{name}`; bind `--source {sub.shape.join_source}=...` "
                                      "or nest the list in the record", file, number, name,
                                      code="E0503")
                items = []
            if not isinstance(items, list):
                raise SourceError("must be a list of objects", file, number, name, code="E0502")
            rows = []
            for item in items:
                if not isinstance(item, dict):
                    raise SourceError("must be a list of objects", file, number, name,
                                      code="E0502")
                rows.append(sub(item, file, number))
            out[name] = rows
        return out

    def check_header(self, row: Row, file: str) -> None:
        """For CSV: every non-nullable column must exist (reported once, not per row)."""
        missing = [n for n, _c, nullable, _t in self.fields if not nullable and n not in row]
        if missing:
            import difflib
            hints = []
            for m in missing:
                close = difflib.get_close_matches(m, list(row), n=1)
                hints.append(f"`{m}`" + (f" (found `{close[0]}`)" if close else ""))
            raise SourceError(f"missing column(s) {', '.join(hints)}", file, code="E0503")


def record_key(shape: ShapeSpec, record: Row) -> str:
    """A record's key as text: ``Factuurnummer=2026001``."""
    return ", ".join(f"{k}={format_value(record.get(k))}" for k in shape.key)


def key_text(shape: ShapeSpec) -> Callable[[Row], str]:
    """``record_key`` for the records of one shape, as a function made once: a run keys every
    record, and a key of one text field (the usual) is then one concatenation."""
    if len(shape.key) != 1:
        return lambda record: record_key(shape, record)
    name = shape.key[0]
    prefix = f"{name}="

    def one(record: Row) -> str:
        value = record.get(name)
        return prefix + (value if type(value) is str else format_value(value))
    return one
