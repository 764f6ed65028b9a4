"""Canonical XML for golden files, unified diffs of it, and XPath assertions with their values.

Two documents are equal when their C14N 2.0 forms are equal after whitespace-only text between
elements is dropped: attribute order, quoting, namespace-prefix layout and indentation do not
matter, values do. The canonical form is pretty-printed one element per line so a unified diff
points at the element that differs.
"""

from __future__ import annotations

import difflib

from lxml import etree


class BadXml(Exception):
    """A golden file (or output) that is not well-formed XML."""


def canonical(xml: bytes | str) -> str:
    """The canonical, indented text of a document."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        c14n = etree.canonicalize(etree.fromstring(data).getroottree(), strip_text=True)
        tree = etree.fromstring(c14n.encode("utf-8"), etree.XMLParser(remove_blank_text=True))
    except etree.LxmlError as exc:
        raise BadXml(str(exc)) from None
    etree.indent(tree, space="  ")
    return etree.tostring(tree, encoding="unicode") + "\n"


def unified_diff(expected: str, actual: str, name: str) -> str:
    """A unified diff from the golden text to the actual output (empty when they are equal)."""
    lines = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                 f"{name} (expected)", f"{name} (actual)", n=2)
    return "".join(lines)


# A top-level comparison: left side, operator, right side (outside quotes and brackets).
_OPS = ("!=", "<=", ">=", "=", "<", ">")


def _split(expr: str) -> tuple[str, str, str] | None:
    depth, quote = 0, ""
    for i, ch in enumerate(expr):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0:
            for op in _OPS:
                if expr.startswith(op, i):
                    return expr[:i].strip(), op, expr[i + len(op):].strip()
    return None


def _shown(value: object) -> str:
    if isinstance(value, list):
        texts = [v.text or "" if isinstance(v, etree._Element) else str(v) for v in value]
        if not texts:
            return "nothing (no node matches)"
        return ", ".join(repr(t) for t in texts[:5]) + (f" … ({len(texts)} nodes)" if len(texts) > 5 else "")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def check_xpath(doc: etree._Element, expr: str, namespaces: dict[str, str] | None = None) -> str | None:
    """None when ``expr`` holds on ``doc``; else a message with the actual value of its left
    side (``//Invoice/ForeignAmount/Value is '121.00', expected = '121.10'``)."""
    try:
        result = doc.xpath(expr, namespaces=namespaces or {})
    except etree.XPathError as exc:
        return f"`{expr}` is not a valid XPath 1.0 expression: {exc}"
    if isinstance(result, bool):
        ok = result
    elif isinstance(result, list):
        ok = bool(result)
    else:
        ok = bool(result)
    if ok:
        return None
    parts = _split(expr)
    if parts is None:
        return f"`{expr}` is {_shown(result)}"
    left, op, right = parts
    try:
        actual = doc.xpath(left, namespaces=namespaces or {})
    except etree.XPathError:
        return f"`{expr}` does not hold"
    return f"`{expr}` does not hold: `{left}` is {_shown(actual)}, expected {op} {right}"
