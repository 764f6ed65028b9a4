"""The line digests of a source's delivered records, packed so that a rerun's memory stays flat.

A rerun looks every line of a JSON Lines source up by its digest (``rawlines``). Held as a dict
of 16-byte digests to key strings, with a second dict of keys to hashes, a delivered record cost
~250 bytes: at a million invoices, more than the rest of the run. Here a digest is kept in one
of 8192 byte buckets (by its first 13 bits) as a tag of its next ``TAG_BYTES`` bytes, and a
record is known by its position (bucket and slot) instead of its key. What a rerun asks of a
known line is whether it was read before in this run (a byte after the tag, in the same
bucket: one buffer a bucket, not two) and, under a date window, its window value (4 bytes, only
then): 6 bytes a record, 7 with the room a bucket is made with.

A tag is not the whole digest: a changed line could share its bucket and tag with a delivered
one (at 5 bytes, among a million delivered lines: a chance of ~1 in 10^10 a changed line) and
pass for it. So each line matched by its tag adds its whole digest (hashed) to ``matched``; the
history's whole digests of the positions read by their line must add up to the same (checked
before the run delivers: ``production``). A tag taken for a line it is not makes the sums
differ, but for a chance of 2^-64 (`loaded`), and the run then starts over, reading every line
in full.
"""

from __future__ import annotations

import datetime as dt
import struct
from array import array

_BUCKET_BITS = 13
_BUCKETS = 1 << _BUCKET_BITS
_MASK = _BUCKETS - 1
TAG_BYTES = 5  # of a digest kept (its bytes 2 on: the first two pick the bucket)
_UNREAD, _BY_LINE, _BY_KEY = 0, 1, 2  # a position's read byte


class KnownLines:
    """Line digests of delivered records, each at a position (an int: slot and bucket)."""

    def __init__(self, windows: bool = False, expected: int = 0) -> None:
        self._width = TAG_BYTES  # (read once: a test narrows it to make tags collide)
        self._slot = TAG_BYTES + 1  # bytes a slot: the tag, its read byte
        self._put = struct.Struct(f"{TAG_BYTES}s").pack_into  # (a third of a slice assignment's cost)
        # Made at the first `add` (a run over a history without line digests makes none): per
        # bucket, slots of a tag and its read byte (_UNREAD, _BY_LINE or _BY_KEY), the first
        # `_fill` of them taken. Made at about the size ``expected`` digests take (an upper
        # bound the history gives): grown a slot at a time, the buckets took half as much again
        self._slots: list[bytearray] = []
        self._fill = array("I")
        self._expected = expected
        # per tag: its record's window value as a date ordinal, 0 for none
        self._windows: list[array[int]] | None = [] if windows else None
        self.count = 0  # digests added
        self.read = 0  # positions marked read
        self.by_line = 0  # of those, by a line that matched the tag
        # Sums of digests, each as its `hash` (64 bits, keyed anew in each process: cheaper
        # than a 128-bit number, and two digests hash alike by a chance of 2^-64)
        self.loaded = 0  # of the digests added
        self.matched = 0  # of the lines marked read by their tag
        self.keyed = 0  # of the delivered digests of the positions read by key
        self.keyed_blind = 0  # positions read by key whose delivered digest was not given

    @property
    def windows(self) -> bool:
        return self._windows is not None

    def add(self, digest: bytes, window: dt.date | None = None) -> int:
        """Add a delivered record's line digest; its position, or -1 when its tag is here
        already (two records whose digests share the bucket and tag: the caller keeps the
        second by its key instead)."""
        if not self.count:
            self._buckets()
        b = (digest[0] | digest[1] << 8) & _MASK
        bucket, width, slot = self._slots[b], self._slot, self._fill[b]
        tag, end = digest[2:width + 1], slot * width
        at = bucket.find(tag, 0, end)  # (`find`, inline: once per delivered record)
        while at > 0 and at % width:
            at = bucket.find(tag, at + 1, end)
        if at >= 0:
            return -1
        if end == len(bucket):
            bucket.extend(bytes(width * (4 + slot // 8)))
        self._put(bucket, end, tag)  # (its read byte is _UNREAD, 0, already)
        self._fill[b] = slot + 1
        if self._windows is not None:
            self._windows[b].append(window.toordinal() if window is not None else 0)
        self.count += 1
        self.loaded += hash(digest)
        return slot << _BUCKET_BITS | b

    def find(self, digest: bytes) -> int:
        """The position of the tag of a digest, or -1 when no delivered record has it."""
        if not self.count:
            return -1
        b = (digest[0] | digest[1] << 8) & _MASK
        bucket, width = self._slots[b], self._slot
        tag = digest[2:width + 1]
        at = bucket.find(tag)
        while at > 0 and at % width:  # (a match across two slots is none)
            at = bucket.find(tag, at + 1)
        # (the first slot whose tag it is: one past the taken ones is none, the room after them)
        return -1 if at < 0 or at >= self._fill[b] * width else at // width << _BUCKET_BITS | b

    def _buckets(self) -> None:
        mean = self._expected / _BUCKETS  # digests a bucket: Poisson, with this mean
        size = self._slot * int(mean + mean ** 0.5 + 1)  # (~1 bucket in 6 grows, by 1/8)
        self._slots = [bytearray(size) for _ in range(_BUCKETS)]
        self._fill = array("I", bytes(4 * _BUCKETS))
        if self._windows is not None:
            self._windows = [array("i") for _ in range(_BUCKETS)]

    def mark(self, position: int, line: bytes | None = None, delivered: bytes | None = None) -> bool:
        """Mark a position read, by the digest of a ``line`` that matched its tag, or else by
        its record's key (``delivered``: the digest the history holds for it, when at hand);
        False when it was read before in this run."""
        bucket = self._slots[position & _MASK]
        at = (position >> _BUCKET_BITS) * self._slot + self._width  # (`_read_at`, inline: once per line)
        if bucket[at]:
            return False
        self.read += 1
        if line is not None:
            bucket[at] = _BY_LINE
            self.by_line += 1
            self.matched += hash(line)
            return True
        bucket[at] = _BY_KEY
        if delivered is not None:
            self.keyed += hash(delivered)
        else:
            self.keyed_blind += 1
        return True

    def by_line_sum(self) -> int | None:
        """The delivered digests of the positions read by their line added up, when the counts
        tell it without the history: every position read, by line or by a key whose digest was
        given; else None."""
        if not self.by_line:
            return 0
        if self.read < self.count or self.keyed_blind:
            return None
        return self.loaded - self.keyed

    def _read_at(self, position: int) -> int:
        """Where in its bucket a position's read byte is."""
        return (position >> _BUCKET_BITS) * self._slot + self._width

    def is_read(self, position: int) -> bool:
        return bool(self._slots[position & _MASK][self._read_at(position)])

    def read_by_line(self, position: int) -> bool:
        return self._slots[position & _MASK][self._read_at(position)] == _BY_LINE

    def window(self, position: int) -> dt.date | None:
        """The window value of the record at a position (``windows`` only)."""
        assert self._windows is not None
        ordinal = self._windows[position & _MASK][position >> _BUCKET_BITS]
        return dt.date.fromordinal(ordinal) if ordinal else None
