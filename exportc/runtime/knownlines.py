"""The line digests of a source's delivered records, packed so that a rerun's memory stays flat.

A rerun looks every line of a JSON Lines source up by its digest (``rawlines``). Held as a dict
of 16-byte digests to key strings, with a second dict of keys to hashes, a delivered record cost
~250 bytes: at a million invoices, more than the rest of the run. Here a digest is kept as its
16 bytes in one of 8192 byte buckets (by its first 13 bits), and a record is known by its
position (bucket and slot) instead of its key. What a rerun asks of a known line is whether it
was read before in this run (a byte beside the digest) and, under a date window, its window
value (4 bytes, only then): ~17 bytes a record. The whole digest is compared, so a lookup is as
exact as the dict's.
"""

from __future__ import annotations

import datetime as dt
from array import array

_BUCKET_BITS = 13
_BUCKETS = 1 << _BUCKET_BITS
_MASK = _BUCKETS - 1
_WIDTH = 16  # bytes of a digest (``LineIndex.digest``)


class KnownLines:
    """Line digests of delivered records, each at a position (an int: slot and bucket)."""

    def __init__(self, windows: bool = False) -> None:
        # Made at the first `add` (a run over a history without line digests makes none)
        self._digests: list[bytearray] = []
        self._read: list[bytearray] = []  # per digest: 1 once its line was read
        # per digest: its record's window value as a date ordinal, 0 for none
        self._windows: list[array[int]] | None = [] if windows else None
        self.count = 0  # digests added
        self.read = 0  # positions marked read

    @property
    def windows(self) -> bool:
        return self._windows is not None

    def add(self, digest: bytes, window: dt.date | None = None) -> int:
        """Add a delivered record's line digest; its position, or -1 when the digest is here
        already (two records of one line: only a collision of the digest could make them)."""
        if not self.count:
            self._buckets()
        b = (digest[0] | digest[1] << 8) & _MASK
        bucket = self._digests[b]
        at = bucket.find(digest)  # (`_slot`, inline: once per delivered record)
        while at > 0 and at % _WIDTH:
            at = bucket.find(digest, at + 1)
        if at >= 0:
            return -1
        slot = len(bucket) // _WIDTH
        bucket += digest
        self._read[b].append(0)
        if self._windows is not None:
            self._windows[b].append(window.toordinal() if window is not None else 0)
        self.count += 1
        return slot << _BUCKET_BITS | b

    def find(self, digest: bytes) -> int:
        """The position of a digest, or -1 when no delivered record has it."""
        if not self.count:
            return -1
        b = (digest[0] | digest[1] << 8) & _MASK
        bucket = self._digests[b]
        at = bucket.find(digest)  # (`_slot`, inline: once per line)
        while at > 0 and at % _WIDTH:
            at = bucket.find(digest, at + 1)
        return -1 if at < 0 else at // _WIDTH << _BUCKET_BITS | b

    def _buckets(self) -> None:
        self._digests = [bytearray() for _ in range(_BUCKETS)]
        self._read = [bytearray() for _ in range(_BUCKETS)]
        if self._windows is not None:
            self._windows = [array("i") for _ in range(_BUCKETS)]

    def mark(self, position: int) -> bool:
        """Mark a position's line read; False when it was read before in this run."""
        seen = self._read[position & _MASK]
        slot = position >> _BUCKET_BITS
        if seen[slot]:
            return False
        seen[slot] = 1
        self.read += 1
        return True

    def is_read(self, position: int) -> bool:
        return bool(self._read[position & _MASK][position >> _BUCKET_BITS])

    def window(self, position: int) -> dt.date | None:
        """The window value of the record at a position (``windows`` only)."""
        assert self._windows is not None
        ordinal = self._windows[position & _MASK][position >> _BUCKET_BITS]
        return dt.date.fromordinal(ordinal) if ordinal else None
