"""The user cache of derived artefacts (schema models, the grammar's parser tables, compiled
profiles): one folder, pickles written atomically, any unreadable entry ignored and rebuilt.

Everything here is a cache: deleting the folder only costs time. Entries are named by a content
hash of what they were derived from, so a stale entry is never found, only left behind.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path


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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass


@cache
def code_fingerprint() -> str:
    """sha256 over exportc's own source files: a cached compile is reused only by the exportc
    that made it (the version number does not move with every change during development), so a
    change to the compiler or its code generator never serves code it would no longer write."""
    return fingerprint(Path(__file__).resolve().parent)


def fingerprint(package: Path) -> str:
    """sha256 over the names and contents of the ``.py`` and ``.lark`` files under ``package``."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".lark") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(package)).encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
