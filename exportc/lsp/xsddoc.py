"""The schema's own ``xs:documentation`` for a target path, for hover.

The compiler's schema model keeps structure and types, not prose; the documentation is read here
from the XSD itself with lxml (milliseconds, once per schema per process), following the path from
the root: a child declared inline, by ``ref`` to a global element, or in a named complex type
(and the types it extends).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

_XS = "{http://www.w3.org/2001/XMLSchema}"
_NS = {"xs": "http://www.w3.org/2001/XMLSchema"}


@lru_cache(maxsize=8)
def _tree(path: str, _mtime: float) -> etree._ElementTree:
    return etree.parse(path)


def _els(node: etree._Element, path: str, **names: str) -> list[etree._Element]:
    """The elements an XPath selects (typed, for the checker)."""
    found = node.xpath(path, namespaces=_NS, **names)  # type: ignore[arg-type]
    return [x for x in found if isinstance(x, etree._Element)] if isinstance(found, list) else []


def _local(name: str) -> str:
    return name.split(":", 1)[-1]


def _owner(el: etree._Element) -> etree._Element | None:
    """The nearest enclosing named element or named complex type declaration."""
    a = el.getparent()
    while a is not None:
        if (a.tag == _XS + "element" and a.get("name")) or (a.tag == _XS + "complexType" and a.get("name")):
            return a
        a = a.getparent()
    return None


def _global(root: etree._Element, tag: str, name: str) -> etree._Element | None:
    found = _els(root, f"xs:{tag}[@name=$n]", n=_local(name))
    return found[0] if found else None


def _child(root: etree._Element, decl: etree._Element, name: str, depth: int = 0) -> etree._Element | None:
    """The declaration of child ``name`` of element (or type) ``decl``."""
    if depth > 8:
        return None
    if decl.get("ref"):
        decl = _global(root, "element", decl.get("ref", "")) or decl
    holders = [decl]
    type_name = decl.get("type")
    if type_name:
        named = _global(root, "complexType", type_name)
        if named is not None:
            holders.append(named)
    for holder in holders:
        for cand in _els(holder, ".//xs:element[@name=$n or @ref=$n]", n=_local(name)):
            if _owner(cand) is holder:
                return _global(root, "element", cand.get("ref", "")) if cand.get("ref") else cand
        for ext in _els(holder, ".//xs:extension[@base]"):
            named = _global(root, "complexType", ext.get("base", ""))
            if named is not None:
                found = _child(root, named, name, depth + 1)
                if found is not None:
                    return found
    return None


def _text(decl: etree._Element) -> str | None:
    docs = _els(decl, "xs:annotation/xs:documentation")
    text = "\n".join(" ".join("".join(str(t) for t in d.itertext()).split()) for d in docs).strip()
    return text or None


def documentation(xsd: str, chain: list[str]) -> str | None:
    """The documentation of the element at ``chain`` (root first; a last ``@name`` is an
    attribute), or None when the schema has none for it."""
    try:
        root = _tree(xsd, Path(xsd).stat().st_mtime).getroot()
    except (OSError, etree.XMLSyntaxError):
        return None
    decl = _global(root, "element", chain[0])
    for seg in chain[1:]:
        if decl is None:
            return None
        if seg.startswith("@"):
            attrs = _els(decl, ".//xs:attribute[@name=$n]", n=_local(seg[1:]))
            return _text(attrs[0]) if attrs else None
        decl = _child(root, decl, seg)
    return _text(decl) if decl is not None else None
