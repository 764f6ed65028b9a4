"""The target-schema model: what the compiler needs to know of an XSD, read with xmlschema.

For every complex type reachable from the root: its attributes (required or not, simple type),
its content model as a tree of sequence/choice groups with element particles in document order,
or its simple content. For every simple type: the value category and the facets. Reading an XSD
with xmlschema (``xsdread``) takes ~0.3 s for eExact-XML.xsd, so the derived model is pickled in
a cache keyed by the content hash of the XSD and every file it includes or imports
(``schemafiles``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from exportc import cache
from exportc.cache import cache_dir
from exportc.compiler import schemafiles
from exportc.values import show_pattern

_XS = "{http://www.w3.org/2001/XMLSchema}"
# Value categories, by the builtin type an XSD simple type derives from.
_CATEGORIES = {
    "boolean": "boolean", "date": "date", "dateTime": "datetime", "time": "time",
    "float": "float", "double": "double", "decimal": "decimal",
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer",
    "byte": "integer", "nonNegativeInteger": "integer", "positiveInteger": "integer",
    "nonPositiveInteger": "integer", "negativeInteger": "integer", "unsignedInt": "integer",
    "unsignedLong": "integer", "unsignedShort": "integer", "unsignedByte": "integer",
}


@dataclass(frozen=True, slots=True)
class SimpleType:
    """A simple type: its category (text, integer, decimal, float, double, boolean, date,
    datetime, time) and facets."""

    name: str
    category: str
    enumeration: tuple[str, ...] | None = None
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    total_digits: int | None = None
    fraction_digits: int | None = None
    min_inclusive: Decimal | None = None
    max_inclusive: Decimal | None = None
    min_exclusive: Decimal | None = None
    max_exclusive: Decimal | None = None

    def describe(self) -> str:
        """``typeDescription (text, maxLength 255)``."""
        facets = [f"{k} {v}" for k, v in (
            ("length", self.length), ("minLength", self.min_length),
            ("maxLength", self.max_length), ("totalDigits", self.total_digits),
            ("fractionDigits", self.fraction_digits), ("min", self.min_inclusive),
            ("max", self.max_inclusive)) if v is not None]
        if self.enumeration is not None:
            facets.append("one of " + ", ".join(repr(e) for e in self.enumeration))
        if self.category == "text":  # builtin numeric/date types carry their lexical pattern
            facets += [f"pattern {show_pattern(p)}" for p in self.patterns]
        inner = ", ".join([self.category, *facets])
        return inner if self.name == "anonymous" else f"{self.name} ({inner})"


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    required: bool
    type: SimpleType


@dataclass(frozen=True, slots=True)
class Particle:
    """An element in a content model; ``max_occurs`` None is unbounded."""

    name: str
    type_id: str
    min_occurs: int
    max_occurs: int | None
    position: int


@dataclass(frozen=True, slots=True)
class Group:
    kind: str  # sequence | choice | all
    min_occurs: int
    max_occurs: int | None
    items: tuple[Group | Particle, ...]


@dataclass(frozen=True, slots=True)
class ComplexType:
    """Attributes and either element content (``content``) or simple content (``simple``)."""

    id: str
    attributes: dict[str, Attribute]
    content: Group | None
    simple: SimpleType | None
    mixed: bool = False
    wildcard: bool = False

    def particles(self) -> list[Particle]:
        """Every child element in document order."""
        out: list[Particle] = []

        def walk(g: Group) -> None:
            for item in g.items:
                if isinstance(item, Group):
                    walk(item)
                else:
                    out.append(item)
        if self.content:
            walk(self.content)
        return out

    def child(self, name: str) -> Particle | None:
        for p in self.particles():
            if p.name == name:
                return p
        return None

    def max_count(self, name: str) -> int | None:
        """How often ``name`` may occur in one element of this type (None: unbounded).

        A particle inside a repeating group may occur once per repetition of the group, and a
        name that appears twice in the content model adds up; both count here.
        """
        def count(item: Group | Particle) -> int | None:
            if isinstance(item, Particle):
                return item.max_occurs if item.name == name else 0
            counts = [count(i) for i in item.items]
            if None in counts:
                inner: int | None = None
            elif item.kind == "choice":
                inner = max(counts, default=0)  # type: ignore[type-var]
            else:
                inner = sum(counts)  # type: ignore[arg-type]
            if inner == 0:
                return 0
            if inner is None or item.max_occurs is None:
                return None
            return inner * item.max_occurs
        return count(self.content) if self.content else 0
    def children_named(self, name: str) -> list[Particle]:
        """The children a profile's name may mean: the exact (prefixed) name, or, for a name
        without a prefix, every child with that local name (``Name`` -> ``cbc:Name``)."""
        exact = self.child(name)
        if exact is not None or ":" in name:
            return [exact] if exact is not None else []
        return [p for p in self.particles() if p.name.split(":")[-1] == name]


@dataclass
class SchemaModel:
    """All complex and simple types reachable from the global elements of one XSD."""

    path: str
    digest: str
    roots: dict[str, Particle]
    types: dict[str, ComplexType | SimpleType]
    namespaces: dict[str, str]  # prefix -> URI, as declared in the main schema
    element_namespaces: dict[str, str] = field(default_factory=dict)  # prefix -> URI used

    def type_of(self, particle: Particle) -> ComplexType | SimpleType:
        return self.types[particle.type_id]


class SchemaError(Exception):
    """The XSD cannot be read."""


# ---- building ---------------------------------------------------------------------------------

def _category(t: Any) -> str:
    seen = t
    while seen is not None:
        name = getattr(seen, "local_name", None) or ""
        if getattr(seen, "is_builtin", lambda: False)() or (getattr(seen, "name", "") or "").startswith(_XS):
            return _CATEGORIES.get(name, "text")
        if getattr(seen, "is_list", lambda: False)() or getattr(seen, "is_union", lambda: False)():
            return "text"
        seen = getattr(seen, "base_type", None)
    return "text"


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _simple(t: Any) -> SimpleType:
    facets: dict[str, Any] = {}
    patterns: list[str] = []
    enumeration = None
    chain = []
    seen = t
    while seen is not None and not getattr(seen, "is_builtin", lambda: False)():
        chain.append(seen)
        seen = getattr(seen, "base_type", None)
    for st in reversed(chain):  # base first, so a restriction's facets win
        for key, facet in (getattr(st, "facets", None) or {}).items():
            if key is None:
                continue
            local = key.split("}")[-1]
            if local == "enumeration":
                enumeration = tuple(str(v) for v in facet.enumeration)
            elif local == "pattern":
                patterns += [p.pattern for p in facet.patterns]
            elif hasattr(facet, "value"):
                facets[local] = facet.value
    return SimpleType(
        name=getattr(t, "prefixed_name", None) or getattr(t, "name", None) or "anonymous",
        category=_category(t), enumeration=enumeration,
        length=facets.get("length"), min_length=facets.get("minLength"),
        max_length=facets.get("maxLength"), patterns=tuple(patterns),
        total_digits=facets.get("totalDigits"), fraction_digits=facets.get("fractionDigits"),
        min_inclusive=_dec(facets.get("minInclusive")), max_inclusive=_dec(facets.get("maxInclusive")),
        min_exclusive=_dec(facets.get("minExclusive")), max_exclusive=_dec(facets.get("maxExclusive")))


class _Builder:
    def __init__(self) -> None:
        self.types: dict[str, ComplexType | SimpleType] = {}
        self.ids: dict[int, str] = {}
        self.used_ns: dict[str, str] = {}
        # One SimpleType per xmlschema simple type, one Attribute per declaration: UBL's ~300
        # amount, code and identifier types share a few attribute declarations (currencyID,
        # listID…), which were derived ~5,000 times and pickled as as many objects.
        self.simples: dict[int, SimpleType] = {}
        self.attributes: dict[int, Attribute] = {}

    def simple(self, t: Any) -> SimpleType:
        found = self.simples.get(id(t))
        if found is None:
            found = self.simples[id(t)] = _simple(t)
        return found

    def attribute(self, name: str, a: Any) -> Attribute:
        found = self.attributes.get(id(a))
        if found is None:
            found = self.attributes[id(a)] = Attribute(a.prefixed_name or name, a.use == "required",
                                                       self.simple(a.type))
        return found

    def type_id(self, t: Any) -> str:
        key = id(t)
        if key in self.ids:
            return self.ids[key]
        tid = t.name if t.name else f"#{len(self.ids)}"
        if tid in self.types and key not in self.ids:
            tid = f"{tid}#{len(self.ids)}"
        self.ids[key] = tid
        if t.is_simple():
            self.types[tid] = self.simple(t)
            return tid
        self.types[tid] = ComplexType(tid, {}, None, None)  # placeholder breaks recursion
        attrs = {}
        for name, a in t.attributes.items():
            if name is None:
                continue
            attrs[a.prefixed_name or name] = self.attribute(name, a)
        content, simple = None, None
        if t.has_simple_content():
            simple = self.simple(t.content)
        elif getattr(t.content, "model", None):
            counter = [0]
            content = self.group(t.content, counter)
        self.types[tid] = ComplexType(tid, attrs, content, simple, bool(t.mixed),
                                      bool(getattr(t, "open_content", None)))
        return tid

    def group(self, g: Any, counter: list[int]) -> Group:
        items: list[Group | Particle] = []
        for p in g:
            if hasattr(p, "model"):
                items.append(self.group(p, counter))
            elif hasattr(p, "type") and getattr(p, "name", None):
                counter[0] += 1
                pref = p.prefixed_name
                if ":" in pref:
                    prefix = pref.split(":")[0]
                    self.used_ns[prefix] = p.target_namespace
                items.append(Particle(pref, self.type_id(p.type), p.min_occurs, p.max_occurs,
                                      counter[0]))
        return Group(g.model, g.min_occurs, g.max_occurs, tuple(items))


def build_model(path: Path, digest: str) -> SchemaModel:
    """Read the XSD with xmlschema (slow), check it with libxml2, and derive the model."""
    from exportc.compiler import xsdread  # imported here: a warm cache never pays for it

    schema = xsdread.read_one(path)
    xsdread.check(path)
    return _derive(path, digest, schema)


def _derive(path: Path, digest: str, schema: Any) -> SchemaModel:
    """The model of one xmlschema schema: its global elements and what they reach."""
    b = _Builder()
    roots = {}
    for name, el in schema.elements.items():
        pref = el.prefixed_name or name
        roots[pref] = Particle(pref, b.type_id(el.type), 1, 1, 0)
        if ":" in pref:
            b.used_ns[pref.split(":")[0]] = el.target_namespace
    namespaces = {k: v for k, v in schema.namespaces.items() if k not in ("xml", "xsd", "xs")}
    return SchemaModel(str(path), digest, roots, b.types, namespaces, b.used_ns)


_LOADED: dict[tuple[str, str], SchemaModel] = {}  # (path, digest) -> model, for long-lived processes


def load_model(path: Path) -> SchemaModel:
    """The model of an XSD, from the cache when its content hash is known (and from memory when
    this process loaded it before: the language server re-checks on every edit)."""
    model = load_models([path])[path]
    if isinstance(model, SchemaError):
        raise model
    return model


def load_models(paths: list[Path]) -> dict[Path, SchemaModel | SchemaError]:
    """``load_model`` of several XSDs (a profile's targets): those built afresh that import
    documents in common are read together (``xsdread.together``)."""
    found: dict[Path, SchemaModel | SchemaError] = {}
    missing: dict[Path, tuple[str, set[Path]]] = {}
    for path in dict.fromkeys(paths):
        try:
            files = schemafiles.documents(path)
        except OSError as exc:
            found[path] = SchemaError(f"{path}: {exc.strerror}")
            continue
        digest = schemafiles.digest(files)
        model = _LOADED.get((str(path), digest)) or _cached(path, digest)
        if model is None:
            missing[path] = (digest, set(files))
        else:
            found[path] = _LOADED[(str(path), digest)] = model
    if not missing:
        return found
    from exportc.compiler import xsdread

    sharing = {p: files for p, (_d, files) in missing.items()
               if any(files & other for q, (_e, other) in missing.items() if q != p)}
    read = xsdread.together(sharing) if len(sharing) > 1 else {}
    checked = xsdread.checked_together(read)
    for path, (digest, _files) in missing.items():
        try:
            if path in read:
                if path not in checked:
                    xsdread.check(path)
                model = _derive(path, digest, read[path])
            else:
                model = build_model(path, digest)
        except SchemaError as exc:
            found[path] = exc
            continue
        cache.write(_entry(digest), model)
        found[path] = _LOADED[(str(path), digest)] = model
    return found


def _entry(digest: str) -> Path:
    return cache_dir() / f"schema-{digest[:32]}.pickle"


def _cached(path: Path, digest: str) -> SchemaModel | None:
    model = cache.read(_entry(digest))
    if isinstance(model, SchemaModel) and model.digest == digest:
        model.path = str(path)
        return model
    return None


# ---- questions the checks ask -----------------------------------------------------------------

def can_be_empty(item: Group | Particle) -> bool:
    """Whether a particle or group can match nothing at all."""
    if item.min_occurs == 0:
        return True
    if isinstance(item, Particle):
        return False
    if item.kind == "choice":
        return any(can_be_empty(i) for i in item.items)
    return all(can_be_empty(i) for i in item.items)


def names_in(item: Group | Particle) -> set[str]:
    if isinstance(item, Particle):
        return {item.name}
    out: set[str] = set()
    for i in item.items:
        out |= names_in(i)
    return out


def missing_children(group: Group | None, filled: set[str], always: set[str] | None = None
                     ) -> tuple[list[str], list[tuple[str, ...]]]:
    """Required children a set of filled children leaves out, and choices filled twice.

    ``filled`` are children that will be written whenever the element is; ``always`` (a subset)
    decides all-or-nothing sequences: an optional sequence only requires its members once
    something in it is always written.
    """
    missing: list[str] = []
    conflicts: list[tuple[str, ...]] = []
    if group is None:
        return missing, conflicts
    present = filled if always is None else always

    def walk(item: Group | Particle, required: bool) -> None:
        if isinstance(item, Particle):
            if required and item.min_occurs > 0 and item.name not in filled:
                missing.append(item.name)
            return
        active = required and item.min_occurs > 0
        if item.min_occurs == 0 and names_in(item) & present:
            active = True  # all-or-nothing: something in it is written, so it is all required
        if item.kind == "choice":
            taken = [i for i in item.items if names_in(i) & filled]
            if len(taken) > 1:
                conflicts.append(tuple(sorted(n for i in taken for n in names_in(i) & filled)))
            if taken:
                walk(taken[0], active)
            elif active and not any(can_be_empty(i) for i in item.items):
                missing.append(" or ".join(sorted(n for i in item.items for n in
                                                  ([i.name] if isinstance(i, Particle) else
                                                   sorted(names_in(i))))))
            return
        for i in item.items:
            walk(i, active)

    walk(group, True)
    return missing, conflicts
