"""Reading XSDs with xmlschema (and checking them with libxml2) for the schema model.

xmlschema is slow, so it is spared work that cannot change the model:

- its own check of each document against the XSD meta-schema (``validation="skip"``): libxml2
  checks the same, in C, and it is the check that matters (the runtime validates with libxml2);
- the documents' ``xs:annotation`` elements: prose the model never reads (hover reads it from
  the XSD itself, ``exportc.lsp.xsddoc``), yet 85% of UBL's common components (2.4 of 2.8 MB),
  which xmlschema parses in Python. Each document is read by lxml with them left out; should
  that read fail, the document is read as written, so an error shows its own lines;
- the documents several XSDs share (UBL's Invoice and CreditNote): read once for all of them
  (``together``).
"""

from __future__ import annotations

import io
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.response import addinfourl

from exportc.compiler.schema import SchemaError

_XS = "{http://www.w3.org/2001/XMLSchema}"


class _WithoutAnnotations(urllib.request.FileHandler):
    """Opens a local schema document without its ``xs:annotation`` elements."""

    def file_open(self, req: urllib.request.Request) -> Any:
        from lxml import etree

        if req.host not in (None, "", "localhost"):
            return super().file_open(req)
        try:
            tree = etree.parse(urllib.request.url2pathname(req.selector))
        except (OSError, etree.XMLSyntaxError):
            return super().file_open(req)  # xmlschema meets the problem and names it
        for note in list(tree.iter(f"{_XS}annotation")):
            parent = note.getparent()
            if parent is not None:
                parent.remove(note)
        return addinfourl(io.BytesIO(etree.tostring(tree)), Message(), req.full_url)


def read(paths: list[Path], annotations: bool = False) -> Any:
    """xmlschema's schema of the XSDs (of the first; the others are read into its maps)."""
    import xmlschema  # imported here: a warm cache never pays for it

    opener = None if annotations else urllib.request.build_opener(_WithoutAnnotations)
    return xmlschema.XMLSchema([str(p) for p in paths], validation="skip", opener=opener)


def read_one(path: Path) -> Any:
    """The schema of one XSD; SchemaError with xmlschema's complaint about the documents as
    written."""
    import xmlschema

    errors = (xmlschema.XMLSchemaException, OSError, SyntaxError)
    try:
        return read([path])
    except errors:
        pass
    try:
        return read([path], annotations=True)
    except errors as exc:
        raise SchemaError(f"{path}: {exc}") from exc


def together(wanted: dict[Path, set[Path]]) -> dict[Path, Any]:
    """XSDs that import the same documents read in one build, so the shared documents are
    parsed and built once: path -> its schema there. Only where that build gave every XSD exactly
    the documents it would have alone (``wanted``: its resolved files), each namespace it
    declares or imports from the same files; else nothing, and each is read on its own."""
    import xmlschema

    try:
        both = read(list(wanted))
    except (xmlschema.XMLSchemaException, OSError, SyntaxError):
        return {}  # read one by one, so each reports its own error
    owned = [x for x in both.maps.iter_schemas() if x.maps is both.maps]
    docs = {Path(x.filepath).resolve(): x for x in owned if x.filepath}
    if len(docs) != len(owned) or set(docs) != set[Path]().union(*wanted.values()):
        return {}  # a document read twice (a chameleon include) or one left out
    by_ns: dict[str, set[Path]] = {}
    for file, x in docs.items():
        by_ns.setdefault(x.target_namespace, set()).add(file)
    for files in wanted.values():
        used = {docs[f].target_namespace for f in files} | {n for f in files for n in docs[f].imported_namespaces}
        if any(not by_ns.get(n, set()) <= files for n in used):
            return {}  # a namespace this XSD would read from other files, or not at all
    return {p: docs[p.resolve()] for p in wanted}


def check(path: Path) -> None:
    """An XSD that libxml2 refuses as a schema (an unknown type, a misspelt attribute) is a
    SchemaError, with libxml2's first complaint."""
    from lxml import etree

    try:
        etree.XMLSchema(file=str(path))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise SchemaError(f"{path}: {exc}") from exc


def checked_together(read: dict[Path, Any]) -> set[Path]:
    """XSDs read together, checked by libxml2 in one compile of a schema that imports them all
    (their shared documents compiled once, not once per XSD): all of them where libxml2 accepts
    it, none where it refuses (each is then checked alone, for its own complaint). libxml2 still
    holds each document to its own imports there."""
    if len(read) < 2:
        return set()
    from lxml import etree

    root = etree.Element(f"{_XS}schema", targetNamespace="urn:exportc:together")
    for path, xsd in read.items():
        imported = {"schemaLocation": path.resolve().as_uri()}
        if xsd.target_namespace:
            imported["namespace"] = xsd.target_namespace
        etree.SubElement(root, f"{_XS}import", imported)
    try:
        etree.XMLSchema(root)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError):
        return set()
    return set(read)
