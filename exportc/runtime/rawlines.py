"""What a rerun knows of a source's lines before it decodes them.

A production run records, next to each delivered record's canonical hash, a digest of the
source line it was read from. The next run digests each line of that source first (cheap: one
keyed BLAKE2b over the bytes) and looks it up: a line the history knows is a record delivered
unchanged, so it is neither decoded, coerced nor canonically encoded. Only lines the history
does not know go the full way, and those are still classified by the canonical hash, so a line
whose bytes changed but whose values did not (whitespace, key order, `121.00` for `"121.00"`)
stays unchanged; its new digest is recorded for the next run.

The digest is keyed by a fingerprint of everything that decides what a line becomes: the
source's declared shape (fields, types, nullability, keys, lists, refs) and the code that
reads and coerces lines. A changed declaration or a new exportc with another reader makes
every digest unknown, so the first run after it classifies every record by its canonical
hash, as before, and records the new digests; it never mistakes a line for one it knows.

Only JSON Lines sources whose lists are nested in the line take part (a list joined from
another file is not in the line's bytes; CSV, JSON and SQL sources are read as before).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from exportc.artefact import ShapeSpec
from exportc.runtime.knownlines import KnownLines

FORMAT = b"exportc raw lines 1"
_NOTHING: dict[str, Any] = {}

# The modules whose code decides what a line becomes: a change to any of them changes the key.
_READERS = ("sources", "typedjson", "records", "canonical", "rawlines")


@cache  # read once per process, not once per source of every run
def _reader_code() -> bytes:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _READERS:
        digest.update((here / f"{name}.py").read_bytes())
    digest.update((here.parent / "values.py").read_bytes())
    return digest.digest()


def fingerprint(shape: ShapeSpec) -> bytes:
    """The key of a source's line digests (see module doc): 32 bytes."""
    return hashlib.blake2b(FORMAT + b"\0" + repr(shape).encode() + b"\0" + _reader_code(),
                           digest_size=32).digest()


@dataclass
class LineIndex:
    """One source's line digests as the history knows them (``knownlines``: a record delivered
    unchanged since is known by its line's position there), with each record's window value
    when the run has a window over a date field (read without decoding the line)."""

    shape: ShapeSpec
    known: KnownLines = field(default_factory=KnownLines)

    def __post_init__(self) -> None:
        self._keyed = hashlib.blake2b(digest_size=16, key=fingerprint(self.shape))
        # The field `fields` tells without decoding: the window, when `known` keeps its values
        self._window = self.shape.window if self.known.windows else None

    def digest(self, line: str) -> bytes:
        """The digest of one line (as read, its line end included): 16 bytes."""
        h = self._keyed.copy()  # cheaper than keying a new one per line
        h.update(line.encode())
        return h.digest()

    def fields(self, position: int) -> dict[str, Any]:
        """What a run may read of a known record without decoding it (read only)."""
        window = self._window
        if window is None:
            return _NOTHING  # one for every line: nothing is known without decoding
        return {window: self.known.window(position)}


def has_date_window(shape: ShapeSpec) -> bool:
    """Whether a source's window values can stand in for the decoded ones (``LineIndex.fields``):
    a date window (a datetime one is stored as its date)."""
    return shape.window is not None and shape.fields[shape.window].name == "date"
