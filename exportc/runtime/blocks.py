"""Running the top-level blocks: one pass over each source feeds every block that reads it.

Each byte is written once where it can be: the first block in schema order that is not finished
(the *frontier*) writes its records straight into the document; a block behind it (a second
block of the same source, or one whose source is read later) holds its records back in its own
spool file, copied into the document when every block before it is finished. So a source is
parsed once however many blocks read it, and the document is in schema order. A record is
delivered whole or not at all: every block that reads it renders into a buffer first, and only
when none failed do the buffers go into the document (or spools) and the record into the
history. So a changed invoice whose new version fails is not delivered as its reversal alone
(with --skip-invalid it is left out, and its delivered state stays as it was).
"""

from __future__ import annotations

import shutil
import sys
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from exportc.artefact import Artefact, BlockSpec, Bound
from exportc.diagnostics import Diagnostic
from exportc.runtime.api import RecordError
from exportc.runtime.context import ChangeTracker, Key, RunContext, RunOptions, in_window, key_text_of, origin
from exportc.runtime.faults import crashpoint
from exportc.runtime.keyset import KeyLog
from exportc.runtime.kinds import ChangeKind, HistoryKind
from exportc.runtime.records import Record, RecordReader, RefIndexes
from exportc.runtime.report import BlockCounts, SourceRow, problem, source_problem
from exportc.runtime.sources import Binding, SourceError, key_text
from exportc.values import format_value

if TYPE_CHECKING:  # a run of one document never imports them (runtime/execute.py's _documents)
    from exportc.runtime.documents import DocumentSink, Finding, Pending

PROGRESS_EVERY = 5000  # records between two progress calls (cheap enough, often enough)
SPILL_MASK = 4095  # the written keys go to their file every 4096 records read (``KeyLog``)
# Records that may wait for their documents' business rules while the next ones are rendered:
# enough to keep every rule worker busy with whole batches (runtime/schematron.py).
SETTLE_WINDOW = 64


def _in_window(shape_window: str | None, record: dict[str, Any], opts: RunOptions) -> bool:
    return shape_window is None or in_window(record.get(shape_window), opts)


def _field_message(field: str | None, message: str) -> str:
    if field is None:
        return message
    joiner = " " if message.startswith(("is ", "has ", "must ")) else ": "
    return f"field `{field}`{joiner}{message}"


def source_label(source: str | None) -> str:
    """Where a problem of reading a source is: the source itself, not the first block that
    happens to read it (in an invoice-mode run, the journal block that writes nothing)."""
    return f"source {source}"


def block_name(block: BlockSpec) -> str:
    return "/".join([*block.containers, block.element])


class BlockRun:
    """One top-level block during a run: its counts, its spool, its per-record logic."""

    def __init__(self, artefact: Artefact, block: BlockSpec, fns: Bound,
                 opts: RunOptions, tracker: ChangeTracker, ctx: RunContext, spool: Path,
                 sink: DocumentSink | None = None) -> None:
        self.a, self.block, self.opts, self.tracker, self.ctx = artefact, block, opts, tracker, ctx
        self.name = block_name(block)
        self.counts = ctx.report.blocks.setdefault(self.name, BlockCounts())
        # The n-th element's record key, so an XSD error's line names its record (`record_at`):
        # only for a document that is validated; a run that is not holds no key per element. In
        # a file, not in memory: it is read once at most, for the run's first XSD error.
        self.written_keys: KeyLog | None = KeyLog() if opts.validate and not block.document else None
        self.sizes: list[int] = []
        entry = fns.blocks[block.index]
        self.emit, self.where, self.file_name = entry.emit, entry.where, entry.file_name
        self.sink = sink if block.document else None
        self.spool_path = spool
        self.spool: IO[str] | None = None  # opened at the first record the block holds back
        # While the block is the frontier: opens its containers in the document (see BlockSet)
        self.direct: Callable[[tuple[str, ...]], IO[str]] | None = None
        self.fh: IO[str] | None = None  # where its records go: the document or its spool
        self.finished = False  # its source is read whole: nothing more will be written
        # Decided by the compiler from the block's `where` (compiler/dispatch.py): false
        # whatever the record (a param rules it out, as `invoice_export` rules out the journal
        # blocks), so it is offered nothing and writes nothing; and the change kinds it takes.
        self.never = block.source is not None and not entry.active
        self.changes = entry.changes
        self.flags: dict[str, list[_Flag]] = {}
        self.ok = True
        self.txn: _Pending | None = None  # the record at hand, across the blocks reading it
        # Whether a record must be classified against the history: False while the run reads a
        # source nothing of which was delivered before (every record is new; a test run's first)
        self.classifies = True

    def _fail(self) -> None:
        if self.txn is not None:
            self.txn.failed = True
        if self.opts.skip_invalid:
            self.counts.skipped += 1
        else:
            self.counts.failed += 1
            self.ok = False

    def _problem(self, exc: RecordError, key: str | None, row: SourceRow | None) -> None:
        where = exc.at or origin(self.a, exc.__traceback__)
        self.ctx.report.problems.append(problem(
            "error", exc.code, exc.message, self.name, key, where, row))

    def bad_row(self, rec: Record) -> None:
        err = rec.error
        assert err is not None
        self.counts.records += 1
        self.ctx.report.problems.append(source_problem(
            "error", err.code, _field_message(err.field, err.message),
            source_label(self.block.source), (err.file, rec.number if err.row is None else err.row)))
        self._fail()

    def duplicate(self, key: str, row: SourceRow) -> None:
        self.counts.records += 1
        self.ctx.report.problems.append(source_problem(
            "error", "E0609", "this key appears more than once in the source; the later record "
            "was left out", source_label(self.block.source), row, key))
        self._fail()

    def offer(self, record: dict[str, Any] | None, key: str | None, row: SourceRow | None) -> str | None:
        """A record of the block's source (or None for a block without ``for``), read at ``row``;
        returns its change kind when this block delivered it (or skipped it as unchanged), else
        None."""
        change: ChangeKind = ChangeKind.NEW
        previous = None
        if record is not None and key is not None and self.classifies:
            change, previous = self.tracker.classify(self.block, key, record)
        if self.changes is not None and change not in self.changes:  # (``takes``, inline)
            return None  # its `where` is false for this change kind: no need to ask it
        if not self._selects(record, key, row, change, previous):
            return None
        if change == ChangeKind.UNCHANGED and self.a.history == HistoryKind.MUTATIONS:
            self._count_unchanged()
            return change  # delivered before, as it is now
        if self.block.uses_previous and previous is None:
            return None  # a correction block: only for records delivered before
        if key is not None and key in self.flags:
            flagged = self.flags[key]
            for f in flagged:
                self.ctx.report.problems.append(problem(f.severity, f.code, f.message, self.name,
                                                        key, (f.file, f.line), row))
            if any(f.severity == "error" for f in flagged):
                self._fail()
                return None
        return change if self._write(record, key, change, previous, row) else None

    def offer_unchanged(self, record: dict[str, Any], key: Key, file: str, number: int) -> bool | None:
        """``offer`` of a record the history knows unchanged by its line (``rawlines``: only
        under `history mutations`, where it is not delivered again), read at line ``number``
        of ``file``, by a block that takes unchanged records: counted when the block selects
        it. True: selected; False: not; None: its ``where`` failed."""
        selected = self._selects(record, key, (file, number), ChangeKind.UNCHANGED, None)
        if selected:
            self._count_unchanged()
        return selected

    def _count_unchanged(self) -> None:
        """A selected record delivered before as it is now: counted, not written again."""
        self.counts.by_change[ChangeKind.UNCHANGED] = self.counts.by_change.get(ChangeKind.UNCHANGED, 0) + 1

    def _selects(self, record: dict[str, Any] | None, key: Key, row: SourceRow | None,
                 change: ChangeKind, previous: dict[str, Any] | None) -> bool | None:
        """Whether the block's ``where`` selects the record (then it counts as one of the
        block's records); None when the ``where`` itself failed the record (counted, reported)."""
        self.ctx.block, self.ctx.key, self.ctx.row = self.name, key, row
        try:
            if self.where is not None and not self.where(record, change, previous):
                return False
        except RecordError as exc:
            self.counts.records += 1
            self._problem(exc, key_text_of(key), row)
            self._fail()
            return None
        self.counts.records += 1
        return True

    def offer_deleted(self, key: str, previous: dict[str, Any]) -> None:
        """A record delivered before, in this run's scope, gone from the source."""
        if not (self.block.uses_change or self.block.uses_previous) or not self.takes(ChangeKind.DELETED):
            return  # recorded as deleted; this block writes nothing for it
        self.ctx.block, self.ctx.key, self.ctx.row = self.name, key, None
        try:
            if self.where is not None and not self.where(previous, "deleted", previous):
                return
        except RecordError as exc:
            self._problem(exc, key, None)
            self._fail()
            return
        self.counts.records += 1
        self._write(previous, key, ChangeKind.DELETED, previous, None)

    def takes(self, change: ChangeKind) -> bool:
        """Whether the block's `where` can hold for a record of this change kind."""
        return self.changes is None or change in self.changes

    def _write(self, record: dict[str, Any] | None, key: str | None, change: ChangeKind,
               previous: dict[str, Any] | None, row: SourceRow | None) -> bool:
        """Emit one record into the block's spool; whether anything was written."""
        buf: list[str] = []
        name = ""
        try:
            self.emit(record, change, previous, buf.append)
            if self.file_name is not None and buf:
                name = self.file_name(record, change, previous)
        except RecordError as exc:
            self._problem(exc, key, row)
            self._fail()
            return False
        except Exception as exc:
            # a bug in exportc, not the user's data: say so, with the profile line
            where = origin(self.a, exc.__traceback__)
            problems = self.ctx.report.problems
            if not any(p.code == "E0699" for p in problems):
                print(traceback.format_exc(), file=sys.stderr)  # once per run, for the bug report
            problems.append(problem(
                "error", "E0699", f"internal error while writing this record ({type(exc).__name__}: "
                f"{exc}); please report it", self.name, key, where, row))
            self._fail()
            return False
        if not buf:
            return False
        xml = "".join(buf)
        if self.sink is not None and not self._document(name, xml, key, row):
            return False  # checked now, so a failed document holds back the whole record
        if self.txn is not None:
            self.txn.parts.append((self, change, xml, name))
        else:
            self.put(record, key, change, xml, name)
        return True

    def put(self, record: dict[str, Any] | None, key: str | None, change: ChangeKind, xml: str,
            name: str = "") -> None:
        """Deliver one record's element (or document): into the spool (or the run's documents),
        the counts and the history."""
        if self.sink is not None:
            self.sink.stage(name, xml, key)
        else:
            fh = self.fh
            if fh is None:
                fh = self.fh = self._target()
            fh.write(xml)
            if self.spool is not None:  # where it ends, so a spool can be split between records
                self.sizes.append(len(xml))
        if self.written_keys is not None:
            self.written_keys.append(key)  # the n-th element of the block is this record's
        self.counts.written += 1
        if self.counts.written == 2:
            crashpoint("mid-emit")
        self.counts.by_change[change] = self.counts.by_change.get(change, 0) + 1
        if record is not None and key is not None:
            self.tracker.delivered(self.block, key, record, change, xml)

    def _document(self, name: str, xml: str, key: str | None, row: SourceRow | None) -> bool:
        """Check one record's document (name and XSD now, its business rules asked for and
        settled with the record, see ``BlockSet._settle``); whether it may go so far."""
        assert self.sink is not None and self.block.document is not None
        if not self.findings(self.sink.check(self.block.document, name, xml, key), name, key, row):
            return False
        pending = self.sink.rules(self.block.document, xml)
        if pending is not None:
            assert self.txn is not None  # a document block always runs `for` records
            self.txn.rules.append((self, name, key, row, pending))
        return True

    def findings(self, found: list[Finding], name: str, key: str | None, row: SourceRow | None) -> bool:
        """Report what a document's checks found; whether it may go (no error)."""
        for f in found:
            # a bad file name points at the block's header (its `file` clause), a failed rule at
            # the profile line that wrote the node it concerns
            line = self.block.line if f.code == "E0650" else self._node_line(f.path) if f.path else None
            self.ctx.report.problems.append(problem(
                f.severity, f.code, f.message, self.name, key,
                (self.block.file, line) if line else None, row,
                name if f.code != "E0650" else None))
        if any(f.severity == "error" for f in found):
            self._fail()
            return False
        return True

    def _node_line(self, path: str) -> int | None:
        """The profile line that wrote the element at ``path``, or its nearest written ancestor."""
        parts = path.split("/")
        while parts:
            line = self.block.nodes.get("/".join(parts))
            if line is not None:
                return line
            parts.pop()
        return None

    def _target(self) -> IO[str]:
        """Where the block's first record goes: the document when the block is the frontier
        (its containers opened there), else its own spool."""
        if self.direct is not None:
            return self.direct(self.block.containers)
        if self.finished:  # the frontier passed it as one that cannot write: a bug, not data
            raise RuntimeError(f"block {self.name} wrote after the document moved past it")
        self.spool = open(self.spool_path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        return self.spool

    def join(self, write: Callable[[tuple[str, ...]], IO[str]]) -> None:
        """Copy what the block held back into the document (``write(containers)`` opens its
        containers there) and drop the spool."""
        if self.spool is None:
            return
        self.close()
        with open(self.spool_path, encoding="utf-8") as fh:
            # 64K characters at a time: a 1M-character read held ~3 MB more (the text, its
            # bytes both ways) when a rerun joined its 20,000 changed invoices
            shutil.copyfileobj(fh, write(self.block.containers), 1 << 16)
        self.spool_path.unlink()
        self.spool = None
        self.sizes.clear()

    def close(self) -> None:
        if self.spool is not None and not self.spool.closed:
            self.spool.close()


@dataclass
class BlockSet:
    """Every block of a run, fed source by source; joined into the output in schema order."""

    artefact: Artefact
    fns: Bound
    bindings: dict[str, Binding]
    opts: RunOptions
    tracker: ChangeTracker
    ctx: RunContext
    spool_dir: Path
    sink: DocumentSink | None = None
    # Opens containers in the document and returns it: given, the frontier block writes into it
    # directly and the others are joined as soon as they can be; None: every block spools and
    # ``join_into``/``join_split`` lay the document out afterwards.
    document: Callable[[tuple[str, ...]], IO[str]] | None = None
    runs: list[BlockRun] = field(default_factory=list)
    # records rendered whose documents' rules still run: settled in the order they were read
    settling: deque[tuple[_Pending, dict[str, Any], str, str | None,
                          Callable[[bool, str | None], None]]] = field(default_factory=deque)
    order: _ReadOrder = field(default_factory=lambda: _ReadOrder([]))
    _next: int = 0  # the frontier: index in ``runs`` of the first block not yet in the document
    # referenced sources indexed by key, shared by the run's readers (``RecordReader.ref_index``)
    ref_index: RefIndexes = field(default_factory=dict)

    def run(self) -> bool:
        """Feed every block; False when a record failed (without --skip-invalid)."""
        self.spool_dir.mkdir(exist_ok=True)
        self.runs = [BlockRun(self.artefact, b, self.fns, self.opts, self.tracker, self.ctx,
                              self.spool_dir / f"block-{b.index}.xml", self.sink)
                     for b in self.artefact.blocks]
        ok = True
        for br in self.runs:
            # A block that cannot write holds the frontier back for nothing: a correction block
            # (it runs only for records delivered before) when nothing was delivered yet.
            if br.never or (br.block.uses_previous and br.block.source is not None
                            and not self.tracker.delivered_before(br.block.source)):
                br.finished = True
        self._advance()
        for br in self.runs:
            if br.block.source is None:
                br.offer(None, None, None)
                br.finished = True
                self._advance()
            elif br.block.set_checks:
                br.flags = _set_checks(self.artefact, br.block, self.fns, self.bindings, self.opts)
        for source in dict.fromkeys(b.source for b in self.artefact.blocks if b.source):
            runs = [br for br in self.runs if br.block.source == source]
            ok &= self._feed(source, runs)
            for br in runs:
                br.finished = True
            self._advance()
        for br in self.runs:
            br.close()
        return ok and all(br.ok for br in self.runs)

    def _advance(self) -> None:
        """Move the frontier past the finished blocks, copying what they held back into the
        document; the block it stops at writes straight into the document from now on, unless
        it already holds records back (then it is copied when it finishes)."""
        if self.document is None:
            return
        while self._next < len(self.runs):
            br = self.runs[self._next]
            if not br.finished:
                if br.fh is None:
                    br.direct = self.document
                return
            br.join(self.document)
            self._next += 1

    def _progress(self, source: str, n: int) -> None:
        """Tell whoever follows the run how far it got: records read, and written per block."""
        assert self.opts.progress is not None
        self.opts.progress(source, n, {name: c.written for name, c in self.ctx.report.blocks.items()})

    def _feed(self, source: str, runs: list[BlockRun]) -> bool:
        shape = self.artefact.sources[source]
        first = runs[0]  # keys the source's records in the history, whether it writes or not
        runs = [br for br in runs if not br.never] or runs[:1]
        counter = runs[0]  # counts a bad row or duplicate: a block this run writes, when one reads it
        if not self.tracker.delivered_before(source):  # then every record is new
            runs = [br for br in runs if br.takes(ChangeKind.NEW)] or runs[:1]
            for br in runs:  # (an Unread, which classify knows unchanged, goes to offer_unchanged)
                br.classifies = False
        tally = self.ctx.report.records.setdefault(source, {})
        count = partial(_count, tally)
        key_of = key_text(shape)
        windowed = shape.window is not None and (self.opts.date_from is not None
                                                 or self.opts.date_to is not None)
        read = inside = 0
        unchanged = [br for br in runs if br.takes(ChangeKind.UNCHANGED)]  # the others say no
        alone = runs[0] if self._alone_fits(runs) else None
        self.order = _ReadOrder(self.ctx.report.problems)
        try:
            reader = RecordReader(source, shape, self.bindings, self.artefact.sources,
                                  self.tracker.delivered_record, self.tracker.lines(source), self.ref_index)
            if hasattr(self.tracker, "attach_refs"):
                self.tracker.attach_refs = reader.attach_refs
            self.tracker.by_line(source, reader.lines is not None)
            for n, rec in enumerate(reader, start=1):
                if not n & SPILL_MASK:
                    self._spill_keys()
                if self.opts.progress and n % PROGRESS_EVERY == 0:
                    self._progress(source, n)
                if rec.value is None:
                    counter.bad_row(rec)  # reported once, by the first block reading the source
                    continue
                record = rec.value
                known = rec.known >= 0  # a line the history knows: unchanged, its record not decoded
                if known:
                    if not self.tracker.seen_line(first.block, rec.known, rec.raw):
                        counter.duplicate(key_of(record), (rec.file, rec.number))
                        continue
                    key = ""
                else:
                    key = key_of(record)
                    if not self.tracker.seen_key(first.block, key, rec.raw, rec.typed):
                        counter.duplicate(key, (rec.file, rec.number))
                        continue
                read += 1
                if windowed and not _in_window(shape.window, record, self.opts):
                    continue
                inside += 1
                if known:
                    if unchanged:
                        lazy = partial(key_of, record)  # read from the line only if a problem names it
                        picked = [br.offer_unchanged(record, lazy, rec.file, rec.number) for br in unchanged]
                        if True in picked and None not in picked:
                            _count(tally, True, ChangeKind.UNCHANGED)
                else:
                    where = (rec.file, rec.number)
                    if alone is not None:
                        self._alone(alone, record, key, where, tally)
                    else:
                        self._whole(runs, record, key, lambda br: br.offer(record, key, where), count)  # noqa: B023
            self._settle(0)
            self.order.restore()
            if self.opts.progress:
                self._progress(source, read)
            self._orphans(reader, first)
            self._selected_nothing(source, runs, read, inside)
            for key, previous in self.tracker.deleted(first.block):
                self._whole(runs, previous, key, lambda br: br.offer_deleted(key, previous),  # noqa: B023
                            partial(self._deleted, first.block, key, previous, tally))
            self._settle(0)
            self.order.restore()
            crashpoint("after-deletions")
        except SourceError as exc:
            self.ctx.report.problems.append(source_problem(
                "error", exc.code, exc.message, source_label(source),
                (exc.file, exc.row)) if exc.row else problem(
                "error", exc.code, exc.message, f"{source_label(source)}; {exc.file}"))
            return False
        return True

    def _alone_fits(self, runs: list[BlockRun]) -> bool:
        """Whether a source's records may skip ``_whole``: one block is offered them, and it
        writes no documents, so a record has no other element to be held back with and no
        business rules to wait for (nothing is settling: a source starts with none)."""
        return len(runs) == 1 and runs[0].sink is None and not self.settling

    def _alone(self, br: BlockRun, record: dict[str, Any], key: str, row: SourceRow,
               tally: dict[str, int]) -> None:
        """``_whole`` of a record only ``br`` is offered: with no record at hand (``txn``) its
        element is delivered as soon as it is written, as ``_settled`` would deliver it."""
        order = self.order
        seq = order.next()
        kind = br.offer(record, key, row)
        if len(order.problems) != order.known:  # (most records add none: no call then)
            order.tag(seq)
        _count(tally, True, kind)

    def _whole(self, runs: list[BlockRun], record: dict[str, Any], key: str,
               offer: Callable[[BlockRun], str | None], done: Callable[[bool, str | None], None]) -> None:
        """Offer one record to every block; deliver all of its elements, or none when one failed,
        then tell ``done`` whether it went through and the change kind a block delivered or
        skipped as unchanged (None when no block took it).

        A record whose documents wait for their business rules waits in ``settling`` while the
        next records are rendered (their rules run on other cores meanwhile); records are settled
        in the order they were read, so the report does not depend on how fast the rules ran."""
        txn = _Pending(seq=self.order.next())
        kind = None
        for br in runs:
            br.txn = txn
            try:
                kind = offer(br) or kind
            finally:
                br.txn = None
        self.order.tag(txn.seq)
        if not txn.rules and not self.settling:  # nothing to wait for: settled at once
            self._settled(txn, record, key, kind, done)
            return
        self.settling.append((txn, record, key, kind, done))
        self._settle(SETTLE_WINDOW if txn.rules or len(self.settling) > 1 else 0)

    def _settle(self, keep: int) -> None:
        """Settle the oldest waiting records until at most ``keep`` wait."""
        while len(self.settling) > keep:
            self._settled(*self.settling.popleft())

    def _settled(self, txn: _Pending, record: dict[str, Any], key: str, kind: str | None,
                 done: Callable[[bool, str | None], None]) -> None:
        """One record once its documents' rules are in: all of its elements delivered, or none."""
        for br, name, doc_key, row, pending in txn.rules:
            if not br.findings(pending.findings(), name, doc_key, row):
                txn.failed = True
        self.order.tag(txn.seq)
        if txn.failed:
            held = sorted({br.name for br, *_ in txn.parts})
            problems = self.ctx.report.problems
            if held and problems:  # say that what did render was held back with it
                problems[-1] = replace(problems[-1], message=problems[-1].message + "; so nothing "
                                       f"of this record was delivered ({', '.join(held)} held back)")
            done(False, None)
            return
        for br, change, xml, name in txn.parts:
            br.put(record, key, change, xml, name)
        done(True, kind)

    def _deleted(self, block: BlockSpec, key: str, previous: dict[str, Any], tally: dict[str, int],
                 ok: bool, _kind: str | None) -> None:
        if ok:  # recorded as deleted even when no block writes anything for it
            self.tracker.delivered(block, key, previous, ChangeKind.DELETED, "")
            tally["deleted"] = tally.get("deleted", 0) + 1

    def _orphans(self, reader: RecordReader, first: BlockRun) -> None:
        """Child rows (invoice lines) whose parent is not in the source: a warning naming them."""
        for fname, (child, on, keys) in reader.orphans.items():
            if not keys:
                continue
            shown = ", ".join(", ".join(f"{f}={format_value(v)}" for f, v in zip(on, k, strict=True))
                              for k in list(dict.fromkeys(keys))[:5])
            more = f" and {len(set(keys)) - 5} more" if len(set(keys)) > 5 else ""
            self.ctx.report.problems.append(problem(
                "warning", "W0501", f"{len(keys)} row(s) of `{fname}` belong to no record of this "
                f"source and were left out: {shown}{more}",
                f"{source_label(first.block.source)}; {child.location}"))

    def record_at(self, xml: Path, line: int, first: int = 0) -> tuple[str, str | None] | None:
        """The block and key of the record whose element holds ``line`` of a joined document
        (an XSD error's line). ``join_into`` and ``join_split`` lay the records out in block
        order, so the n-th record element of the document is the n-th record written, counted
        on from ``first`` (the records the documents before it hold, in a split run)."""
        paths = {(*br.block.containers, br.block.element) for br in self.runs if br.written_keys}
        index = _element_at(xml, line, paths)
        if index is None:
            return None
        index += first
        for br in self.runs:
            keys = br.written_keys
            if keys is None:
                continue
            if index < len(keys):
                return br.name, keys.at(index)
            index -= len(keys)
        return None

    def _selected_nothing(self, source: str, runs: list[BlockRun], read: int, inside: int) -> None:
        """A window, or a selection (a block's ``where``, a param such as ``debtors``), that
        selects none of a source's records is a warning, not a quiet success."""
        window = self.artefact.sources[source].window
        if read and not inside:
            span = f"{self.opts.date_from or '…'} – {self.opts.date_to or '…'}"
            message = (f"the window {span} selects none of the {read} records of `{source}` (by "
                       f"{window}); check --from/--to")
            self.ctx.report.problems.append(problem("warning", "W0635", message, runs[0].name))
        elif inside and not any(br.counts.records for br in runs):
            message = (f"no block selects any of the {inside} records of `{source}`"
                       + (" in this run's window" if window else "") + "; check the selection "
                       "(params such as debtors, and each block's `where`)")
            self.ctx.report.problems.append(problem("warning", "W0636", message, runs[0].name))

    def join_into(self, write: Callable[[tuple[str, ...]], IO[str]]) -> None:
        """Copy the spools left in block (schema) order; ``write(containers)`` opens the
        containers (nothing is left when the blocks wrote into the ``document`` themselves)."""
        for br in self.runs:
            br.join(write)

    def join_split(self, open_file: Callable[[int], Callable[[tuple[str, ...]], IO[str]]],
                   per_file: int) -> None:
        """Like ``join_into``, into several documents of at most ``per_file`` records each, cut
        between records: ``open_file(n)`` gives the n-th document's container opener."""
        n, in_file = 0, 0
        write = open_file(n)
        for br in self.runs:
            if not br.sizes:
                continue
            with open(br.spool_path, encoding="utf-8") as fh:
                for size in br.sizes:
                    if in_file == per_file:
                        n, in_file = n + 1, 0
                        write = open_file(n)
                    write(br.block.containers).write(fh.read(size))
                    in_file += 1

    def discard(self) -> None:
        for br in self.runs:
            br.close()
        shutil.rmtree(self.spool_dir, ignore_errors=True)

    def _spill_keys(self) -> None:
        for br in self.runs:
            if br.written_keys is not None:
                br.written_keys.spill()

    def forget_keys(self) -> None:
        """Drop the written elements' keys (once the document is validated: see `record_at`)."""
        for br in self.runs:
            if br.written_keys is not None:
                br.written_keys.close()


@dataclass(slots=True)
class _Pending:
    """One record's elements from every block that reads it, held until all of them succeed."""

    failed: bool = False
    seq: int = 0  # its place in the order records were read
    # (block, change, xml, document file name)
    parts: list[tuple[BlockRun, ChangeKind, str, str]] = field(default_factory=list)
    # its documents' business rules, still running: (block, file name, key, source row, pending)
    rules: list[tuple[BlockRun, str, str | None, SourceRow | None, Pending]] = field(default_factory=list)


class _ReadOrder:
    """Keeps a source's problems in the order its records were read: a record's business-rule
    findings arrive while later records are rendered (and report their own problems)."""

    def __init__(self, problems: list[Diagnostic]) -> None:
        self.problems, self.start = problems, len(problems)
        self.tags: list[int] = []  # the record (its read number) of each problem since ``start``
        self.seq = 0
        self.known = self.start  # the problems tagged so far: ``start + len(tags)``

    def next(self) -> int:
        """A new record: what came before it (a bad row, a duplicate) belongs to the last one."""
        if len(self.problems) != self.known:  # (most records add none: no call then)
            self.tag(self.seq)
        self.seq += 1
        return self.seq

    def tag(self, seq: int) -> None:
        """The problems added since the last call belong to record ``seq``."""
        new = len(self.problems) - self.known
        if new:  # (most records add none)
            self.tags += [seq] * new
            self.known += new

    def restore(self) -> None:
        """Put the problems in read order (stable: a record's own order is kept)."""
        self.tag(self.seq)
        ordered = sorted(zip(self.tags, self.problems[self.start:], strict=True), key=lambda tp: tp[0])
        self.problems[self.start:] = [p for _, p in ordered]
        self.tags = [t for t, _ in ordered]


def _count(tally: dict[str, int], _ok: bool, kind: str | None) -> None:
    if kind:  # once per record, however many blocks deliver it
        tally[kind] = tally.get(kind, 0) + 1


@dataclass
class _Flag:
    severity: str
    code: str
    message: str
    file: str
    line: int


def _set_checks(artefact: Artefact, block: BlockSpec, fns: Bound,
                bindings: dict[str, Binding], opts: RunOptions) -> dict[str, list[_Flag]]:
    """A pre-pass over the block's records for set-level checks; flags per record key."""
    assert block.source is not None
    shape = artefact.sources[block.source]
    entry = fns.blocks[block.index]
    where = entry.where
    rows: list[list[tuple[str, tuple[Any, ...], tuple[Any, ...]]]] = [[] for _ in block.set_checks]
    key_of = key_text(shape)
    for rec in RecordReader(block.source, shape, bindings, artefact.sources):
        if rec.value is None or not _in_window(shape.window, rec.value, opts):
            continue
        try:
            if where is not None and not where(rec.value, None, None):
                continue
            key = key_of(rec.value)
            for n, values_of in enumerate(entry.set_checks):
                per, values = values_of(rec.value)
                rows[n].append((key, per, values))
        except RecordError:
            continue  # reported when the record itself is emitted
    flags: dict[str, list[_Flag]] = {}
    for spec, entries in zip(block.set_checks, rows, strict=True):
        groups: dict[tuple[Any, ...], list[tuple[str, tuple[Any, ...]]]] = {}
        for key, per, values in entries:
            if spec.fn == "unique" and None in values:
                continue  # like SQL: a missing value clashes with nothing
            group = per + (values if spec.fn == "unique" else ())
            groups.setdefault(group, []).append((key, values))
        for members in groups.values():
            clashes: list[tuple[str, str]] = []
            if spec.fn == "unique" and len(members) > 1:
                keys = [k for k, _ in members]
                clashes = [(k, ", ".join(o for o in keys if o != k)) for k in keys]
            elif spec.fn == "no_overlap":
                ordered = sorted((v for v in members if None not in v[1]), key=lambda m: m[1][0])
                for i, (k, (_start, end)) in enumerate(ordered):
                    for k2, (s2, _e2) in ordered[i + 1:]:
                        if s2 >= end:
                            break
                        clashes += [(k, k2), (k2, k)]
            for k, other in clashes:
                flags.setdefault(k, []).append(_Flag(spec.severity, "E0608" if spec.severity ==
                                                     "error" else "W0608",
                                                     f"{spec.message} (with {other})", spec.file,
                                                     spec.line))
    return flags


def _element_at(xml: Path, line: int, paths: set[tuple[str, ...]]) -> int | None:
    """The index, among all record elements (those at ``paths``), of the last one starting at
    or before ``line``."""
    from lxml import etree
    stack: list[str] = []
    last = None
    count = 0
    with open(xml, "rb") as fh:  # closed however early the walk stops
        try:
            for event, el in etree.iterparse(fh, events=("start", "end")):
                if event == "end":
                    stack.pop()
                    el.clear()
                    continue
                stack.append(etree.QName(el).localname)
                if tuple(stack[1:]) in paths:
                    if (el.sourceline or 0) > line:
                        break
                    last, count = count, count + 1
        except etree.XMLSyntaxError:
            pass  # the error is the well-formedness itself; what was read so far still counts
    return last
