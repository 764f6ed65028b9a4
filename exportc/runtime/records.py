"""Typed records of a top-level source, with joined lists and references filled in.

A list joined from a flat source (``Regels: list ... from invoice_lines on Factuurnummer``)
streams by merge join when both files are sorted by the key, and falls back to grouping the
child rows in memory when they are not. References (``klant: ref customers on cust_id``) load
the referenced source into a dict by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from exportc.artefact import ShapeSpec
from exportc.runtime.keyset import IntSet
from exportc.runtime.rawlines import LineIndex
from exportc.runtime.sources import (
    Binding,
    Coercer,
    Located,
    Row,
    SourceError,
    converter,
    read_raw,
    record_key,
)
from exportc.runtime.typedjson import TypedLines, jsonl_lines, typed_line, typed_rows


@dataclass(slots=True)
class Record:
    """A typed record, or the error that kept a raw row from becoming one.

    ``raw`` is the digest of the line it was read from (``rawlines``; None for a source that
    does not take part); ``known`` is the line's position among the history's line digests
    (``knownlines``) when the line is one the history knows, and then ``value`` is an ``Unread``
    (-1 for any other line). ``typed``: the record is as the typed reader decoded its line (only
    its refs added), so its canonical text can be written in C (``canonical.typed_encoder``)."""

    value: Row | None
    file: str
    number: int
    error: SourceError | None = None
    raw: bytes | None = None
    known: int = -1
    typed: bool = False


class Unread(Mapping[str, Any]):
    """The record of a line the history knows, delivered unchanged: decoded only when something
    reads one of its fields (a block's ``where`` that tests one), so that an unchanged record
    costs a digest, not a decode. What the history told of it (its window value) is read
    without decoding."""

    __slots__ = ("_known", "_load", "_row")

    def __init__(self, known: dict[str, Any], load: Callable[[], Row]) -> None:
        self._known = known
        self._load = load
        self._row: Row | None = None

    def _record(self) -> Row:
        if self._row is None:
            self._row = self._load()
        return self._row

    def __getitem__(self, name: str) -> Any:
        if self._row is None and name in self._known:
            return self._known[name]
        return self._record()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._record())

    def __len__(self) -> int:
        return len(self._record())


def _join_key(raw: Row, fields: tuple[str, ...], convs: list[Any], file: str, number: int
              ) -> tuple[Any, ...]:
    key = []
    for f, conv in zip(fields, convs, strict=True):
        v = raw.get(f)
        if v is None or v == "":
            raise SourceError("has no value (needed to join)", file, number, f, v, code="E0503")
        try:
            key.append(conv(v))
        except (ValueError, TypeError) as exc:
            raise SourceError(str(exc), file, number, f, v) from None
    return tuple(key)


def _sorted(rows: Iterator[Located], fields: tuple[str, ...], convs: list[Any]) -> bool:
    prev = None
    for loc in rows:
        key = _join_key(loc.row, fields, convs, loc.file, loc.number)
        try:
            if prev is not None and key < prev:
                return False
        except TypeError:
            return False
        prev = key
    return True


class _Join:
    """Children of one list field, by parent key: merge join or an in-memory index."""

    def __init__(self, sub: ShapeSpec, parent: ShapeSpec, child: Binding, parent_binding: Binding):
        self.name = sub.name.rsplit(".", 1)[-1]
        self.on = sub.join_on
        self.coerce = Coercer(sub)
        self.parent_convs = [converter(parent.fields[f]) for f in self.on]
        self.child = child
        streaming = (_sorted(read_raw(child), self.on, self.parent_convs)
                     and _sorted(read_raw(parent_binding), self.on, self.parent_convs))
        self.index: dict[tuple[Any, ...], list[Located]] | None = None
        self.skipped: list[tuple[Any, ...]] = []  # streamed rows whose parent key never came
        self.stream: Iterator[Located] | None = None
        self.pending: tuple[tuple[Any, ...], Located] | None = None
        if streaming:
            self.stream = read_raw(child)
        else:
            self.index = {}
            for loc in read_raw(child):
                key = _join_key(loc.row, self.on, self.parent_convs, loc.file, loc.number)
                self.index.setdefault(key, []).append(loc)
        self.streaming = streaming

    def rows_for(self, key: tuple[Any, ...]) -> list[Row]:
        if self.index is not None:
            locs = self.index.pop(key, [])
        else:
            locs = []
            while True:
                if self.pending is None:
                    assert self.stream is not None
                    nxt = next(self.stream, None)
                    if nxt is None:
                        break
                    self.pending = (_join_key(nxt.row, self.on, self.parent_convs, nxt.file,
                                              nxt.number), nxt)
                pk, loc = self.pending
                if pk < key:
                    self.skipped.append(pk)  # a line without an invoice: see `orphans`
                    self.pending = None
                    continue
                if pk > key:
                    break
                locs.append(loc)
                self.pending = None
        return [self.coerce(loc.row, loc.file, loc.number) for loc in locs]

    def orphans(self) -> list[tuple[Any, ...]]:
        """Join keys of child rows that no parent record took (once every parent was read)."""
        if self.index is not None:
            return sorted(self.index, key=repr)
        rest = [self.pending[0]] if self.pending is not None else []
        assert self.stream is not None
        rest += [_join_key(loc.row, self.on, self.parent_convs, loc.file, loc.number)
                 for loc in self.stream]
        self.pending = None
        return self.skipped + rest


# What a referenced record that no field is read of stands for: only that it exists (shared, and
# never written to: a ref is read through ``getf``, and `previous.klant` is attached, not merged).
_PRESENT: Row = {}


def _kept(reads: tuple[str, ...] | None) -> Callable[[Row], Row]:
    """What an index of referenced records keeps of each: the fields the profile reads of them
    (the compiler's ``ref_reads``), or only that it exists when none are; whole records when
    that is not known. A customer referred to by a million invoices then costs its key, not
    its every field."""
    if reads is None:
        return lambda rec: rec
    if not reads:
        return lambda _rec: _PRESENT
    return lambda rec: {f: rec[f] for f in reads if f in rec}


_INT64 = (-(1 << 63), (1 << 63) - 1)
_BITMAP_LIMIT = 1 << 24  # keys below it are bits (at most 2 MB however many there are)


class _KeysOnly:
    """An index of referenced records no field is read of: only which keys exist. A key of one
    integer (``cust_id``) costs a bit of a bitmap when it is below 2^24 and 9 bytes
    (``IntSet``) above; any other key its tuple in a set. A lookup per invoice: the bitmap
    answers faster than a dict."""

    def __init__(self) -> None:
        self.bits = bytearray()
        self.ints = IntSet()
        self.other: set[tuple[Any, ...]] = set()

    def __setitem__(self, key: tuple[Any, ...], _row: Row) -> None:
        if len(key) == 1 and IntSet.fits(key[0]):
            v = key[0]
            if 0 <= v < _BITMAP_LIMIT:
                if v >> 3 >= len(self.bits):
                    self.bits.extend(bytes((v >> 3) + 1 - len(self.bits)))
                self.bits[v >> 3] |= 1 << (v & 7)
            else:
                self.ints.add(v)
        else:
            self.other.add(key)

    def get(self, key: tuple[Any, ...]) -> Row | None:
        if len(key) == 1:
            v = key[0]
            if type(v) is int and _INT64[0] <= v <= _INT64[1]:  # IntSet.fits, inline: once per invoice
                if 0 <= v < _BITMAP_LIMIT:
                    bits = self.bits
                    return _PRESENT if v >> 3 < len(bits) and bits[v >> 3] >> (v & 7) & 1 else None
                return _PRESENT if self.ints.has(v) else None
        return _PRESENT if key in self.other else None


# The indexes of referenced sources by name, shared by the readers of one run.
RefIndexes = dict[str, dict[tuple[Any, ...], Row] | _KeysOnly]


class RecordReader:
    """Typed records of one top-level source, joined and referenced as its shape says."""

    def __init__(self, name: str, shape: ShapeSpec, bindings: dict[str, Binding],
                 shapes: dict[str, ShapeSpec],
                 delivered: Callable[[str, str], Row | None] | None = None,
                 lines: LineIndex | None = None,
                 ref_index: RefIndexes | None = None) -> None:
        if name not in bindings:
            raise SourceError(f"source `{name}` is not bound; pass --source {name}=FILE", name,
                              code="E0504")
        self.name = name
        self.binding = bindings[name]
        self.shape = shape
        self.bindings = bindings
        self.shapes = shapes
        joined = {fname for fname, sub in shape.lists.items()
                  if sub.join_source and sub.join_source in bindings}
        self.coerce = Coercer(shape, joined)
        self.joined = joined
        # The indexes of referenced sources, by name: shared by the readers of one run, so a
        # source the run reads anyway is indexed as it is read rather than read twice.
        self.ref_index: RefIndexes = {} if ref_index is None else ref_index
        # After iterating: per joined list, the keys of child rows without a parent record.
        self.orphans: dict[str, tuple[Binding, tuple[str, ...], list[tuple[Any, ...]]]] = {}
        self.delivered = delivered  # a ref this run's source lacks: the record delivered before
        # The history's line digests: only a JSON Lines source whose lists are in its lines.
        self.lines = lines if self.binding.kind == "jsonl" and not joined else None

    def _refs(self, name: str) -> dict[tuple[Any, ...], Row] | _KeysOnly:
        if name not in self.ref_index:
            # The run's shared indexes: the reader adds this one (and any its records refer to)
            reader = RecordReader(name, self.shapes[name], self.bindings, self.shapes,
                                  ref_index=self.ref_index)
            for _rec in reader._indexing():
                pass
        return self.ref_index[name]

    def _ref(self, target: str, key: tuple[Any, ...]) -> Row | None:
        """The referenced record: in this run's source, else as delivered before, else None."""
        found = self._refs(target).get(key)
        if found is None and self.delivered is not None:
            shape = self.shapes[target]
            found = self.delivered(target, record_key(shape, dict(zip(shape.key, key, strict=True))))
        return found

    def attach_refs(self, source: str, record: dict[str, Any]) -> None:
        """Fill a record's ref fields (a record of ``source`` read back from the history)."""
        if source != self.name:
            return
        for fname, (target, on) in self.shape.refs.items():
            record[fname] = self._ref(target, tuple(record.get(k) for k in on))

    def __iter__(self) -> Iterator[Record]:
        if self.lines is not None:
            yield from self._by_line(self.lines)
            return
        if self._indexes_itself():
            yield from self._indexing()
            return
        yield from self._records()

    def _indexes_itself(self) -> bool:
        """Whether reading this source also builds its index as a referenced source: when some
        source refers to it and it has none built yet. Its records are then the ones ``_refs``
        would read (this reader's ``delivered`` only reaches records through refs of its own,
        so a source with refs is left to ``_refs``)."""
        return (self.name not in self.ref_index and not self.shape.refs
                and any(target == self.name for shape in self.shapes.values()
                        for target, _on in shape.refs.values()))

    def _indexing(self) -> Iterator[Record]:
        """The records, each also kept in this source's index as ``_refs`` keeps it; the index
        is shared once the whole source was read (a source that fails part way is read again,
        and fails there as it would have)."""
        index: dict[tuple[Any, ...], Row] | _KeysOnly = {} if self.shape.ref_reads != () else _KeysOnly()
        keep = _kept(self.shape.ref_reads)
        key = self.shape.key
        for rec in self._records():
            if rec.value is not None:
                index[tuple(map(rec.value.__getitem__, key))] = keep(rec.value)
            yield rec
        self.ref_index[self.name] = index

    def _records(self) -> Iterator[Record]:
        joins = {f: _Join(self.shape.lists[f], self.shape, self.bindings[
            self.shape.lists[f].join_source or ""], self.binding) for f in self.joined}
        header_checked = self.binding.kind != "csv"
        for loc, typed in typed_rows(self.binding, self.shape, self.joined):
            if not header_checked:
                self.coerce.check_header(loc.row, loc.file)
                header_checked = True
            try:
                rec = self._complete(loc, typed, joins)
            except SourceError as exc:
                if exc.code == "E0501":
                    raise
                yield Record(None, loc.file, loc.number, exc)
                continue
            yield Record(rec, loc.file, loc.number)
        for fname, join in joins.items():
            self.orphans[fname] = (join.child, join.on, join.orphans())

    def _complete(self, loc: Located, typed: bool, joins: dict[str, _Join]) -> Row:
        """A row as its typed record, with its joined lists and refs filled in."""
        rec = loc.row if typed else self.coerce(loc.row, loc.file, loc.number)
        for fname, join in joins.items():
            key = tuple(rec[k] for k in join.on)
            rec[fname] = join.rows_for(key)
        for fname, (target, on) in self.shape.refs.items():
            rec[fname] = self._ref(target, tuple(map(rec.__getitem__, on)))  # (a generator costs more)
        return rec

    def _by_line(self, index: LineIndex) -> Iterator[Record]:
        """A JSON Lines source line by line: a line the history knows becomes an ``Unread``
        with its position; any other is decoded as always, and carries its digest."""
        typed = TypedLines(self.shape, self.joined)
        find = index.known.find
        for line, file, number in jsonl_lines(self.binding):
            digest = index.digest(line)
            position = find(digest)
            if position >= 0:
                def load(line: str = line, file: str = file, number: int = number) -> Row:
                    return self._complete(*typed_line(typed, line, file, number), {})
                # Typed as the Row it stands for: only `where`, window and key reads reach it
                # (an unchanged record is never emitted, nor recorded again).
                unread = cast(Row, Unread(index.fields(position), load))
                yield Record(unread, file, number, raw=digest, known=position)
                continue
            loc, is_typed = typed_line(typed, line, file, number)
            try:
                rec = self._complete(loc, is_typed, {})
            except SourceError as exc:
                if exc.code == "E0501":
                    raise
                yield Record(None, file, number, exc, raw=digest)
                continue
            yield Record(rec, file, number, raw=digest, typed=is_typed)
