"""What a run knows of the delivery history: each record it reads classified against what was
delivered before (new, changed, unchanged; deleted when gone), and, in a production run, what
it delivers, staged to be recorded in the run's commit.

The history's state of a source is held compactly: a record's content hash as 128 bits, or, for
a source read by line (``rawlines``), a tag of each delivered line (``knownlines``); a record
of such a source whose line the history does not know is looked up in the history by its key.
``production`` runs a run with one of these; the workbench's test runs use one too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from exportc.artefact import Artefact, BlockSpec, Bound, Where
from exportc.runtime import bulk
from exportc.runtime.canonical import encoder, typed_encoder
from exportc.runtime.context import ChangeTracker, RunOptions, in_window
from exportc.runtime.history import Delivery, HistoryStore
from exportc.runtime.keyset import KeySet
from exportc.runtime.kinds import ChangeKind, HistoryKind
from exportc.runtime.knownlines import KnownLines
from exportc.runtime.rawlines import LineIndex, has_date_window
from exportc.runtime.records import Unread
from exportc.runtime.sources import Coercer

PREVIOUS_CACHED = 256  # pasts of changed records kept coerced (a correction block reads them)
MISS_FLOOR = 1000  # lookups by key a lean source makes at least before its state is loaded


def _date(value: Any) -> dt.date | None:
    """A window value as the history gives it (SQLite: ISO text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _compact(sha256_hex: str) -> int:
    """The first 128 bits of a content hash as an int: a third of the memory of the hex text
    (1M keys are held per run), and still no chance to mistake a change for none."""
    return int(sha256_hex[:32], 16)


class TagMismatch(Exception):
    """A line was taken for a delivered one by its tag, and was not that line (``knownlines``):
    the run starts over, reading every line the full way."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.source = source


class HistoryTracker(ChangeTracker):
    """Classifies records against the history; collects what a production run will record."""

    def __init__(self, store: HistoryStore, artefact: Artefact, opts: RunOptions,
                 record: bool = True, run_id: int = 0, scratch: Path | None = None,
                 line_digests: bool = True) -> None:
        self.store = store
        self.record = record  # a test run classifies like a production run but records nothing
        self.run_id = run_id  # the run whose deliveries these are
        self.a = artefact
        self.opts = opts
        self.profile = artefact.name
        self.history = HistoryKind(artefact.history)
        self.none = self.history is HistoryKind.NONE
        self.line_digests = line_digests  # False: every line read the full way (`TagMismatch`)
        sources = {b.source for b in artefact.blocks if b.source}
        # What was delivered before, per source, in one of two forms (see `_load_state`):
        # - the line digests of records delivered unchanged since (``rawlines``), packed, each at
        #   a position (``knownlines``); only under `history mutations`, where an unchanged
        #   record is not delivered again, so its line need not be decoded;
        self.line_index: dict[str, LineIndex] = {}
        # - key -> hash delivered before (compact: see `_compact`), for every other record: one
        #   delivered without a line digest, or every record of a source not read by line. A
        #   key read in this run is taken out; what is left after the source is read is gone.
        self.state: dict[str, dict[str, int]] = {s: {} for s in sources}
        # Sources whose digested records are only in `line_index` ("lean"): a record read from
        # a line the history does not know is looked up in the history by its key. Past
        # `miss_limit` such lookups the source's state is loaded instead (`_load_keys`), with
        # the position of each record's line in `state_at`.
        self.lean: set[str] = set()
        self.misses = dict.fromkeys(sources, 0)
        self.miss_limit: dict[str, int] = {}
        self.state_at: dict[str, dict[str, int]] = {s: {} for s in sources}
        # Keys of records whose line digest another record had too (a digest collision: in
        # `state`, never in `line_index`).
        self.twins: dict[str, set[str]] = {s: set() for s in sources}
        # Per source: every key decoded in this run (a key read twice is a duplicate), at a few
        # bytes a key, so that memory stays flat however long the source (``keyset``). A line
        # the history knows is marked read in `line_index` instead.
        self.seen = {s: KeySet() for s in sources}
        self._delivered: dict[str, bool] = {}  # per source: anything delivered before this run
        if not self.none:
            self._load_state(sources)
        # One canonical text per record, by an encoder generated from the source's declared
        # types (byte for byte the text earlier releases hashed: see `canonical`).
        self.encoders = {s: encoder(artefact.sources[s]) for s in sources}
        self.typed_encoders = {s: typed_encoder(artefact.sources[s]) for s in sources}
        # (source, key, old hash, line digest, as the typed reader decoded it) of the record just read
        self._read: tuple[str, str, int | None, bytes | None, bool] = ("", "", None, None, False)
        # (source, key, canonical text, hash) of the record at hand: classify and delivered both
        # need them, once per record however many blocks it feeds.
        self._current: tuple[str, str, str, str] = ("", "", "", "")
        self._last_delivered: tuple[str, str] = ("", "")
        # What to record, as the bulk path's rows, spooled so memory stays flat however many
        # records a run delivers (on SQLite: staged in the folder ``scratch`` on another core);
        # written inside the commit transaction.
        self.pending = bulk.spool(scratch if record and not store.is_postgres else None)
        # (source, key, digest) of unchanged records read from lines the history did not know:
        # their digest is recorded with the run, so the next run knows the line.
        self.refresh = bulk.Spool[tuple[str, str, str]]()
        self._refreshed: tuple[str, str] = ("", "")
        # The records' pasts read lately (a changed record's, for each of its blocks; a ref's
        # delivered record, for each record referring to it), at most PREVIOUS_CACHED.
        self.previous_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._fetched: tuple[str, str, str] = ("", "", "")  # (source, key, payload) just looked up
        self._coercers: dict[str, Coercer] = {}
        self._reader: Connection | None = None
        self.deleted_cache: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        # Deletions found, recorded only when their record went out whole (see `delivered`).
        self._deletions: dict[tuple[str, str], Delivery] = {}
        self.wheres: dict[int, Where] = {}
        # Fills a delivered record's refs (``previous.klant``) the way the source being read
        # fills its records' (set by the block runner while it reads that source).
        self.attach_refs: Callable[[str, dict[str, Any]], None] | None = None

    def _load_state(self, sources: set[str]) -> None:
        """What was delivered from each source: a record with a line digest into the source's
        `line_index`, at ~17 bytes; any other into `state`, at ~150."""
        windowed = self.opts.date_from is not None or self.opts.date_to is not None
        for s in sources:
            index = None
            if self.history is HistoryKind.MUTATIONS and self.line_digests:
                shape = self.a.sources[s]
                known = KnownLines(windows=windowed and has_date_window(shape),
                                   expected=self.store.delivery_count(self.profile, s))
                index = self.line_index[s] = LineIndex(shape, known)
            state, twins, n = self.state[s], self.twins[s], 0
            windows = index is not None and index.known.windows
            for rows in self.store.delivered_state(self.profile, s, windows):
                n += len(rows)
                if index is None:
                    for key, prefix, _raw, _window in rows:
                        state[key] = int(prefix, 16)  # `_compact` of the hash: its first 32 digits
                    continue
                add = index.known.add
                for key, prefix, raw, window in rows:
                    if raw is None:
                        state[key] = int(prefix, 16)
                    elif add(bytes.fromhex(raw), _date(window) if windows else None) < 0:
                        state[key] = int(prefix, 16)
                        twins.add(key)
            self._delivered[s] = n > 0
            if index is not None and index.known.count:
                self.lean.add(s)
                # A lookup by key costs ~20 load-rows on SQLite, ~200 on a server
                self.miss_limit[s] = max(MISS_FLOOR, index.known.count // (200 if self.store.is_postgres else 20))

    def _load_keys(self, source: str, current: str | None = None) -> tuple[int, int, bytes | None] | None:
        """A lean source's digested records into `state` after all: the lines of this run are
        mostly not the history's (another reader, a rewritten file), and one lookup per line
        would cost more. A record whose line was read already counts its key as read. Returns
        `_state_row` of the key at hand, ``current`` (whose key `seen` holds already)."""
        known = self.line_index[source].known
        state, at_map, seen = self.state[source], self.state_at[source], self.seen[source]
        found = None
        for key, prefix, at, digest in self._by_their_lines(source):
            if key == current:
                found = (int(prefix, 16), at, digest)  # (at a line read already: a duplicate)
            elif at >= 0 and known.is_read(at):
                seen.add(key)  # read by its line: the same key again is a duplicate
            else:
                state[key] = int(prefix, 16)
                at_map[key] = at
        self.lean.discard(source)
        return found

    def _by_their_lines(self, source: str) -> Iterator[tuple[str, str, int, bytes]]:
        """(key, hash prefix, position of its line or -1, line digest) of each record delivered
        from a source that `line_index` holds (every other is in `state` from the start), read
        from the history again."""
        known, twins = self.line_index[source].known, self.twins[source]
        for rows in self.store.delivered_state(self.profile, source):
            for key, prefix, raw, _window in rows:
                if raw is not None and key not in twins:
                    digest = bytes.fromhex(raw)
                    yield key, prefix, known.find(digest), digest

    def lines(self, source: str) -> LineIndex | None:
        index = self.line_index.get(source)
        if index is not None and not index.known.count and not self.record:
            return None  # a test run over a history that knows no line: nothing to skip, nor to record
        return index

    def by_line(self, source: str, used: bool) -> None:
        if not used and source in self.lean:
            self._load_keys(source)  # every record is read the full way: look none up alone

    def bind_wheres(self, fns: Bound) -> None:
        self.wheres = {i: entry.where for i, entry in fns.blocks.items() if entry.where is not None}

    def _previous(self, source: str, key: str) -> dict[str, Any] | None:
        cached = self.previous_cache.get((source, key))
        if cached is None:
            if self._fetched[:2] == (source, key):  # looked up by `seen_key` just before
                found: str | None = self._fetched[2]
            else:
                found = self.store.payload(self._connection(), self.profile, source, key)
            if found is None:
                return None
            cached = self._coerce(source, found)
            if len(self.previous_cache) >= PREVIOUS_CACHED:
                del self.previous_cache[next(iter(self.previous_cache))]  # the oldest
            self.previous_cache[(source, key)] = cached
        return cached

    def _connection(self) -> Connection:
        if self._reader is None:  # one connection for every record's past, not one each
            self._reader = self.store.lookups()
        return self._reader

    def _coerce(self, source: str, payload: str) -> dict[str, Any]:
        coerce = self._coercers.get(source)
        if coerce is None:  # made once per source: it prepares a converter per field
            coerce = self._coercers[source] = Coercer(self.a.sources[source])
        record = coerce(json.loads(payload), "history", 0)
        if self.attach_refs is not None:  # `previous.klant`: refs are not part of the payload
            self.attach_refs(source, record)
        return record

    def seen_key(self, block: BlockSpec, key: str, raw: bytes | None = None, typed: bool = False) -> bool:
        source = block.source or ""
        if not self.seen[source].add(key):
            return False  # read before in this run: a duplicate
        found = self._delivered_row(source, key) if source in self.lean else self._state_row(source, key)
        old = None
        if found is not None:
            old, at, delivered = found
            if at >= 0 and not self.line_index[source].known.mark(at, delivered=delivered):
                return False  # read before from the line the history knows: a duplicate
        self._read = (source, key, old, raw, typed)
        return True

    def seen_line(self, block: BlockSpec, position: int, line: bytes | None) -> bool:
        assert line is not None, "a line the history knows was read by its digest"
        return self.line_index[block.source or ""].known.mark(position, line)

    def _state_row(self, source: str, key: str) -> tuple[int, int, bytes | None] | None:
        """(hash, position of its line or -1, None: its line's digest is not kept) of a record
        in `state`, taken out; or None."""
        old = self.state[source].pop(key, None)
        if old is None:
            return None
        at_map = self.state_at[source]
        return old, at_map.pop(key, -1) if at_map else -1, None

    def _delivered_row(self, source: str, key: str) -> tuple[int, int, bytes | None] | None:
        """`_state_row` of a lean source: a record delivered from a line is looked up in the
        history (its past is kept for `_previous`: a changed record needs it next)."""
        found = self._state_row(source, key)
        if found is not None:
            return found
        self.misses[source] += 1
        if self.misses[source] > self.miss_limit[source]:
            return self._load_keys(source, key)
        row = self.store.delivered_row(self._connection(), self.profile, source, key)
        if row is None:
            return None  # new
        h, raw, payload = row
        self._fetched = (source, key, payload)
        digest = bytes.fromhex(raw) if raw is not None else None
        at = self.line_index[source].known.find(digest) if digest is not None else -1
        return _compact(h), at, digest

    def _spool(self, source: str, key: str, change: str, h: str, payload: str,
               window: dt.date | None, raw: str | None = None) -> None:
        """One delivery (the fields of a ``Delivery``), spooled as the bulk path's row."""
        if self.record:
            self.pending.add(bulk.row(self.profile, self.run_id, source, key, change, h, payload,
                                      window, raw))

    def delivered_before(self, source: str) -> bool:
        return self._delivered.get(source, False)

    def delivered_record(self, source: str, key: str) -> dict[str, Any] | None:
        return self._previous(source, key) if source in self.a.sources else None

    def _hashed(self, source: str, key: str, record: dict[str, Any]) -> tuple[str, str]:
        """The record's canonical text and its hash (see ``canonical``): written in C for a
        record as the typed reader decoded it, else by the source's generated encoder."""
        if self._current[:2] != (source, key):
            typed = self._read[4] and self._read[:2] == (source, key)
            data = self.typed_encoders[source](record) if typed else None
            if data is None:
                text = self.encoders[source](record)
                data = text.encode()
            else:
                text = data.decode()
            self._current = (source, key, text, hashlib.sha256(data).hexdigest())
        return self._current[2], self._current[3]

    def classify(self, block: BlockSpec, key: str, record: dict[str, Any]
                 ) -> tuple[ChangeKind, dict[str, Any] | None]:
        source = block.source or ""
        # seen_key took the record's old hash out of `state` just before (BlockSet._feed calls it
        # first, for every record).
        assert self._read[:2] == (source, key), "classify follows seen_key for the same record"
        if type(record) is Unread:  # type: ignore[comparison-overlap]  # (isinstance of an ABC: slow)
            return ChangeKind.UNCHANGED, None  # a line delivered as it is: not even decoded
        old = self._read[2]
        if old is None:
            return ChangeKind.NEW, None  # hashed only if it is delivered (a test run never hashes it)
        cur = self._hashed(source, key, record)[1]
        change = ChangeKind.UNCHANGED if old == _compact(cur) else ChangeKind.CHANGED
        if change is ChangeKind.UNCHANGED:
            self._new_line(source, key)
        # An unchanged record is skipped under `history mutations`: no need to fetch its past.
        needs_previous = change is ChangeKind.CHANGED or (block.uses_previous
                                                          and self.history is HistoryKind.FULL)
        return change, (self._previous(source, key) if needs_previous else None)

    def delivered(self, block: BlockSpec, key: str, record: dict[str, Any], change: ChangeKind,
                  xml: str) -> None:
        source = block.source or ""
        if change == ChangeKind.DELETED:  # found by _find_deleted; recorded once the deletion went out
            item = self._deletions.pop((source, key), None)
            if item is not None:
                self._spool(*item)
            return
        if self.none or not self.record or self._last_delivered == (source, key):
            return  # a record is recorded once, however many blocks deliver it; a test run never
        self._last_delivered = (source, key)
        text, h = self._hashed(source, key, record)
        shape = self.a.sources[source]
        window = record.get(shape.window) if shape.window else None
        if isinstance(window, dt.datetime):
            window = window.date()
        raw = self._read[3] if self._read[:2] == (source, key) else None
        self._spool(source, key, change, h, text, window, raw.hex() if raw is not None else None)

    def deleted(self, block: BlockSpec) -> Iterator[tuple[str, dict[str, Any]]]:
        source = block.source or ""
        if self.none or not source:
            return iter(())
        if source not in self.deleted_cache:
            self.deleted_cache[source] = self._find_deleted(source)
        return iter(self.deleted_cache[source])

    def _gone(self, source: str) -> list[str]:
        """The keys of the records delivered before and not read in this run; first, that every
        line taken for a delivered one by its tag was that line (``knownlines``)."""
        index = self.line_index.get(source)
        at_map = self.state_at[source]
        gone = [key for key in self.state[source]
                if index is None or at_map.get(key, -1) < 0 or not index.known.is_read(at_map[key])]
        if index is None or not index.known.count:
            return sorted(gone)
        known = index.known
        # Look for the lean source's records not read (by line or key) in the history
        lean = source in self.lean and known.read < known.count
        # The delivered digests of the positions read by their line, added up (from the
        # history, unless the counts tell)
        by_line = known.by_line_sum()
        if lean or by_line is None:
            by_line = 0
            for key, _prefix, at, digest in self._by_their_lines(source):
                if at >= 0 and known.read_by_line(at):
                    by_line += hash(digest)  # (as `KnownLines` adds them up)
                elif lean and (at < 0 or not known.is_read(at)):
                    gone.append(key)
        if by_line != known.matched:
            raise TagMismatch(source)
        return sorted(gone)

    def _find_deleted(self, source: str) -> list[tuple[str, dict[str, Any]]]:
        gone = self._gone(source)
        if not gone:
            return []
        payloads = self.store.payloads(self.profile, source, gone)
        blocks = [b for b in self.a.blocks if b.source == source]
        out = []
        for key in gone:
            payload_text, window, delivered_hash = payloads[key]
            if window is not None and not in_window(window, self.opts):
                continue  # outside this run's window: not ours to call deleted
            record = self._coerce(source, payload_text)
            if not any(self._selects(b, record) for b in blocks):
                continue  # outside this run's selection
            self._deletions[(source, key)] = Delivery(source, key, ChangeKind.DELETED, delivered_hash,
                                                      payload_text, window)
            out.append((key, record))
        return out

    def _selects(self, block: BlockSpec, record: dict[str, Any]) -> bool:
        where = self.wheres.get(block.index)
        if where is None:
            return True
        try:
            return bool(where(record, ChangeKind.DELETED, record))
        except Exception:
            return False

    def _new_line(self, source: str, key: str) -> None:
        """An unchanged record read from a line the history does not know (other bytes, or a
        history from before line digests): its digest is recorded with the run."""
        raw = self._read[3]
        if (not self.record or raw is None or source not in self.line_index
                or self._refreshed == (source, key) or self._read[:2] != (source, key)):
            return
        self._refreshed = (source, key)
        self.refresh.add((source, key, raw.hex()))

    def refreshed(self) -> Iterator[tuple[str, str, str]]:
        """(source, key, line digest) of the unchanged records whose line was new."""
        return itertools.chain.from_iterable(self.refresh.batches())

    def close(self) -> None:
        for keys in self.seen.values():
            keys.close()
        self.pending.close()
        self.refresh.close()
        if self._reader is not None:
            self.store.end_lookups(self._reader)
