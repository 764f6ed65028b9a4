"""What a run carries: its options, the change-tracking interface, and the per-run context that
collects problems. Shared by ``execute`` (the run) and ``blocks`` (the per-record work)."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exportc.artefact import Artefact, BlockSpec
from exportc.runtime.kinds import ChangeKind, RunMode
from exportc.runtime.rawlines import LineIndex
from exportc.runtime.report import Report, SourceRow, problem


class UsageError(Exception):
    """A bad parameter, a missing source binding: the user must change the command."""


@dataclass
class RunOptions:
    sources: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    booking_date: dt.date | None = None
    description: str | None = None
    # Where ``execute`` writes. Through ``run_with_history`` with a run store, the run writes into
    # its own folder there and this is only a copy target (``--out``); None: no copy.
    out_dir: Path | None = None
    validate: bool = True
    skip_invalid: bool = False
    mode: RunMode = RunMode.TEST  # given as its word ("production") too: see __post_init__
    started_by: str | None = None  # who started the run: the OS user (CLI) or the console's login
    # Guards of a production run (see ``guard`` and ``production.preflight``)
    allow_deletions: int | None = None  # --allow-deletions N
    max_deletions: str = "10%"  # the profile's guard, from exportc.toml
    whole: bool = False  # --all: a windowed profile's production run over the whole source
    first_delivery: bool = False  # --first-delivery: the profile's first production run here
    split: int | None = None  # at most this many records per document (Exact's upload size)
    zip: bool = False  # --zip: also publish a zip of every document (runtime/bundle.py)
    # (source, records read so far, records written so far per block), every PROGRESS_EVERY records
    progress: Callable[[str, int, dict[str, int]], None] | None = None
    phase: Callable[[str], None] | None = None  # reading, writing, validating, recording

    def __post_init__(self) -> None:
        self.mode = RunMode(self.mode)  # the CLI, the console and a schedule give the word


# Hook for production runs: given a block and a record, say how it changed and what was
# delivered before; record what is delivered. Test runs without history use ``NoHistory``.
class ChangeTracker:
    def seen_key(self, block: BlockSpec, key: str, raw: bytes | None = None, typed: bool = False) -> bool:
        """Every key present in the source, selected or not (for deletion detection), with the
        digest of the line it was read from (``rawlines``; None when the source does not take
        part) and whether the record is as the typed reader decoded it (``Record.typed``);
        False when the key was seen before in this run (a duplicate record)."""
        return True

    def seen_line(self, block: BlockSpec, position: int, line: bytes | None) -> bool:
        """``seen_key`` of a record read from a line the history knows (``Record.known``: its
        position among ``lines``; ``line``: the line's digest, ``Record.raw``): False when that
        record was read before in this run."""
        return True

    def by_line(self, source: str, used: bool) -> None:
        """Whether the reader of ``source`` looks its lines up in ``lines`` (a JSON Lines
        source whose lists are in its lines) or decodes every record (any other)."""

    def lines(self, source: str) -> LineIndex | None:
        """The history's line digests of ``source`` (None: its lines are not digested; a run
        without history has nothing to skip)."""
        return None

    def classify(self, block: BlockSpec, key: str, record: dict[str, Any]
                 ) -> tuple[ChangeKind, dict[str, Any] | None]:
        return ChangeKind.NEW, None

    def delivered(self, block: BlockSpec, key: str, record: dict[str, Any], change: ChangeKind,
                  xml: str) -> None:
        """Called for each element a record delivered, once all of the record's blocks succeeded
        (for a deletion, also once when no block writes anything for it)."""

    def deleted(self, block: BlockSpec) -> Iterator[tuple[str, dict[str, Any]]]:
        """Records delivered before that are gone now (key, previous values)."""
        return iter(())

    def delivered_before(self, source: str) -> bool:
        """Whether any record of ``source`` was delivered before (asked before it is read)."""
        return False

    def delivered_record(self, source: str, key: str) -> dict[str, Any] | None:
        """The record of ``source`` with ``key`` as last delivered (None without a history):
        a ``ref`` that this run's source does not resolve falls back to it."""
        return None


def in_window(value: dt.date | None, opts: RunOptions) -> bool:
    """Whether a window date falls in the run's --from/--to (always, without a window)."""
    if opts.date_from is None and opts.date_to is None:
        return True
    if value is None:
        return False
    if isinstance(value, dt.datetime):
        value = value.date()
    return not ((opts.date_from and value < opts.date_from) or (opts.date_to and value > opts.date_to))


def code_filename(artefact: Artefact) -> str:
    return f"<exportc {artefact.name}>"


def origin(artefact: Artefact, tb: Any) -> tuple[str, int] | None:
    """The profile line of the innermost generated-code frame in a traceback."""
    found = None
    name = code_filename(artefact)
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == name:
            found = artefact.source_line(lineno)
    return found


# A record's key as text, or how to get it: a line the history knows is not decoded, so its key
# is read from it only when a problem names it.
Key = str | Callable[[], str] | None


def key_text_of(key: Key) -> str | None:
    return key() if callable(key) else key


@dataclass
class RunContext:
    report: Report
    block: str = ""
    key: Key = None
    row: SourceRow | None = None  # where the record being written was read
    bad_rows: set[tuple[str, int]] = field(default_factory=set)

    def warn(self, message: str, file: str, line: int) -> None:
        self.report.problems.append(problem("warning", "W0601", message, self.block, key_text_of(self.key),
                                            (file, line), self.row))


