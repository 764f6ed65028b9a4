"""The user cache of derived artefacts (schema models, the grammar's parser tables, compiled
profiles, the bytecode of generated code): one folder, entries written atomically, any
unreadable entry ignored and rebuilt.

Everything here is a cache: deleting the folder only costs time. Entries are named by a content
hash of what they were derived from, so a stale entry is never found, only left behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import pickle
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import CodeType


def cache_dir() -> Path:
    """``EXPORTC_CACHE_DIR``, or ``exportc`` in the user cache (``XDG_CACHE_HOME``, ~/.cache)."""
    base = os.environ.get("EXPORTC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "exportc")
    return Path(base)


def read(path: Path) -> object | None:
    """An entry, or None when it is missing or cannot be read back (corrupt, truncated, from
    another version of a class): the caller rebuilds it."""
    try:
        with open(path, "rb") as fh:
            value: object = pickle.load(fh)
    except Exception:  # a cache never fails the command: whatever is wrong, rebuild
        return None
    return value


def write(path: Path, value: object) -> None:
    """Store an entry atomically (temp file + rename); a read-only cache only costs time."""
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    _write_bytes(path, data)


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def compiled(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, the bytecode kept between processes as Python keeps
    a module's: code generated at run time (a profile's module, ~5 ms to compile; the canonical
    encoders and plain-line checks of its sources) is compiled once, not in every run. Entries
    are named by the interpreter's bytecode version, the file name and the source."""
    h = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    h.update(f"{filename}\0{source}".encode("utf-8", "surrogatepass"))
    path = cache_dir() / f"code-{h.hexdigest()[:32]}.marshal"
    try:
        with open(path, "rb") as fh:
            code = marshal.load(fh)
        if isinstance(code, CodeType):
            return code
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = compile(source, filename, "exec")
    _write_bytes(path, marshal.dumps(code))
    return code


@cache
def code_fingerprint() -> str:
    """A fingerprint of exportc's own source files: a cached compile is reused only by the
    exportc that made it (the version number does not move with every change during
    development), so a change to the compiler or its code generator never serves code it would
    no longer write."""
    return fingerprint(Path(__file__).resolve().parent)


def fingerprint(package: Path) -> str:
    """sha256 over the path, size and modification time of the ``.py`` and ``.lark`` files under
    ``package``: what Python's own bytecode cache trusts. Reading and hashing their contents
    instead cost every process ~9 ms, a third of a warm run's own work."""
    h = hashlib.sha256()
    for entry in sorted(_sources(str(package)), key=lambda e: e.path):
        stat = entry.stat()
        h.update(f"{os.path.relpath(entry.path, package)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return h.hexdigest()


def _sources(folder: str) -> Iterator[os.DirEntry[str]]:
    """The ``.py`` and ``.lark`` files below ``folder`` (``__pycache__`` left out)."""
    for entry in os.scandir(folder):
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _sources(entry.path)
        elif entry.name.endswith((".py", ".lark")):
            yield entry
