"""The compiled artefact: what the compiler hands the runtime.

Plain data only (no AST, no IR, no schema objects), so the runtime never imports the compiler:
the generated Python source and its line map, and descriptions of params, tables, sources and
top-level blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    position: int
    element: str
    source: str | None
    has_where: bool
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
    has_global_checks: bool = False
    extra: dict[str, object] = field(default_factory=dict)
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
