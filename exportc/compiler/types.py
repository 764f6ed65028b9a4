"""Value types with nullability: text, int, decimal, bool, date, datetime, list[T], records."""

from __future__ import annotations

from dataclasses import dataclass, replace

SCALARS = ("text", "int", "decimal", "bool", "date", "datetime")


@dataclass(frozen=True, slots=True)
class Type:
    """A type; ``record`` names a source shape for record and list-of-record types."""

    name: str
    nullable: bool = False
    elem: Type | None = None
    record: str | None = None

    def __str__(self) -> str:
        if self.name == "list":
            base = f"list[{self.elem}]" if self.elem else "list"
        elif self.name == "record":
            base = f"record {self.record}"
        else:
            base = self.name
        return base + ("?" if self.nullable and self.name != "null" else "")

    def or_null(self) -> Type:
        return replace(self, nullable=True)

    def non_null(self) -> Type:
        return replace(self, nullable=False)

    @property
    def is_numeric(self) -> bool:
        return self.name in ("int", "decimal")


TEXT = Type("text")
INT = Type("int")
DECIMAL = Type("decimal")
BOOL = Type("bool")
DATE = Type("date")
DATETIME = Type("datetime")
NULL = Type("null", nullable=True)
ANY = Type("any")


def list_of(elem: Type) -> Type:
    return Type("list", elem=elem)


def unify(a: Type, b: Type) -> Type | None:
    """The type both branches fit in (int widens to decimal; null makes nullable), or None."""
    nullable = a.nullable or b.nullable
    if a.name == "null":
        return b.or_null()
    if b.name == "null":
        return a.or_null()
    if a.name == b.name and a.elem == b.elem and a.record == b.record:
        return Type(a.name, nullable, a.elem, a.record)
    if a.is_numeric and b.is_numeric:
        return Type("decimal", nullable)
    if a.name == "list" and b.name == "list":
        if a.elem is None or b.elem is None:
            return Type("list", nullable, a.elem or b.elem)
        inner = unify(a.elem, b.elem)
        return Type("list", nullable, inner) if inner else None
    if a.name == "any" or b.name == "any":
        return Type("any", nullable)
    return None


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of ``value`` may be used where ``target`` is expected (ignoring null)."""
    if target.name == "any" or value.name in ("any", "null"):
        return True
    if value.name == target.name:
        if value.name == "list":
            return value.elem is None or target.elem is None or assignable(value.elem, target.elem)
        return value.record == target.record
    return value.name == "int" and target.name == "decimal"
