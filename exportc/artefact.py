"""The compiled artefact: what the compiler hands the runtime, and the contract between the
generated code and the runtime.

Plain data only (no AST, no IR, no schema objects), so the runtime never imports the compiler:
the generated Python source and its line map, and descriptions of params, tables, sources and
top-level blocks.

The contract lives here because both sides import this module: the generated module defines
``bind(P, T, RUN, warn)`` (``Bind``), which takes the run context as a ``RunValues`` and returns a
``Bound`` holding each block's entry points (``BlockEntry``). The names of the generated
functions (``block_0``, ``where_0``…) come from the functions below, so the compiler writes
and a test checks the same names; the runtime only ever reaches them through ``Bound``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class TypeSpec:
    name: str  # text, int, decimal, bool, date, datetime, list, any
    nullable: bool = False
    elem: TypeSpec | None = None

    def __str__(self) -> str:
        base = f"list[{self.elem}]" if self.name == "list" and self.elem else self.name
        return base + ("?" if self.nullable else "")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: TypeSpec
    default: object
    has_default: bool
    description: str | None
    line: int


@dataclass(frozen=True)
class TableSpec:
    name: str
    key_type: TypeSpec
    value_type: TypeSpec
    entries: dict[object, object] | None
    file: str | None  # absolute path of the CSV, for tables read at run time
    policy: str  # fail | default | passthrough
    default: object
    description: str | None


@dataclass(frozen=True)
class ShapeSpec:
    """The typed fields of a source record or nested list."""

    name: str
    key: tuple[str, ...]
    window: str | None
    fields: dict[str, TypeSpec]
    lists: dict[str, ShapeSpec]
    refs: dict[str, tuple[str, tuple[str, ...]]]
    join_source: str | None = None
    join_on: tuple[str, ...] = ()
    # The fields the profile reads of this source's records through a ref (``klant.Naam``), so
    # that an index of referenced records keeps only those (none: only that the record exists).
    # None: not known (a shape built by hand), keep whole records.
    ref_reads: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SetCheckSpec:
    fn: str  # no_overlap | unique
    severity: str
    message: str
    file: str
    line: int


@dataclass(frozen=True)
class BlockSpec:
    index: int
    containers: tuple[str, ...]
    element: str
    source: str | None
    set_checks: tuple[SetCheckSpec, ...]
    file: str
    line: int
    uses_change: bool = False  # offered deleted records too
    uses_previous: bool = False  # runs only for records delivered before
    document: str | None = None  # a document-per-record block: the kind (root) it writes
    nodes: dict[str, int] = field(default_factory=dict)  # element path -> profile line writing it


@dataclass(frozen=True)
class DocumentSpec:
    """A kind of document a document-per-record profile writes (Invoice, CreditNote)."""

    root: str
    schema_path: str
    namespaces: dict[str, str]
    schematron: tuple[str, ...] = ()  # absolute paths of compiled Schematron (XSLT) stylesheets


@dataclass(frozen=True)
class Artefact:
    name: str
    title: str | None
    files: tuple[str, ...]
    schema_path: str
    schema_digest: str
    root: str
    namespaces: dict[str, str]  # prefix ("" = default) -> URI, declared on the root
    history: str
    params: tuple[ParamSpec, ...]
    tables: tuple[TableSpec, ...]
    sources: dict[str, ShapeSpec]
    blocks: tuple[BlockSpec, ...]
    python: str
    linemap: tuple[tuple[str, int], ...]  # generated line (1-based) -> (profile file, line)
    run_fields: tuple[str, ...] = ()  # the run fields (``run.booking_date``…) the profile reads
    rules: dict[str, str] = field(default_factory=dict)  # "file:line" -> that profile line, for reports
    documents: dict[str, DocumentSpec] = field(default_factory=dict)  # root -> kind; empty: one file

    def rule_text(self, file: str | None, line: int | None) -> str | None:
        """The profile line a problem points at (a rule, check or block header), as written."""
        return self.rules.get(f"{file}:{line}") if file and line else None

    def source_line(self, generated_line: int) -> tuple[str, int] | None:
        """The profile file and line that a line of generated code came from."""
        if 1 <= generated_line <= len(self.linemap):
            loc = self.linemap[generated_line - 1]
            return loc if loc[1] > 0 else None
        return None


# ---- the contract between generated code and the runtime -------------------------------------

# The names generated code may import from ``exportc.runtime.api`` (its ``__all__``).
RUNTIME_API: tuple[str, ...] = (
    "D0",
    "DOUBLE_MAX",
    "FLOAT_MAX",
    "Decimal",
    "RecordError",
    "Table",
    "check_facets",
    "check_failed",
    "check_len",
    "date",
    "date_add",
    "date_diff",
    "date_sub",
    "datetime",
    "div",
    "esc_attr",
    "esc_attr_len",
    "esc_text",
    "esc_text_len",
    "fixed_float",
    "fmt_dec",
    "fmt_float",
    "fn_abs",
    "fn_after",
    "fn_before",
    "fn_coalesce",
    "fn_contains",
    "fn_decimal",
    "fn_fixed",
    "fn_format",
    "fn_int",
    "fn_join",
    "fn_length",
    "fn_lower",
    "fn_max",
    "fn_min",
    "fn_pad",
    "fn_replace",
    "fn_round",
    "fn_substring",
    "fn_text",
    "fn_trim",
    "fn_upper",
    "getf",
    "group_by",
    "max_of",
    "min_of",
    "n_add",
    "n_concat",
    "n_div",
    "n_mul",
    "n_neg",
    "n_sub",
    "show_message",
    "sum_of",
    "too_few",
    "too_many",
)

BIND = "bind"  # the generated module's one public function (see ``Bind``)
GLOBAL_CHECKS = "global_checks"  # the profile's top-level checks, run once before any record


def emit_name(block: int) -> str:
    """The generated function that writes one record of block ``block``."""
    return f"block_{block}"


def where_name(block: int) -> str:
    """The generated test of whether block ``block`` takes a record (its ``where``)."""
    return f"where_{block}"


def file_name_name(block: int) -> str:
    """The generated function naming a document-per-record block's file."""
    return f"file_{block}"


def set_check_name(block: int, check: int) -> str:
    """The generated function giving one record's values for a set-level check."""
    return f"set_{block}_{check}"


def dispatch_name(source: str) -> str:
    """The generated function choosing, once per record of ``source``, the blocks it goes to."""
    return f"dispatch_{source}"


@dataclass(frozen=True)
class RunValues:
    """The run context a profile reads as ``run.<name>`` (see ``RUN_FIELDS``)."""

    date_from: dt.date | None
    date_to: dt.date | None
    booking_date: dt.date | None
    description: str | None
    mode: str
    started: dt.datetime
    profile: str


# `run.<name>` in a profile -> the ``RunValues`` attribute the generated code binds it from.
RUN_FIELDS: dict[str, str] = {
    "from": "date_from", "to": "date_to", "booking_date": "booking_date",
    "description": "description", "mode": "mode", "started": "started", "profile": "profile",
}

Record = dict[str, Any]
# emit(record, change, previous, write): writes the record's element (nothing when it has none).
Emit = Callable[[Record | None, str, Record | None, Callable[[str], object]], None]
# where(record, change, previous) / file_name(...): a block's selection, a document's file name.
Where = Callable[[Record | None, str | None, Record | None], object]
FileName = Callable[[Record | None, str | None, Record | None], str]
# set_check(record) -> (the `per` values, the checked values)
SetCheck = Callable[[Record], tuple[tuple[Any, ...], tuple[Any, ...]]]
Warn = Callable[[str, str, int], None]


@dataclass(frozen=True)
class BlockEntry:
    """One top-level block's entry points in the bound module."""

    emit: Emit
    where: Where | None = None
    file_name: FileName | None = None
    set_checks: tuple[SetCheck, ...] = ()
    # Decided before any record (compiler/dispatch.py): False when the params and run rule the
    # block out (its ``where`` would be false for every record); the change kinds it takes.
    active: bool = True
    changes: frozenset[str] | None = None


@dataclass(frozen=True)
class Bound:
    """What ``bind`` returns: every block's entry points, by block index, and the top-level
    checks (None when the profile has none)."""

    blocks: Mapping[int, BlockEntry]
    global_checks: Callable[[], None] | None = None


class Bind(Protocol):
    """The generated module's ``bind``: params, tables, run context and the warning sink in,
    the block functions out."""

    def __call__(self, P: Mapping[str, Any], T: Mapping[str, Any], RUN: RunValues,
                 warn: Warn) -> Bound: ...
