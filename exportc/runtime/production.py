"""Production and test runs against the delivery history.

Each record of a source is new, changed, unchanged or deleted, by a content hash of its values
against what was delivered before. ``history mutations`` delivers only new, changed and deleted
records; ``history full`` delivers everything and records it; ``history none`` records nothing.
Deletion is scoped: only a record delivered before, that falls inside this run's window and
selection (a block's ``where``) and is gone from the source, counts as deleted.

A production run is atomic: its files are written under temporary names and made durable, the
run and its deliveries are committed in one transaction, and only then are the files moved into
place; a run that dies before the commit leaves nothing recorded and its temporary files are
removed by the next run, a run that dies after it has its files moved into place by the next run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exportc.artefact import Artefact
from exportc.config import DEFAULT_MAX_DELETIONS
from exportc.diagnostics import Diagnostic
from exportc.project import project_of, run_store
from exportc.runtime import bulk
from exportc.runtime.execute import Recording, RunOptions, UsageError, execute
from exportc.runtime.faults import crashpoint
from exportc.runtime.history import HistoryError, HistoryStore
from exportc.runtime.kinds import HistoryKind, RunMode
from exportc.runtime.report import Report, problem, timestamp
from exportc.runtime.runstore import REPORTS, RunStoreError, check_writable, copy_files, new_run_folder, prune
from exportc.runtime.tracker import HistoryTracker, TagMismatch

HEARTBEAT_SECONDS = 10.0


class _Heartbeat:
    """Keeps the run's and lock's heartbeat fresh while a long run works."""

    def __init__(self, store: HistoryStore, run_id: int, profile: str) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, args=(store, run_id, profile), daemon=True)

    def _beat(self, store: HistoryStore, run_id: int, profile: str) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):  # a missed beat only makes the lock look older
                store.heartbeat(run_id, profile)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@dataclass(frozen=True)
class Storage:
    """What a run takes from its project: the run store, how many test runs it keeps, and the
    profile's deletion guard."""

    root: Path
    keep_test_runs: int = 50
    max_deletions: str = DEFAULT_MAX_DELETIONS

    @classmethod
    def of(cls, artefact: Artefact) -> Storage:
        """The settings of the project the profile belongs to (``exportc.project``)."""
        project = project_of(artefact.files[0])
        return cls(run_store(project), project.keep_test_runs, project.deletion_guard(artefact.name))


def preflight(artefact: Artefact, opts: RunOptions, store: HistoryStore) -> None:
    """What a production run must be asked for explicitly, checked before anything is recorded:
    a windowed profile over the whole source (``--all``), and a profile's first delivery into
    this history (``--first-delivery``): a run that lands on a wrong, empty history stops
    instead of delivering everything again. Also, for every run, that ``--out`` can be written."""
    if opts.out_dir is not None:
        try:
            check_writable(Path(opts.out_dir))
        except RunStoreError as exc:
            raise UsageError(f"--out: {exc}") from None
    if opts.mode is not RunMode.PRODUCTION:
        return
    windowed = sorted(dict.fromkeys(f"`{b.source}` by {artefact.sources[b.source].window}"
                                    for b in artefact.blocks
                                    if b.source and artefact.sources[b.source].window))
    if windowed and opts.date_from is None and opts.date_to is None and not opts.whole:
        raise UsageError(f"`{artefact.name}` selects {', '.join(windowed)} per window; without "
                         "--from/--to every delivered record missing from the source would count as "
                         "deleted. Give --from/--to, or --all to run over the whole source")
    if artefact.history != HistoryKind.NONE and not opts.first_delivery and not store.has_delivered(artefact.name):
        raise UsageError(f"no production run of `{artefact.name}` has delivered anything in the history "
                         f"{store.where}, so this run would deliver every record as new. If this is "
                         "the right history (not a new, empty one), run again with --first-delivery")


def run_with_history(artefact: Artefact, opts: RunOptions, store: HistoryStore,
                     request: dict[str, Any], run_id: int | None = None,
                     lock_timeout: float = 60.0, storage: Storage | None = None) -> Report:
    """A test or production run, listed in the runs overview; production runs record.

    The run writes into its own new folder in the run store; ``opts.out_dir``, when given, only
    receives a copy of its files afterwards."""
    production = opts.mode is RunMode.PRODUCTION
    storage = storage or Storage.of(artefact)
    opts = dataclasses.replace(opts, max_deletions=storage.max_deletions)
    try:
        preflight(artefact, opts, store)
    except UsageError as exc:
        if run_id is not None:  # a scheduled run: it is listed, so it fails and says why
            _fail(store, artefact, opts, run_id, str(exc))
        raise
    notes = [problem("note", "N0620", note) for note in store.recover(artefact.name)]
    crashpoint("after-recover")
    window = (opts.date_from, opts.date_to)
    created = run_id is None
    if run_id is None:
        run_id = store.create_run(artefact.name, opts.mode.letter, "running", request, window, None)
    else:
        store.start_run(run_id)
    crashpoint("after-run-row")
    copy_to, report, folder = opts.out_dir, None, None
    try:
        folder = new_run_folder(storage.root, artefact.name, run_id, opts.mode.letter)
        store.set_out_dir(run_id, str(folder))
        crashpoint("after-run-folder")
        opts = dataclasses.replace(opts, out_dir=folder)
        if production:
            with store.lock(artefact.name, run_id, lock_timeout), _Heartbeat(store, run_id, artefact.name):
                crashpoint("after-lock")
                report = _run(artefact, opts, store, run_id, record=True, notes=notes)
            crashpoint("after-unlock")
        else:
            report = _run(artefact, opts, store, run_id, record=False, notes=notes)
    except BaseException as exc:
        if report is not None or _finished(store, run_id):
            # Finished and recorded (a production run's commit is its point of no return: its
            # files are in place, or recovery puts them there); only what came after it failed.
            raise
        if created and isinstance(exc, UsageError):  # the command was wrong: nothing to list
            store.discard_run(run_id)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        _fail(store, artefact, opts, run_id, str(exc) if not isinstance(exc, KeyboardInterrupt)
              else "interrupted")
        raise
    if copy_to is not None:
        _copy_out(report, folder, Path(copy_to), artefact)
    if not production:
        _prune_test_runs(store, artefact.name, storage)
    return report


def _finished(store: HistoryStore, run_id: int) -> bool:
    """Whether the history has the run finished already: it committed, and what failed came
    after (writing its report): marking it failed now would belie the deliveries it recorded."""
    try:
        row = store.get_run(run_id)
    except Exception:  # (the history itself failed: the run is failed if it can be recorded)
        return False
    return row is not None and row.status != "running"


def _fail(store: HistoryStore, artefact: Artefact, opts: RunOptions, run_id: int, message: str) -> None:
    """Record a listed run as failed with why it stopped."""
    report = Report(artefact.name, opts.mode, status="failed", started=timestamp(), run_id=run_id,
                    history=store.where)
    report.problems.append(problem("error", "E0621", f"the run stopped: {message}"))
    store.finish_run(run_id, store.finish_values("failed", report.to_json(), [], 1, 0, {}))


def _copy_out(report: Report, folder: Path, dest: Path, artefact: Artefact) -> None:
    """Copy the run's files to ``--out``; a failed copy is a warning (the run store keeps them)."""
    files = [Path(f) for f in report.files] + [folder / name for name in REPORTS]
    try:
        copy_files(files, dest, stale=[f"{artefact.name}.xml"], crash=crashpoint)
    except RunStoreError as exc:
        report.problems.append(problem("warning", "W0634", f"{exc}; the files are in {folder} "
                                       f"(`exportc files {report.run_id} --copy-to DIR`)"))
        return
    report.copied_to = str(dest.resolve())
    crashpoint("after-copy")


def _prune_test_runs(store: HistoryStore, profile: str, storage: Storage) -> None:
    """Remove the folders of a profile's test runs beyond the newest ``keep_test_runs``."""
    prune(store.old_test_folders(profile, storage.keep_test_runs), storage.root)


def _counts(report: Report) -> dict[str, int]:
    """Records per change kind over all sources, each record once (the runs overview)."""
    out: dict[str, int] = {}
    for tally in report.records.values():
        for k, v in tally.items():
            out[k] = out.get(k, 0) + v
    return out


def _run(artefact: Artefact, opts: RunOptions, store: HistoryStore, run_id: int, record: bool,
         notes: list[Diagnostic]) -> Report:
    """`_attempt`; once more, reading every line the full way, if a line passed for one the
    history knows by its tag alone (``knownlines``: ~1 in 10^10 changed lines)."""
    try:
        return _attempt(artefact, opts, store, run_id, record, notes, line_digests=True)
    except TagMismatch as exc:
        again = problem("note", "N0623", f"a line of source `{exc.source}` had the tag of a line "
                        "delivered before, and other bytes; the run started over and read every "
                        "line in full")
        return _attempt(artefact, opts, store, run_id, record, [*notes, again], line_digests=False)


def _attempt(artefact: Artefact, opts: RunOptions, store: HistoryStore, run_id: int, record: bool,
             notes: list[Diagnostic], line_digests: bool) -> Report:
    # The deliveries are staged beside the run's files (a temporary folder, like theirs)
    scratch = Path(opts.out_dir) / f".deliveries.{os.getpid()}" if opts.out_dir is not None else None
    tracker = HistoryTracker(store, artefact, opts, record=record, run_id=run_id, scratch=scratch,
                             line_digests=line_digests)
    crashpoint("after-history-read")

    def prepare(pairs: list[tuple[str, str]]) -> None:
        if record:  # from here a crash is cleaned up by recovery
            store.set_temp_files(run_id, [*pairs, *([(str(scratch), "")] if scratch else [])])
            crashpoint("after-temp-files")

    def commit(report: Report, files: list[str]) -> None:
        report.run_id = run_id
        report.history = store.where
        values = store.finish_values(report.status, report.to_json(), files, len(report.errors),
                                     len(report.warnings), _counts(report))
        crashpoint("before-commit")
        delivering = record and report.status == "succeeded"
        with store.engine.connect() as conn, \
                bulk.attached(conn, tracker.pending if delivering else None), conn.begin():
            if record and not store.holds_lock(conn, artefact.name, run_id):
                raise HistoryError(f"the run lost the lock of `{artefact.name}` (its heartbeat "
                                   "stopped for a minute and another run took it over); nothing "
                                   "was recorded or delivered")
            if delivering:
                store.record_rows(conn, tracker.pending)
                store.refresh_lines(conn, artefact.name, tracker.refreshed())
                crashpoint("mid-commit")  # inside the transaction: a kill here rolls it back
            store.finish_run(run_id, values, conn)
        crashpoint("after-commit")

    def moved() -> None:
        if record:
            tracker.pending.close()  # the staged deliveries are recorded: gone before unlisted
            store.set_temp_files(run_id, [])

    try:
        return execute(artefact, opts, tracker, recording=Recording(prepare, commit, moved), run_id=run_id,
                       notes=notes)
    finally:
        tracker.close()
