"""Validate written XML against its XSD, streaming (flat memory), in C.

libxml2 validates the file as a SAX stream (``xmlSchemaValidateFile``): no tree is built and no
element is handed to Python, so memory stays flat and the cost is libxml2's alone (100k Exact
invoices: 1.9 s instead of 4.2 s for an lxml ``iterparse(schema=...)`` loop that touches each of
the 3.5M elements from Python). The libxml2 is lxml's own: lxml's extension module exports its
symbols, so the schema semantics are exactly lxml's. Where that library cannot be loaded, or to
word an error libxml2's validator does not report itself (a file that is not well-formed), the
lxml ``iterparse`` loop runs instead.
"""

from __future__ import annotations

import ctypes
import io
import os
import threading
from functools import cache
from pathlib import Path
from typing import IO, Any

from lxml import etree

_PARSE_NONET = 1 << 11  # never fetch anything over the network
_PARSE_HUGE = 1 << 19  # documents of any size (the default caps text nodes at 10 MB)


class _XmlError(ctypes.Structure):
    """libxml2's ``xmlError`` (its layout has been stable since 2.6)."""

    _fields_ = [("domain", ctypes.c_int), ("code", ctypes.c_int), ("message", ctypes.c_char_p),
                ("level", ctypes.c_int), ("file", ctypes.c_char_p), ("line", ctypes.c_int),
                ("str1", ctypes.c_char_p), ("str2", ctypes.c_char_p), ("str3", ctypes.c_char_p),
                ("int1", ctypes.c_int), ("int2", ctypes.c_int), ("ctxt", ctypes.c_void_p),
                ("node", ctypes.c_void_p)]


_ERROR_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_XmlError))
_P = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "xmlSchemaNewParserCtxt": (_P, [ctypes.c_char_p]),
    "xmlSchemaParse": (_P, [_P]),
    "xmlSchemaFreeParserCtxt": (None, [_P]),
    "xmlSchemaNewValidCtxt": (_P, [_P]),
    "xmlSchemaFreeValidCtxt": (None, [_P]),
    "xmlSchemaSetValidStructuredErrors": (None, [_P, _ERROR_FN, _P]),
    "xmlSchemaValidateFile": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
    "xmlSetStructuredErrorFunc": (None, [_P, _ERROR_FN]),
}


@cache
def _libxml2() -> ctypes.CDLL | None:
    """lxml's libxml2 with the schema functions typed, or None where they are not exported."""
    try:
        lib = ctypes.CDLL(etree.__file__)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
    except (OSError, AttributeError):
        return None
    return lib


class _CSchema:
    """A parsed XSD in libxml2, kept for the process (it is read-only while validating)."""

    def __init__(self, lib: ctypes.CDLL, pointer: int) -> None:
        self.lib, self.pointer = lib, pointer

    def validate(self, xml: Path, errors: list[tuple[int, str]] | None = None
                 ) -> tuple[int, list[tuple[int, str]]]:
        """libxml2's result (0 valid, >0 invalid, <0 not parsed) and the first errors (line,
        text), also appended to ``errors`` as they are found (another thread may watch it)."""
        errors = [] if errors is None else errors

        def collect(_user: Any, err: Any) -> None:
            e = err.contents
            if len(errors) < 10:
                text = e.message.decode("utf-8", "replace").strip() if e.message else "invalid"
                errors.append((e.line, text))

        callback = _ERROR_FN(collect)  # referenced until the call returns
        ctxt = self.lib.xmlSchemaNewValidCtxt(self.pointer)
        try:
            self.lib.xmlSchemaSetValidStructuredErrors(ctxt, callback, None)
            rc = self.lib.xmlSchemaValidateFile(ctxt, str(xml).encode(), _PARSE_NONET | _PARSE_HUGE)
        finally:
            self.lib.xmlSchemaFreeValidCtxt(ctxt)
        return rc, errors


class _Parse:
    """One XSD's parse into libxml2, done once, by whichever thread asks first (``preload``'s
    or the run's); the others wait for it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._done = False
        self._schema: _CSchema | None = None

    def schema(self) -> _CSchema | None:
        with self._lock:
            if not self._done:
                self._schema, self._done = _parse(self.path), True
            return self._schema


_PARSES: dict[tuple[str, float], _Parse] = {}
_PARSES_LOCK = threading.Lock()


def _parse_of(path: str, mtime: float) -> _Parse:
    with _PARSES_LOCK:
        return _PARSES.setdefault((path, mtime), _Parse(path))


def _c_schema(path: str, mtime: float) -> _CSchema | None:
    """The XSD parsed by libxml2, kept for the process (per version of the file)."""
    return _parse_of(path, mtime).schema()


def _parse(path: str) -> _CSchema | None:
    lib = _libxml2()
    if lib is None:
        return None
    parser = lib.xmlSchemaNewParserCtxt(path.encode())
    if not parser:
        return None
    try:
        pointer = lib.xmlSchemaParse(parser)  # ctypes lets go of the GIL for the call
    finally:
        lib.xmlSchemaFreeParserCtxt(parser)
    return _CSchema(lib, pointer) if pointer else None  # a broken XSD: lxml words the error


def preload(xsd: Path) -> threading.Thread | None:
    """Start parsing ``xsd`` into libxml2 on another thread (returned); the run's validation
    takes the result (or waits for it). The parse is C without the GIL (the Exact XSD: ~30 ms),
    so it goes on beside the rest of a run's start-up (importing SQLAlchemy, opening the history)
    instead of after it. Not a daemon: the process never exits under libxml2's feet."""
    lib = _libxml2()
    if lib is None:  # validation falls back on lxml
        return None
    try:
        parse = _parse_of(str(xsd), xsd.stat().st_mtime)
    except OSError:
        return None  # the run says what is wrong with the schema file
    thread = threading.Thread(target=_parse_quietly, args=(lib, parse), name="exportc-xsd")
    thread.start()
    return thread


# libxml2 keeps its error handlers per thread, and lxml sets them only on the threads it runs
# on: on the preload's own thread a parser warning (an import it cannot load) would be printed on
# stderr. There they go nowhere, as on lxml's threads; lxml words a schema's real problems.
_QUIET = _ERROR_FN(lambda _user, _error: None)


def _parse_quietly(lib: ctypes.CDLL, parse: _Parse) -> None:
    lib.xmlSetStructuredErrorFunc(None, _QUIET)
    parse.schema()


@cache
def _schema(path: str, _mtime: float) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))


def validate_file(xml: Path, xsd: Path) -> dict[str, Any]:
    """``{"valid": bool, "schema": name, "error": the first error with its line, or None}``."""
    schema = _c_schema(str(xsd), xsd.stat().st_mtime)
    if schema is None:
        return validate_file_lxml(xml, xsd)
    return _answer(*schema.validate(xml), xml, xsd)


def _answer(rc: int | None, errors: list[tuple[int, str]], xml: Path, xsd: Path) -> dict[str, Any]:
    """libxml2's verdict on ``xml`` as ``validate_file`` gives it; lxml words an error libxml2
    could not say (a document that is not well-formed)."""
    if rc == 0:
        return {"valid": True, "schema": xsd.name, "error": None}
    if errors:
        line, message = errors[0]
        return {"valid": False, "schema": xsd.name, "error": f"line {line}: {message}", "line": line}
    return validate_file_lxml(xml, xsd)


def validate_file_lxml(xml: Path, xsd: Path) -> dict[str, Any]:
    """The same check through lxml's ``iterparse``: slower (Python sees every element), but it
    words every error, a well-formedness error too."""
    schema = _schema(str(xsd), xsd.stat().st_mtime)
    try:
        for _event, el in etree.iterparse(str(xml), events=("end",), schema=schema,
                                          huge_tree=True):
            el.clear(keep_tail=True)
            parent = el.getparent()
            while el.getprevious() is not None and parent is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        return {"valid": False, "schema": xsd.name, "error": f"line {exc.lineno}: {exc.msg}",
                "line": exc.lineno}
    return {"valid": True, "schema": xsd.name, "error": None}


class StreamValidation:
    """libxml2 validating a document on another thread while the document is written.

    Every byte written into the document also goes into a pipe that libxml2 reads
    (``xmlSchemaValidateFile`` on the pipe's ``/dev/fd`` name, with the same options as a file):
    the parsing and validating run in C without the GIL, on the other core, while Python renders
    records, so a validated run costs little more than an unvalidated one and memory stays flat.
    Errors come with the document line they are on. After the first error nothing more is fed
    (the run fails anyway; its first error is the one reported).
    """

    def __init__(self, schema: _CSchema, xsd: Path) -> None:
        self.xsd = xsd
        self.errors: list[tuple[int, str]] = []
        self.rc: int | None = None
        read, self._write = os.pipe()
        try:  # fewer, larger hand-overs between the threads (Linux)
            import fcntl
            fcntl.fcntl(self._write, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (ImportError, AttributeError, OSError):
            pass
        self._thread = threading.Thread(target=self._run, args=(schema, read), daemon=True,
                                        name="exportc-validate")
        self._thread.start()

    def _run(self, schema: _CSchema, read: int) -> None:
        try:
            self.rc, _ = schema.validate(Path(f"/dev/fd/{read}"), self.errors)
        finally:
            os.close(read)

    def feed(self, data: bytes | memoryview) -> None:
        """Hand written bytes to the validator (blocks while it is a pipe's length behind)."""
        if self._write < 0:
            return
        if self.errors:  # invalid already: spare the validator (and the GIL) the rest
            self.close()
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._write, view):]
        except BrokenPipeError:  # it stopped reading: the document is not well-formed
            self.close()

    def close(self) -> None:
        """No more bytes: the validator reads to the end of what it was given."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1

    def result(self, xml: Path) -> dict[str, Any]:
        """Wait for the validator; the same answer as ``validate_file`` for the written ``xml``."""
        self.close()
        self._thread.join()
        return _answer(self.rc, self.errors, xml, self.xsd)


def start_validation(xsd: Path) -> StreamValidation | None:
    """A validator that checks a document while it is written, or None where libxml2's
    schema functions or ``/dev/fd`` are not available (then ``validate_file`` runs after)."""
    if not os.path.isdir("/dev/fd"):
        return None
    schema = _c_schema(str(xsd), xsd.stat().st_mtime)
    return StreamValidation(schema, xsd) if schema is not None else None


class _TeeFile(io.FileIO):
    """A file whose written bytes also go to a validator."""

    def __init__(self, path: Path, validation: StreamValidation) -> None:
        super().__init__(path, "w")
        self.validation = validation

    def write(self, data: Any) -> int:
        n = super().write(data)
        self.validation.feed(memoryview(data)[:n])
        return n

    def close(self) -> None:
        super().close()
        self.validation.close()


def open_document(path: Path, validation: StreamValidation | None) -> IO[str]:
    """The text file a document is written into (UTF-8, ``\\n`` line ends, 1 MiB buffer); with
    ``validation``, every byte written is validated as it goes."""
    if validation is None:
        return open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
    raw = io.BufferedWriter(_TeeFile(path, validation), 1 << 20)
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
