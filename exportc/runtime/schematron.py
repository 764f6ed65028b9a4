"""Business rules beyond the XSD: compiled Schematron (XSLT 2.0) run with Saxon-HE (``saxonche``).

The EN 16931 and Peppol rules are published only as XSLT 2.0, which lxml/libxslt cannot run, so
this needs the optional dependency ``saxonche`` (``pip install 'exportc[peppol]'``). Each
stylesheet is compiled once per process and reused for every document; the SVRL it produces is
read for ``failed-assert`` elements (rule id, flag fatal/warning, location, message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree

_SVRL = "{http://purl.oclc.org/dsdl/svrl}"
_STEP = re.compile(r"\*:([A-Za-z_][\w.\-]*)|@([A-Za-z_][\w.\-]*)|([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)\[")


class SchematronUnavailable(Exception):
    """saxonche is not installed, or a stylesheet cannot be compiled."""


@dataclass(frozen=True)
class Failure:
    """A failed assert: its rule id, ``fatal`` or ``warning``, the node's XPath, the message."""

    rule: str
    flag: str
    location: str
    text: str
    stylesheet: str

    def path(self) -> str:
        """The location as local element names (``Invoice/LegalMonetaryTotal``), predicates gone."""
        return "/".join(m.group(1) or (m.group(2) and "@" + m.group(2)) or m.group(4)
                        for m in _STEP.finditer(self.location))


@cache
def _processor() -> Any:
    try:
        from saxonche import PySaxonProcessor  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise SchematronUnavailable(
            "Schematron validation needs saxonche: pip install 'exportc[peppol]' "
            "(or run with --no-validate)") from exc
    return PySaxonProcessor(license=False)


@cache
def _compiled(path: str) -> Any:
    proc = _processor()
    try:
        return proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=path)
    except Exception as exc:  # saxonche raises PySaxonApiError, not importable without it
        raise SchematronUnavailable(f"cannot compile the schematron stylesheet {path}: {exc}") from exc


class Schematron:
    """Several stylesheets applied to each document; compiled once (cached per process)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        self.executables = [(p.rsplit("/", 1)[-1], _compiled(p)) for p in paths]

    def check(self, xml: str) -> list[Failure]:
        """Every failed assert of every stylesheet, in document order per stylesheet."""
        if not self.executables:
            return []
        node = _processor().parse_xml(xml_text=xml)
        out: list[Failure] = []
        for name, executable in self.executables:
            svrl = executable.transform_to_string(xdm_node=node)
            root = etree.fromstring(svrl.encode("utf-8"))
            for fa in root.iter(f"{_SVRL}failed-assert"):
                rule = fa.get("id") or ""
                text = " ".join((fa.findtext(f"{_SVRL}text") or "").split())
                text = text.removeprefix(f"[{rule}]-").removeprefix(f"[{rule}] ")  # said once
                out.append(Failure(rule, fa.get("flag") or "fatal", fa.get("location") or "", text,
                                   name))
        return out
