"""The checked intermediate representation: resolved, typed, ordered by the target schema.

Built from the AST by ``resolve`` and ``plan_targets``; turned into Python by ``codegen``.
Expressions here no longer contain names: every reference says what it is (a field of the record
at a given depth, a param, a table lookup, the run context).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exportc.compiler.schema import SimpleType
from exportc.compiler.types import Type
from exportc.diagnostics import Span

# ---- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: object
    type: Type


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field of the record at ``depth`` (0 = the outermost ``for`` record)."""

    depth: int
    name: str
    type: Type


@dataclass(frozen=True, slots=True)
class ParamRef:
    name: str
    type: Type


@dataclass(frozen=True, slots=True)
class RunRef:
    """``run.from``, ``run.booking_date``...; ``change`` is ``RunRef("change")``."""

    name: str
    type: Type


@dataclass(frozen=True, slots=True)
class PreviousRef:
    """``previous.X``: what was delivered before for the current top-level record."""

    name: str
    type: Type


@dataclass(frozen=True, slots=True)
class Lookup:
    table: str
    key: Expr
    type: Type


@dataclass(frozen=True, slots=True)
class Op:
    """An operator or library function applied to arguments (see codegen for each ``op``)."""

    op: str
    args: tuple[Expr, ...]
    type: Type


@dataclass(frozen=True, slots=True)
class Cond:
    cond: Expr
    then: Expr
    otherwise: Expr
    type: Type


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``sum``/``count`` over a list field; ``body`` sees the element at depth ``elem_depth``."""

    fn: str
    source: Expr
    elem_depth: int
    body: Expr | None
    type: Type


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    type: Type


Expr = Const | FieldRef | ParamRef | RunRef | PreviousRef | Lookup | Op | Cond | Aggregate | ListExpr


# ---- target plan -----------------------------------------------------------------------------


@dataclass
class Slot:
    """A value written into an attribute or an element's text."""

    expr: Expr
    xsd: SimpleType
    required: bool
    span: Span
    target: str  # the full target path, for messages


# A check's message: text and the values of its ``{placeholders}``, in order.
Message = tuple[str | Expr, ...]


@dataclass
class Check:
    cond: Expr
    severity: str
    message: Message
    span: Span


@dataclass
class SetCheck:
    """``check no_overlap(start, end) per employee`` / ``check unique(x)`` over a block's records."""

    fn: str
    args: tuple[Expr, ...]
    per: tuple[Expr, ...]
    severity: str
    message: str
    span: Span


@dataclass
class Occurs:
    """A run-time count of one child element that several sibling blocks (or a ``for``) write.

    The schema's ``minOccurs``/``maxOccurs`` bound the element under one parent, whichever blocks
    write it, so the count runs across all of them. A bound the blocks guarantee at compile time
    (an unconditional sibling) is not checked again: ``minimum`` is 0 and ``maximum`` None then.
    """

    name: str
    minimum: int
    maximum: int | None
    span: Span


@dataclass
class Element:
    """One element to write: its attributes, text and children in schema order."""

    name: str
    attrs: list[tuple[str, Slot]] = field(default_factory=list)
    text: Slot | None = None
    children: list[tuple[int, Element | Repeat]] = field(default_factory=list)
    when: Expr | None = None
    checks: list[Check] = field(default_factory=list)
    implicit: bool = False  # created by a path like ForeignAmount/Value, not by a block
    span: Span | None = None
    occurs: list[Occurs] = field(default_factory=list)  # children counted at run time


@dataclass
class Repeat:
    """An element written once per element of a list field (``InvoiceLine for Regels``)."""

    source: Expr
    depth: int
    element: Element
    where: Expr | None
    span: Span
    group_by: tuple[str, ...] = ()  # ``for Regels by BTW_code``: one element per group
    list_name: str = ""


@dataclass
class TopBlock:
    """A top-level block: containers under the root, then one element per source record."""

    index: int
    containers: tuple[str, ...]
    position: int  # schema position of the first container under the root
    source: str | None
    where: Expr | None
    element: Element
    set_checks: list[SetCheck]
    span: Span
    document: str | None = None  # the root of a document-per-record block (its kind)
    file: Expr | None = None  # that block's file name per record


@dataclass
class Param:
    name: str
    type: Type
    default: object
    has_default: bool
    description: str | None
    span: Span


@dataclass
class Table:
    name: str
    key_type: Type
    value_type: Type
    entries: dict[object, object] | None  # None: read from ``file`` at run time
    file: str | None
    policy: str
    default: object
    description: str | None
    span: Span


@dataclass
class SourceShape:
    """Typed fields of a source or a nested list, with key, window and join."""

    name: str
    key: tuple[str, ...]
    window: str | None
    fields: dict[str, Type]
    lists: dict[str, SourceShape]
    refs: dict[str, tuple[str, tuple[str, ...]]]
    join_source: str | None = None
    join_on: tuple[str, ...] = ()
    span: Span | None = None


@dataclass
class DocumentKind:
    """A target of a document-per-record profile: one kind of document (Invoice, CreditNote)."""

    root: str
    schema_path: str
    schema_digest: str
    namespaces: dict[str, str]
    schematron: tuple[str, ...]  # absolute paths of the business-rule stylesheets


@dataclass
class Profile:
    """A checked profile, ready for codegen."""

    name: str
    title: str | None
    file: str
    schema_path: str
    schema_digest: str
    root: str
    namespaces: dict[str, str]
    history: str
    params: dict[str, Param]
    tables: dict[str, Table]
    sources: dict[str, SourceShape]
    blocks: list[TopBlock]
    global_checks: list[Check]
    files: tuple[str, ...]  # every profile file merged in (base first)
    documents: dict[str, DocumentKind] = field(default_factory=dict)  # root -> kind
