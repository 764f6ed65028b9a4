"""The history store: runs (test and production, scheduled), deliveries and locks.

SQLAlchemy Core, one code path for SQLite (a file, nothing to install) and PostgreSQL (a URL, for
a team or several machines sharing one history). The schema is versioned; ``migrate`` brings any
older database up to date in one transaction per step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, OperationalError, SQLAlchemyError

from exportc.runtime import bulk
from exportc.runtime.kinds import RunMode
from exportc.runtime.liveness import HOST, Holder, my_start
from exportc.runtime.liveness import now as now  # re-exported: the history's clock

SCHEMA_VERSION = 4
meta = MetaData()

schema_versions = Table(
    "exportc_schema", meta,
    Column("version", Integer, primary_key=True),
    Column("applied", DateTime, nullable=False),
)
runs = Table(
    "exportc_runs", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile", String(200), nullable=False, index=True),
    Column("mode", String(1), nullable=False),  # P production, T test
    Column("status", String(20), nullable=False),  # scheduled running succeeded failed cancelled
    Column("created", DateTime, nullable=False),
    Column("scheduled_at", DateTime),
    Column("started", DateTime),
    Column("finished", DateTime),
    Column("window_from", Date),
    Column("window_to", Date),
    Column("request", Text, nullable=False),  # JSON: how to run it again (profile, sources, params...)
    Column("out_dir", Text),
    Column("files", Text),  # JSON list of final paths
    Column("temp_files", Text),  # JSON list of [temp, final] pairs still to move into place
    Column("report", Text),
    Column("errors", Integer, default=0),
    Column("warnings", Integer, default=0),
    Column("counts", Text),  # JSON {change kind: n}
    Column("pid", Integer),
    Column("host", String(200)),
    Column("heartbeat", DateTime),
    Column("proc_start", String(100)),  # when the process started (liveness.process_start)
)
deliveries = Table(
    "exportc_deliveries", meta,
    Column("profile", String(200), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("record_key", String(500), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the delivered values, as canonical JSON
    Column("window_value", Date),
    Column("run_id", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    # A digest of the source line the record was read from (``rawlines``): a later run that
    # reads the same line knows the record unchanged without decoding it. NULL: not known
    # (a record from a CSV or SQL source, a deletion, a history older than schema 4).
    Column("raw_hash", String(32)),
)
delivery_log = Table(
    "exportc_delivery_log", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False, index=True),
    Column("profile", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("record_key", String(500), nullable=False),
    Column("change", String(20), nullable=False),
    Column("hash", String(64), nullable=False),
)
locks = Table(
    "exportc_locks", meta,
    Column("profile", String(200), primary_key=True),
    Column("run_id", Integer),
    Column("pid", Integer, nullable=False),
    Column("host", String(200), nullable=False),
    Column("heartbeat", DateTime, nullable=False),
    Column("proc_start", String(100)),
)


class Delivery(NamedTuple):
    """One record as a production run delivered it, as the history records it."""

    source: str
    key: str  # the record's key as text (``record_key``)
    change: str  # a ChangeKind: new, changed or deleted (an unchanged record is not delivered)
    hash: str  # sha256 (hex) of the canonical text
    payload: str  # the canonical text: the delivered values, read back as ``previous``
    window: dt.date | None  # the record's window value, for the deletion scope of later runs
    raw: str | None = None  # digest of the source line it was read from (``rawlines``), hex


class HistoryError(Exception):
    """The history database cannot be used (unreachable, locked, newer schema)."""


class NoHistory(HistoryError):
    """A read-only command found no history where it looked (and created none)."""


class LockTimeout(HistoryError):
    """Another production run of the profile holds the lock."""


def _holder(r: Any) -> Holder:
    """The process a lock row or a running run's row names."""
    return Holder(r.pid or 0, r.host or "", r.heartbeat, r.proc_start, r.run_id if hasattr(r, "run_id")
                  else r.id)


def _restore_reports(out_dir: str | None, report_json: str | None) -> None:
    """A committed run killed before it wrote its reports gets them from its history row."""
    from exportc.runtime.report import Report
    if not out_dir or not report_json or not os.path.isdir(out_dir):
        return
    for name in ("report.json", "report.txt"):
        path = os.path.join(out_dir, name)
        if not os.path.exists(path):
            body = report_json if name.endswith(".json") else Report.from_json(report_json).summary() + "\n"
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(body)


def db_reason(exc: SQLAlchemyError) -> str:
    """The database's own words for an error, on one line (``file is not a database``)."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def describe_url(url: str) -> str:
    """A history URL as shown to users: a SQLite file as its path; any other URL without its
    password."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("@")[-1]


def _migration_1(conn: Connection) -> None:
    meta.create_all(conn, tables=[runs, deliveries, delivery_log, locks])


def _migration_2(conn: Connection) -> None:
    """Runs and locks record their process's start time, so a reused PID is not taken for it."""
    from sqlalchemy import inspect
    for table in (runs, locks):
        columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
        if "proc_start" not in columns:  # version 1 made by an older exportc
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN proc_start VARCHAR(100)"))


def _migration_3(conn: Connection) -> None:
    from exportc.runtime.accounts import create_tables  # the console's users and sessions
    create_tables(conn)


def _migration_4(conn: Connection) -> None:
    """Deliveries keep the digest of the source line they were read from, so a rerun skips
    the lines it has delivered unchanged. Existing rows get NULL: their records are classified
    by the canonical hash as before, and get the digest once a production run reads them."""
    columns = {c["name"] for c in inspect(conn).get_columns(deliveries.name)}
    if "raw_hash" not in columns:  # made by an older exportc (a new database has it already)
        conn.execute(text(f"ALTER TABLE {deliveries.name} ADD COLUMN raw_hash VARCHAR(32)"))


MIGRATIONS = {1: _migration_1, 2: _migration_2, 3: _migration_3, 4: _migration_4}


@dataclass
class RunRow:
    id: int
    profile: str
    mode: str
    status: str
    created: dt.datetime
    scheduled_at: dt.datetime | None
    started: dt.datetime | None
    finished: dt.datetime | None
    window_from: dt.date | None
    window_to: dt.date | None
    request: dict[str, Any]
    out_dir: str | None
    files: list[str]
    report: str | None
    errors: int
    warnings: int
    counts: dict[str, int]

    @property
    def description(self) -> str | None:
        """The run's description, as it was requested."""
        return self.request.get("description")

    @property
    def booking_date(self) -> str | None:
        """The run's booking date (YYYY-MM-DD), as it was requested."""
        return self.request.get("booking_date")

    @property
    def started_by(self) -> str | None:
        """Who started or scheduled the run (an OS user, or the web console's login)."""
        return self.request.get("started_by")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "profile": self.profile, "mode": self.mode, "status": self.status,
                "description": self.description, "booking_date": self.booking_date,
                "started_by": self.started_by,
                "created": _iso(self.created), "scheduled_at": _iso(self.scheduled_at),
                "started": _iso(self.started), "finished": _iso(self.finished),
                "window": {"from": _iso(self.window_from), "to": _iso(self.window_to)},
                "out_dir": self.out_dir, "files": self.files, "errors": self.errors,
                "warnings": self.warnings, "counts": self.counts}


def aware(moment: dt.datetime) -> dt.datetime:
    """A stored moment (naive, local time) with its time zone attached."""
    return moment if moment.tzinfo else moment.astimezone()


def _iso(v: dt.date | None) -> str | None:
    if isinstance(v, dt.datetime):
        return aware(v).isoformat()
    return v.isoformat() if v else None


# The overview's columns: everything but the (large) report text.
_SUMMARY = [c for c in runs.c if c.name not in ("report", "temp_files")]


class HistoryStore:
    """Access to one history database."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")
        if not create and not self._sqlite_exists(url):
            raise NoHistory(f"no history at {describe_url(url)}")
        self.engine = self._engine(url)
        if not create and not self._has_schema():
            self.engine.dispose()
            raise NoHistory(f"no history at {describe_url(url)}")
        self.migrate()

    @property
    def where(self) -> str:
        """Which history this is, for output and reports (a password is never shown)."""
        return describe_url(self.url)

    @staticmethod
    def _sqlite_exists(url: str) -> bool:
        if not url.startswith("sqlite:///"):
            return True
        path = url[len("sqlite:///"):]
        return path in ("", ":memory:") or os.path.isfile(path)

    def _has_schema(self) -> bool:
        try:
            with self.engine.connect() as conn:
                return inspect(conn).has_table(schema_versions.name)
        except (OperationalError, DatabaseError) as exc:
            raise HistoryError(f"cannot use the history database {self.where}: "
                               f"{db_reason(exc)}") from None

    @staticmethod
    def _engine(url: str) -> Engine:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///"):]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()
            return engine
        try:
            return create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise HistoryError(f"cannot open the history database: {exc}") from None

    def migrate(self) -> None:
        """Create or upgrade the schema; refuse a database newer than this exportc."""
        try:
            with self.engine.begin() as conn:
                if self.is_postgres:  # one migrator at a time across machines
                    conn.execute(text("SELECT pg_advisory_xact_lock(7402153)"))
                meta.create_all(conn, tables=[schema_versions])
                current = conn.execute(select(func.max(schema_versions.c.version))).scalar() or 0
                if current > SCHEMA_VERSION:
                    raise HistoryError(f"the history database has schema version {current}; this "
                                       f"exportc knows up to {SCHEMA_VERSION}; upgrade exportc")
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[version](conn)
                    conn.execute(insert(schema_versions).values(version=version, applied=now()))
        except DatabaseError as exc:  # also a file that is no database, or a read-only one
            raise HistoryError(f"cannot use the history database {self.where}: {db_reason(exc)}") from None

    def dispose(self) -> None:
        self.engine.dispose()

    def discard_run(self, run_id: int) -> None:
        """Remove a run row that a usage error stopped before anything ran (nothing to list)."""
        with self.engine.begin() as conn:
            conn.execute(delete(runs).where(and_(runs.c.id == run_id, runs.c.temp_files == "[]")))

    # -- runs --
    def create_run(self, profile: str, mode: str, status: str, request: dict[str, Any],
                   window: tuple[dt.date | None, dt.date | None], out_dir: str | None,
                   scheduled_at: dt.datetime | None = None) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(insert(runs).values(
                profile=profile, mode=mode, status=status, created=now(), scheduled_at=scheduled_at,
                started=now() if status == "running" else None, window_from=window[0],
                window_to=window[1], request=json.dumps(request, sort_keys=True), out_dir=out_dir,
                files="[]", temp_files="[]", errors=0, warnings=0, counts="{}",
                pid=os.getpid() if status == "running" else None,
                host=HOST if status == "running" else None, heartbeat=now(),
                proc_start=my_start() if status == "running" else None))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def start_run(self, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                status="running", started=now(), pid=os.getpid(), host=HOST, heartbeat=now(),
                proc_start=my_start()))

    def set_out_dir(self, run_id: int, out_dir: str) -> None:
        """The run's own folder in the run store (absolute)."""
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(out_dir=out_dir))

    def set_temp_files(self, run_id: int, pairs: list[tuple[str, str]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(temp_files=json.dumps(pairs)))

    def heartbeat(self, run_id: int, profile: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat=now()))
            conn.execute(update(locks).where(and_(locks.c.profile == profile,
                                                  locks.c.pid == os.getpid())).values(heartbeat=now()))

    def finish_values(self, status: str, report_json: str, files: list[str], errors: int,
                      warnings: int, counts: dict[str, int]) -> dict[str, Any]:
        return {"status": status, "finished": now(), "report": report_json,
                "files": json.dumps(files), "errors": errors, "warnings": warnings,
                "counts": json.dumps(counts, sort_keys=True)}

    def finish_run(self, run_id: int, values: dict[str, Any], conn: Connection | None = None) -> None:
        stmt = update(runs).where(runs.c.id == run_id).values(**values)
        if conn is not None:
            conn.execute(stmt)
            return
        with self.engine.begin() as c:
            c.execute(stmt)

    def _row(self, r: Any) -> RunRow:
        """A run from a database row; a summary row (see ``_SUMMARY``) has no request or report."""
        m = r._mapping
        return RunRow(r.id, r.profile, r.mode, r.status, r.created, r.scheduled_at, r.started,
                      r.finished, r.window_from, r.window_to, json.loads(m.get("request") or "{}"),
                      r.out_dir, json.loads(r.files or "[]"), m.get("report"), r.errors or 0,
                      r.warnings or 0, json.loads(r.counts or "{}"))

    def list_runs(self, profile: str | None = None) -> list[RunRow]:
        q = select(runs).order_by(runs.c.id)
        if profile:
            q = q.where(runs.c.profile == profile)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(q)]

    def old_test_folders(self, profile: str, keep: int) -> list[str]:
        """The folders of a profile's finished test runs beyond its newest ``keep`` (all when
        ``keep`` is 0): one column of the rows that matter, not every run with its report (a test
        run asks this at its end; a history of 250 runs made that 45 ms of a 0.3 s run)."""
        q = select(runs.c.out_dir).where(and_(
            runs.c.profile == profile, runs.c.mode == "T", runs.c.out_dir.is_not(None),
            runs.c.status.in_(("succeeded", "failed")))).order_by(runs.c.id.desc()).offset(keep)
        with self.engine.connect() as conn:
            return [r.out_dir for r in conn.execute(q)]

    def page_runs(self, profile: str | None = None, kind: str | None = None, limit: int = 50,
                  offset: int = 0, profiles: tuple[str, ...] | None = None) -> tuple[list[RunRow], int]:
        """One page of the overview, newest first, and how many runs match: ``kind`` is
        ``P``/``T`` (mode) or ``failed``; ``profiles`` limits to those. The page query leaves
        out the report texts, so a page costs the same with 10 runs or 100,000."""
        conds = []
        if profile:
            conds.append(runs.c.profile == profile)
        if profiles is not None:
            conds.append(runs.c.profile.in_(profiles))
        if kind in ("P", "T"):
            conds.append(runs.c.mode == kind)
        elif kind == "failed":
            conds.append((runs.c.status == "failed") | (runs.c.errors > 0))
        where = and_(true(), *conds)
        cols = _SUMMARY
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(runs).where(where)).scalar() or 0
            rows = conn.execute(select(*cols).where(where).order_by(runs.c.id.desc())
                                .limit(limit).offset(offset)).all()
        return [self._row(r) for r in rows], int(total)

    def latest_runs(self) -> dict[str, RunRow]:
        """Per profile, its newest run (for the export page)."""
        newest = select(func.max(runs.c.id)).group_by(runs.c.profile)
        cols = _SUMMARY
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(runs.c.id.in_(newest))).all()
        return {r.profile: self._row(r) for r in rows}

    def production_running(self, profile: str) -> bool:
        """Whether a production run of the profile is running now."""
        q = select(func.count()).select_from(runs).where(and_(
            runs.c.profile == profile, runs.c.mode == "P", runs.c.status == "running"))
        with self.engine.connect() as conn:
            return bool(conn.execute(q).scalar())

    def get_run(self, run_id: int) -> RunRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            return self._row(r) if r else None

    # -- recovery --
    def recover(self, profile: str) -> list[str]:
        """Clean up after runs of ``profile`` that died: a committed run's files still in their
        temporary place are moved into place; a run that died before committing is marked
        failed and its temporary files removed. Returns what was done, for the report."""
        notes: list[str] = []
        with self.engine.begin() as conn:
            rows = conn.execute(select(runs).where(and_(
                runs.c.profile == profile, runs.c.temp_files != "[]"))).all()
            for r in rows:
                pairs = json.loads(r.temp_files or "[]")
                if r.status == "running" and _holder(r).alive():
                    continue
                if r.status == "succeeded":
                    for tmp, final in pairs:
                        if final and os.path.exists(tmp):
                            os.replace(tmp, final)
                        elif os.path.isdir(tmp):
                            shutil.rmtree(tmp, ignore_errors=True)
                    _restore_reports(r.out_dir, r.report)
                    notes.append(f"run {r.id}: moved its files into place after a crash"
                                 + (f" (in {r.out_dir})" if r.out_dir else ""))
                else:
                    for tmp, _final in pairs:
                        if os.path.isdir(tmp):
                            shutil.rmtree(tmp, ignore_errors=True)
                        elif os.path.exists(tmp):
                            os.remove(tmp)
                    # A run that stopped on an error was finished as failed; only a running one
                    # whose process is gone died (the next loop marks it).
                    notes.append(f"run {r.id}: removed the temporary files of "
                                 + ("a run that died" if r.status == "running" else
                                    f"the {r.status} run"))
                conn.execute(update(runs).where(runs.c.id == r.id).values(temp_files="[]"))
            dead = conn.execute(select(runs.c.id, runs.c.pid, runs.c.host, runs.c.heartbeat,
                                       runs.c.proc_start, runs.c.mode).where(
                and_(runs.c.profile == profile, runs.c.status == "running"))).all()
            for r in dead:
                if not _holder(r).alive():
                    conn.execute(update(runs).where(runs.c.id == r.id).values(
                        status="failed", finished=now(),
                        report=_died_report(profile, RunMode.PRODUCTION if r.mode == "P" else RunMode.TEST)))
                    notes.append(f"run {r.id}: marked failed; it died while running")
        return notes

    # -- locks --
    @contextmanager
    def lock(self, profile: str, run_id: int, timeout: float) -> Iterator[None]:
        """Hold the profile's production lock: PostgreSQL advisory lock on a dedicated session
        (released by the server if this process dies), or a lock row checked for liveness."""
        if self.is_postgres:
            key = zlib.crc32(profile.encode()) - 2**31
            conn = self.engine.connect()
            try:
                deadline = time.monotonic() + timeout
                while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    conn.commit()
                    if time.monotonic() > deadline:
                        raise self._lock_timeout(profile, run_id, timeout, None)
                    time.sleep(0.2)
                conn.commit()
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
                finally:
                    conn.close()
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(select(locks).where(locks.c.profile == profile)).first()
                    if row is not None and not _holder(row).alive():
                        conn.execute(delete(locks).where(locks.c.profile == profile))
                        row = None
                    if row is None:
                        conn.execute(insert(locks).values(profile=profile, run_id=run_id,
                                                          pid=os.getpid(), host=HOST, heartbeat=now(),
                                                          proc_start=my_start()))
                        break
            except IntegrityError:
                row = None  # another process inserted first
            if time.monotonic() > deadline:
                raise self._lock_timeout(profile, run_id, timeout, _holder(row) if row else None)
            time.sleep(0.2)
        try:
            yield
        finally:
            with self.engine.begin() as conn:
                conn.execute(delete(locks).where(and_(locks.c.profile == profile,
                                                      locks.c.pid == os.getpid())))

    def _lock_timeout(self, profile: str, run_id: int, timeout: float, holder: Holder | None
                      ) -> LockTimeout:
        """The timeout, naming whose lock it is (on PostgreSQL: the profile's running production run)."""
        if holder is None:
            with self.engine.connect() as conn:
                row = conn.execute(select(runs).where(and_(
                    runs.c.profile == profile, runs.c.mode == "P", runs.c.status == "running",
                    runs.c.id != run_id)).order_by(runs.c.id)).first()
            holder = _holder(row) if row is not None else None
        who = f" ({holder.describe()})" if holder else ""
        return LockTimeout(f"another production run of `{profile}` holds the lock{who}; waited "
                           f"{timeout:g}s; it is released when that run ends, or a minute after "
                           "its heartbeat stops")

    def holds_lock(self, conn: Connection, profile: str, run_id: int) -> bool:
        """Whether ``run_id`` still holds the profile's lock row (checked in the commit: a run
        whose heartbeat stalled so long that another took the lock over must not record)."""
        if self.is_postgres:
            return True  # an advisory lock lives as long as its session; it cannot be taken over
        row = conn.execute(select(locks.c.run_id, locks.c.pid).where(locks.c.profile == profile)).first()
        return row is not None and row.run_id == run_id and row.pid == os.getpid()

    # -- deliveries --
    def has_delivered(self, profile: str) -> bool:
        """Whether a production run of ``profile`` succeeded in this history (or delivered)."""
        with self.engine.connect() as conn:
            if conn.execute(select(deliveries.c.run_id).where(deliveries.c.profile == profile).limit(1)).first():
                return True
            return conn.execute(select(runs.c.id).where(and_(
                runs.c.profile == profile, runs.c.mode == "P", runs.c.status == "succeeded")).limit(1)
            ).first() is not None

    def delivery_count(self, profile: str, source: str) -> int:
        """How many records of a source the history holds, deleted or not: an upper bound of
        `delivered_state`'s rows, counted on the key's index alone."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(deliveries).where(and_(
                deliveries.c.profile == profile, deliveries.c.source == source))).scalar_one())

    def delivered_state(self, profile: str, source: str, windows: bool = False
                        ) -> Iterator[list[tuple[str, str, str | None, Any]]]:
        """Batches of (key, hash prefix, line digest, window value) of every record currently
        delivered (not deleted) from a source: the hash's first 32 hex digits (all a rerun
        compares, see ``tracker._compact``), and the window value only when ``windows`` is
        asked (else None; SQLite gives it as ISO text). Read on the driver's own cursor, in
        batches of plain tuples: a rerun reads every key of the history, and SQLAlchemy's
        per-row processing cost more than the database."""
        window = "window_value" if windows else "NULL"
        mark = "%s" if self.is_postgres else "?"
        sql = (f"SELECT record_key, substr(hash, 1, 32), raw_hash, {window} FROM {deliveries.name} "
               f"WHERE profile = {mark} AND source = {mark} AND deleted = {mark}")
        with self.engine.connect() as conn:
            driver: Any = conn.connection.dbapi_connection
            # PostgreSQL: a server-side cursor, so the rows stream instead of arriving at once
            cursor = driver.cursor(name="exportc_state") if self.is_postgres else driver.cursor()
            try:
                cursor.execute(sql, (profile, source, False))
                while rows := cursor.fetchmany(1000):
                    yield rows
            finally:
                cursor.close()

    def refresh_lines(self, conn: Connection, profile: str,
                      items: Iterable[tuple[str, str, str]]) -> None:
        """Set the line digest of records a run found unchanged but read from other bytes than
        the history knew (or any, after an upgrade): (source, key, digest), in ``conn``'s
        transaction."""
        bulk.refresh(conn, profile, items, self.is_postgres)

    def lookups(self) -> Connection:
        """A connection for many one-row reads (``delivered_row``, ``payload``), to give back
        with `end_lookups`. On SQLite it caches 256 KiB of pages, not 2 MB: enough for the
        index's upper levels, and a rerun of a million records reads ~10,000 rows all over the
        file, which would fill any cache with pages read once."""
        conn = self.engine.connect()
        if not self.is_postgres:
            driver: Any = conn.connection.dbapi_connection
            conn.info["exportc_cache_size"] = driver.execute("PRAGMA cache_size").fetchone()[0]
            driver.execute("PRAGMA cache_size=-256")
        return conn

    def end_lookups(self, conn: Connection) -> None:
        """Give a `lookups` connection back (with the cache it had, to the next user)."""
        size = conn.info.pop("exportc_cache_size", None)
        if size is not None:
            with contextlib.suppress(DatabaseError):
                conn.connection.dbapi_connection.execute(f"PRAGMA cache_size={int(size)}")  # type: ignore[union-attr]
        conn.close()

    def payload(self, conn: Connection, profile: str, source: str, key: str) -> str | None:
        """One record's payload as last delivered, read on a connection the caller keeps open
        for many such reads (a rerun reads one per changed record)."""
        row = self._one(conn, "payload", "", (profile, source, key))
        return row[0] if row is not None else None

    def delivered_row(self, conn: Connection, profile: str, source: str, key: str
                      ) -> tuple[str, str | None, str] | None:
        """(hash, line digest, payload) of one record currently delivered (not deleted), or
        None; on a connection the caller keeps open (a rerun asks it of each line it does not
        know, see ``tracker.HistoryTracker``)."""
        mark = "%s" if self.is_postgres else "?"
        row = self._one(conn, "hash, raw_hash, payload", f" AND deleted = {mark}", (profile, source, key, False))
        return (row[0], row[1], row[2]) if row is not None else None

    def _one(self, conn: Connection, columns: str, more: str, args: tuple[Any, ...]) -> Any:
        """One row of a record's delivery, through the driver's own cursor (SQLAlchemy's
        statement handling cost ten times the lookup); no transaction is left open between
        reads."""
        mark = "%s" if self.is_postgres else "?"
        driver: Any = conn.connection.dbapi_connection
        cursor = driver.cursor()
        try:
            cursor.execute(f"SELECT {columns} FROM {deliveries.name} WHERE profile = {mark} AND "
                           f"source = {mark} AND record_key = {mark}{more}", args)
            return cursor.fetchone()
        finally:
            cursor.close()
            driver.rollback()

    def payloads(self, profile: str, source: str, keys: list[str]
                 ) -> dict[str, tuple[str, dt.date | None, str]]:
        """Key → (payload, window value, hash) as last delivered."""
        out: dict[str, tuple[str, dt.date | None, str]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                rows = conn.execute(select(deliveries.c.record_key, deliveries.c.payload,
                                           deliveries.c.window_value, deliveries.c.hash).where(and_(
                    deliveries.c.profile == profile, deliveries.c.source == source,
                    deliveries.c.record_key.in_(chunk))))
                for k, p, w, h in rows:
                    out[k] = (p, w, h)
        return out

    def record_deliveries(self, conn: Connection, profile: str, run_id: int,
                          items: Iterable[Delivery]) -> None:
        """Upsert each delivery and append the log with the database's bulk path (``bulk``),
        in ``conn``'s transaction together with the run's own row."""
        bulk.record(conn, profile, run_id, items, self.is_postgres)

    def record_rows(self, conn: Connection, rows: bulk.Spool[bulk.Row] | bulk.Staged | Iterable[list[bulk.Row]]
                    ) -> None:
        """``record_deliveries`` of deliveries spooled as the bulk path's rows (``bulk.spool``;
        ``Staged`` rows attached to ``conn``: ``bulk.attached``)."""
        bulk.write(conn, rows, self.is_postgres)

    # -- schedules --
    def cancel_scheduled(self, run_id: int) -> bool:
        """Mark a scheduled run cancelled; False when it is not (or no longer) scheduled."""
        with self.engine.begin() as conn:
            done = conn.execute(update(runs).where(and_(
                runs.c.id == run_id, runs.c.status == "scheduled")).values(
                status="cancelled", finished=now()))
            return bool(done.rowcount == 1)

    def claim_due(self) -> RunRow | None:
        """Take one due scheduled run, safely when several workers share the database."""
        with self.engine.begin() as conn:
            q = select(runs.c.id).where(and_(runs.c.status == "scheduled",
                                             runs.c.scheduled_at <= now())).order_by(
                runs.c.scheduled_at, runs.c.id).limit(1)
            if self.is_postgres:
                q = q.with_for_update(skip_locked=True)
            row = conn.execute(q).first()
            if row is None:
                return None
            claimed = conn.execute(update(runs).where(and_(
                runs.c.id == row.id, runs.c.status == "scheduled")).values(
                status="running", started=now(), pid=os.getpid(), host=HOST, heartbeat=now(),
                proc_start=my_start()))
            if claimed.rowcount != 1:
                return None
        return self.get_run(row.id)


def _died_report(profile: str, mode: RunMode) -> str:
    """The report.json of a run found dead: failed, with why."""
    from exportc.runtime.report import Report, problem
    return Report(profile, mode, status="failed", problems=[problem(
        "error", "E0620", "the run died before it finished (crash or kill); nothing of it was "
        "recorded")]).to_json()
