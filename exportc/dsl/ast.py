"""The syntax tree of a profile: frozen, slotted dataclasses, each with a span.

Spans are left out of equality (``compare=False``) so two profiles that differ only in layout
compare equal — the formatter's meaning-preservation test relies on it. The tree says what was
written, nothing more: names are unresolved and types unchecked (that is the compiler's job).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal

from exportc.diagnostics import Span

_NOSPAN = Span("<none>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=_NOSPAN, compare=False, repr=False)  # type: ignore[no-any-return]


# ---- expressions -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: text, int, decimal, bool, date, datetime or null (``value is None``)."""

    value: str | int | Decimal | bool | _dt.date | _dt.datetime | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name:
    """A bare name: a field, a ``let``, a param, a table, or ``change``."""

    id: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Attr:
    """``obj.name``: a qualified field, ``run.from``, ``previous.X``, or a list projection."""

    obj: Expr
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Index:
    """``table[key]``: a table lookup."""

    obj: Expr
    key: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """``func(args...)``."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``[a, b, c]``."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinOp:
    """Arithmetic or concatenation: ``+ - * /``."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    """``== != < <= > >=``."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or``."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    """``not x``."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Neg:
    """``-x``."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class In:
    """``x in xs`` / ``x not in xs``."""

    item: Expr
    container: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class If:
    """``if cond then a else b``."""

    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


Expr = Literal | Name | Attr | Index | Call | ListLiteral | BinOp | Compare | BoolOp | Not | Neg | In | If


# ---- declarations ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TypeRef:
    """A written type: ``text``, ``decimal?``, ``list[int]``."""

    name: str
    args: tuple[TypeRef, ...] = ()
    nullable: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ProfileDecl:
    """``profile name [extends base] ["title"]``."""

    name: str
    title: str | None
    extends: str | None
    extends_is_path: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TargetDecl:
    """``target "schema.xsd" root Element``."""

    schema: str
    root: str
    schematron: tuple[str, ...] = ()  # business-rule stylesheets every document is checked by
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class HistoryDecl:
    """``history full|mutations|none``."""

    mode: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """``param name: type [= default] ["description"]``; no default means required."""

    name: str
    type: TypeRef
    default: Expr | None
    description: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableEntry:
    """``key -> value`` in an inline table."""

    key: Literal
    value: Literal
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableDecl:
    """A lookup table, inline or from a CSV file, with its unmatched-key policy.

    ``policy`` is ``"fail"`` (the default), ``"default"`` (``default_value`` is used) or
    ``"passthrough"`` (the key itself is the value).
    """

    name: str
    key_type: TypeRef
    value_type: TypeRef
    description: str | None
    entries: tuple[TableEntry, ...] | None
    file: str | None
    policy: str = "fail"
    default_value: Literal | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FieldDecl:
    """A typed field of a source record."""

    name: str
    type: TypeRef
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RefFieldDecl:
    """``name: ref other_source on field[, field]``: the record of another source by key."""

    name: str
    source: str
    on: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SourceShape:
    """What a record or a nested list looks like: its key, window, join and fields."""

    key: tuple[str, ...]
    window: str | None
    join_source: str | None
    join_on: tuple[str, ...]
    fields: tuple[FieldDecl | ListFieldDecl | RefFieldDecl, ...]


@dataclass(frozen=True, slots=True)
class ListFieldDecl:
    """A nested list of records (``Regels: list key Regelnummer { ... }``).

    With ``from other on field`` the elements may also come from a flat source joined by key
    (``invoice_lines.csv`` joined to ``invoices.csv``).
    """

    name: str
    shape: SourceShape
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SourceDecl:
    """``source name key k window w { fields }``."""

    name: str
    shape: SourceShape
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LetDecl:
    """``let name = expr``: a named value, global or per record."""

    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rule:
    """``expr > Target/Path [override]``."""

    value: Expr
    target: str
    override: bool
    target_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CheckDecl:
    """``check cond [per keys] else error|warning "message"``.

    ``message`` is the string as written (placeholders and ``{{`` included, for the formatter);
    ``parts`` is what the report shows: text and the ``{expression}`` placeholders' expressions.
    """

    condition: Expr
    per: tuple[str, ...]
    severity: str
    message: str
    parts: tuple[str | Expr, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Block:
    """A target element block, optionally repeated ``for`` a source or list, filtered.

    ``for Regels by BTW_code`` repeats once per group of list elements sharing the key.
    """

    path: str
    for_: str | None
    where: Expr | None
    when: Expr | None
    items: tuple[BlockItem, ...]
    group_by: tuple[str, ...] = ()
    document: bool = False  # ``document Invoice for ... file expr``: one document per record
    file: Expr | None = None  # the document's file name
    path_span: Span = _span()
    span: Span = _span()


BlockItem = Rule | Block | CheckDecl | LetDecl
Item = (ProfileDecl | TargetDecl | HistoryDecl | ParamDecl | TableDecl | SourceDecl | LetDecl
        | CheckDecl | Block)


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment, kept for the formatter."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed ``.map`` file."""

    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()
