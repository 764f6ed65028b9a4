"""Validate written XML against its XSD with lxml, streaming (flat memory)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree


@cache
def _schema(path: str, mtime: float) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))


def validate_file(xml: Path, xsd: Path) -> dict[str, Any]:
    """``{"valid": bool, "schema": name, "error": first error with its line, "elements": n}``."""
    schema = _schema(str(xsd), xsd.stat().st_mtime)
    count = 0
    try:
        for _event, el in etree.iterparse(str(xml), events=("end",), schema=schema,
                                          huge_tree=True):
            count += 1
            el.clear(keep_tail=True)
            parent = el.getparent()
            while el.getprevious() is not None and parent is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        return {"valid": False, "schema": xsd.name, "error": f"line {exc.lineno}: {exc.msg}",
                "elements": count}
    return {"valid": True, "schema": xsd.name, "error": None, "elements": count}
