"""Sets of record keys that cost a few bytes a key, so that memory stays flat however many
records a run reads.

A run must know, across a whole source, every key it read (a key read twice is a duplicate
record, left out). A Python set of the key strings costs ~110 bytes a key (the string and its
slot): 120 MB at a million invoices. ``KeySet`` keeps a 64-bit digest of each key instead,
packed in byte buckets (45 bits in ~5 bytes a key), and the keys themselves in a temporary file: a digest
seen before is confirmed against that file before a key counts as read twice, so two keys that
share a digest are never mistaken for one (a record is never dropped for a collision).

``IntSet`` is exact without any file: it packs the 64-bit integers themselves (a reference's
key, ``cust_id``, looked up once per invoice, where a confirmation per lookup would not do).
"""

from __future__ import annotations

import json
import struct
import tempfile
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import IO

# A lookup scans one bucket with memchr speed: ~0.5 KB at a million keys. The empty buckets cost
# ~0.5 MB a set, whatever its size.
_BUCKET_BITS = 13
_BUCKETS = 1 << _BUCKET_BITS
_pack = struct.Struct("<q").pack  # a signed 64-bit value as its 8 bytes
_pack32 = struct.Struct("<I").pack  # an unsigned 32-bit value as its 4 bytes
_SPOOL_BATCH = 4096  # keys written to the file at once (cheaper than a write per key)


def _packed() -> list[bytearray]:
    return [bytearray() for _ in range(_BUCKETS)]


def _find(bucket: bytearray, item: bytes) -> bool:
    """Whether a bucket holds the 8-byte item (at a multiple of 8: a match across two items is
    no match)."""
    at = bucket.find(item)
    while at > 0 and at & 7:
        at = bucket.find(item, at + 1)
    return at >= 0


class IntSet:
    """An exact set of integers in the signed 64-bit range (``fits``), ~9 bytes each."""

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._buckets: list[bytearray] = []  # made at the first `add` (most sets stay empty)
        self._n = 0
        for v in values:
            self.add(v)

    def add(self, value: int) -> bool:
        """Add ``value``; False when it was there already."""
        if not self._n:
            self._buckets = _packed()
        bucket = self._buckets[value & (_BUCKETS - 1)]
        item = _pack(value)
        if _find(bucket, item):
            return False
        bucket += item
        self._n += 1
        return True

    def __contains__(self, value: object) -> bool:
        return self.fits(value) and self.has(value)  # type: ignore[arg-type]

    def has(self, value: int) -> bool:
        """``value in self`` for a value that ``fits`` (unchecked: the caller checked)."""
        if not self._n:
            return False
        item = _pack(value)
        bucket = self._buckets[value & (_BUCKETS - 1)]
        at = bucket.find(item)
        while at > 0 and at & 7:  # see `_find` (inline: a lookup per invoice)
            at = bucket.find(item, at + 1)
        return at >= 0

    def __len__(self) -> int:
        return self._n

    @staticmethod
    def fits(value: object) -> bool:
        """Whether a value can be held: an int (not a bool) in the signed 64-bit range."""
        return type(value) is int and -(1 << 63) <= value < (1 << 63)


# A key's signed 64-bit digest: Python's own string hash (SipHash, keyed per process; a set
# lives in one process, and a shared digest is confirmed anyway).
_digest: Callable[[str], int] = hash


class KeySet:
    """The keys read so far of one source: ``add`` says whether a key is new.

    Memory: ~5 bytes a key (45 bits of its digest); the keys are appended to an unnamed
    temporary file. A digest seen before (a duplicate key, or two keys sharing a digest: about
    once in 70 runs of a million keys) is confirmed by reading that file; a source that keeps
    repeating keys (more than ``confirm_budget`` confirmations) has its keys loaded into an
    exact set instead, so that a bad source is not slow either (its memory then grows)."""

    def __init__(self, digest: Callable[[str], int] | None = None, confirm_budget: int = 8) -> None:
        self._digest = digest if digest is not None else _digest
        # Made at the first `add` (a run makes a set per source, many of them never used)
        self._buckets: list[bytearray] = []
        self._spool: IO[str] | None = None
        self._batch: list[str] = []  # keys not yet in the file
        self._written = 0  # keys in the file
        self._budget = confirm_budget
        self._exact: set[str] | None = None  # once confirmations are too many
        self.confirmations = 0  # how often the file was read (tests watch it)

    def add(self, key: str) -> bool:
        """Add a key; False when it was added before (exactly this key, not only its digest)."""
        if not self._buckets:
            self._buckets = _packed()
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")
        d = self._digest(key)
        bucket = self._buckets[d & (_BUCKETS - 1)]
        # The bucket stands for the low 13 bits; 32 more are kept (4 bytes a key): 45 bits in
        # all, so a million keys share a digest about once in 70 runs, and then it is confirmed.
        item = _pack32((d >> _BUCKET_BITS) & 0xFFFFFFFF)
        at = bucket.find(item)
        while at > 0 and at & 3:  # a match across two items is no match: look on
            at = bucket.find(item, at + 1)
        if at < 0:
            bucket += item
        elif self._read_before(key):
            return False
        elif self._exact is not None:  # ``_read_before`` gave up on the digests
            return self.add(key)
        batch = self._batch
        batch.append(key)
        if len(batch) >= _SPOOL_BATCH:
            self._flush()
        return True

    def _add_exact(self, key: str) -> bool:
        """``add`` once the keys are in an exact set."""
        assert self._exact is not None
        if key in self._exact:
            return False
        self._exact.add(key)
        return True

    def _flush(self) -> None:
        assert self._spool is not None  # (a key was added)
        self._spool.write("".join([encode_basestring(k) + "\n" for k in self._batch]))
        self._written += len(self._batch)
        self._batch.clear()

    def _read_before(self, key: str) -> bool:
        """Whether ``key`` was added before (its digest was: a duplicate or a collision)."""
        if key in self._batch:
            return True
        self.confirmations += 1
        self._flush()
        assert self._spool is not None
        self._spool.seek(0)
        if self.confirmations > self._budget:
            self._exact = {json.loads(line) for line in self._spool}
            self._buckets = []  # the exact set answers from now on
            self._spool.close()
            self.add = self._add_exact  # type: ignore[method-assign]
            return key in self._exact
        wanted = encode_basestring(key) + "\n"
        found = any(line == wanted for line in self._spool)
        self._spool.seek(0, 2)  # append after the end again
        return found

    def __len__(self) -> int:
        return len(self._exact) if self._exact is not None else self._written + len(self._batch)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


class KeyLog:
    """Keys in the order they were appended, kept in an unnamed temporary file: ``at(n)`` reads
    the n-th back. For what is asked of rarely, once per run at most (the record of an XSD
    error's line). ``append`` is a plain list append (once per record written: no more than
    the list it replaces costs); whoever appends calls ``spill`` now and then, which moves
    what was appended into the file, so memory holds no more than one spill's keys."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._batch: list[str | None] = []
        self._written = 0
        # Add the next key (None: an element of no record, such as a block without ``for``)
        self.append: Callable[[str | None], None] = self._batch.append

    def spill(self) -> None:
        """Move the keys appended since the last spill into the file."""
        batch = self._batch
        if batch:
            self._file.write("".join(["null\n" if k is None else encode_basestring(k) + "\n" for k in batch]))
            self._written += len(batch)
            batch.clear()  # the same list: ``append`` stays bound to it

    def __len__(self) -> int:
        return self._written + len(self._batch)

    def at(self, index: int) -> str | None:
        """The key appended ``index``-th (from 0)."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        self.spill()
        self._file.seek(0)
        try:
            for n, line in enumerate(self._file):
                if n == index:
                    found: str | None = json.loads(line)
                    return found
        finally:
            self._file.seek(0, 2)
        raise IndexError(index)  # pragma: no cover - the file holds every key appended

    def close(self) -> None:
        self._file.close()
