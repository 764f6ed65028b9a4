"""An XSD's identity for the caches: the files it is made of (it and everything it includes or
imports) and their digest. Apart from the schema model (``schema.py``) so that the
compiled-profile cache checks a schema without importing the model's classes: a warm
``exportc run`` or ``check`` needs the digest, never the model."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MODEL_VERSION = 4  # the schema model's pickled shape (schema.py): bump when it changes


def _dependencies(path: Path, seen: dict[Path, bytes]) -> None:
    if path in seen:
        return
    data = path.read_bytes()
    seen[path] = data
    for loc in re.findall(rb'schemaLocation\s*=\s*"([^"]+)"', data):
        dep = (path.parent / loc.decode()).resolve()
        if dep.is_file():
            _dependencies(dep, seen)


def documents(path: Path) -> dict[Path, bytes]:
    """The XSD and every file it includes or imports, by resolved path."""
    files: dict[Path, bytes] = {}
    _dependencies(path.resolve(), files)
    return files


def digest(files: dict[Path, bytes]) -> str:
    """sha256 over an XSD's files (``documents``), by content."""
    h = hashlib.sha256(f"v{MODEL_VERSION}".encode())
    for p in sorted(files):
        h.update(hashlib.sha256(files[p]).digest())
    return h.hexdigest()


def schema_digest(path: Path) -> str:
    """sha256 over the XSD and everything it includes or imports (by content)."""
    return digest(documents(path))
