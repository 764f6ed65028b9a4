"""A production run's deliveries, spooled while the run works and written with the database's
bulk path inside the commit.

The history records, per delivered record, one row in ``exportc_deliveries`` (upserted: the
record as last delivered) and one in ``exportc_delivery_log``. A first run writes as many rows
as the source has records, so no Python code runs per row at commit time. While the run works,
each delivery becomes one tuple, already the statement's parameters (``Row``), and then:

- SQLite: the rows are staged in a scratch SQLite file of the run's own by a thread whose one
  statement per batch (``INSERT … SELECT … FROM json_each(?)``) runs in C without the GIL, so on
  the other core (``Staged``); the run's thread only encodes each batch (msgspec, in C). The
  commit attaches that file and copies its rows with one ``INSERT … SELECT … ON CONFLICT DO
  UPDATE`` and one ``INSERT … SELECT`` for the log, in C again: half the cost of binding every
  row through ``executemany``, which remains for rows given otherwise (``record``);
- PostgreSQL: the rows go to an unnamed temporary file in ``marshal``-ed batches (``Spool``:
  memory stays flat however many records a run delivers), then by ``COPY`` into a temporary
  table, and one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` and one ``INSERT … SELECT`` for
  the log.

Either way it runs on the connection of the run's commit, so the deliveries, the log and the
run's own row are committed together or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import marshal
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Connection

from exportc.runtime.kinds import ChangeKind

BATCH = 20_000  # rows per executemany (and per spooled batch): memory stays small, calls few
# Rows per statement of the staging thread: ~1 MB in flight (5000 held ~15 MB more at a million)
STAGED_BATCH = 250

# One delivery as the bulk path writes it:
# (profile, source, record_key, hash, payload, window_value as ISO text or None, run_id,
#  raw_hash or None, change)
Row = tuple[str, str, str, str, str, str | None, int, str | None, str]

_COLUMNS = ("profile", "source", "record_key", "hash", "payload", "window_value", "run_id", "raw_hash")
_ROW = (*_COLUMNS, "change")  # the columns of a Row
_CONFLICT = ("ON CONFLICT (profile, source, record_key) DO UPDATE SET "
             + ", ".join(f"{c} = excluded.{c}" for c in (*_COLUMNS[3:], "deleted")))
# SQLite's numbered parameters pick from a Row (?1 = profile … ?9 = change); as SQLAlchemy
# stores them there, a date is ISO text and a boolean 0/1 (``?9 = 'deleted'``)
_SQLITE_UPSERT = (f"INSERT INTO exportc_deliveries ({', '.join(_COLUMNS)}, deleted) "
                  f"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 = '{ChangeKind.DELETED}') {_CONFLICT}")
_SQLITE_LOG = ("INSERT INTO exportc_delivery_log (run_id, profile, source, record_key, change, hash) "
               "VALUES (?7, ?1, ?2, ?3, ?9, ?4)")


_Item = TypeVar("_Item")


class Spool(Generic[_Item]):
    """Items (a run's deliveries: ``Row`` tuples) in the order they were added, kept in batches
    in an unnamed temporary file (gone with the process, however it ends)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._batch: list[_Item] = []

    def add(self, item: _Item) -> None:
        self._batch.append(item)
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            marshal.dump(self._batch, self._file)
            self._batch = []

    def batches(self) -> Iterator[list[_Item]]:
        """Every row added so far, in batches, in the order they were added."""
        self._flush()
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                batch: list[_Item] = marshal.load(self._file)
            except EOFError:
                return
            yield batch

    def close(self) -> None:
        self._file.close()


class Staged:
    """SQLite: a run's deliveries (``Row`` tuples, in the order they were made), staged while it
    works in a scratch SQLite file by a thread whose one statement per batch runs in C without
    the GIL; the run's own thread only encodes each batch (msgspec, in C) and goes on.

    The file lives in ``folder``, made at the first whole batch (a run registers the folder as
    a temporary file before it delivers anything, so recovery removes it after a crash);
    ``close`` removes it. Fewer rows than a batch (a rerun's few changes) stay in memory and
    are bound as they are: a thread and a file would cost more than they save."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "deliveries.db"
        self._batch: list[Row] = []
        self._queue: queue.Queue[bytes | list[Row] | None] = queue.Queue(maxsize=2)  # bounded memory
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def add(self, row: Row) -> None:
        self._batch.append(row)
        if len(self._batch) >= STAGED_BATCH:
            self._flush()

    @property
    def staged(self) -> bool:
        """Whether rows went to the scratch file (else they are all still in memory)."""
        return self._thread is not None

    def _flush(self) -> None:
        if self._thread is None:
            self._start()
        if not self._batch:
            return
        data = msgspec.json.encode(self._batch)
        # A NUL in a text (a key; never a payload: canonical JSON escapes it) is the one value
        # SQLite's JSON functions would not hand back whole: such a batch is bound row by row.
        self._queue.put(data if b"\\u0000" not in data else self._batch)
        self._batch = []

    def _start(self) -> None:
        self.folder.mkdir(exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=OFF")  # scratch: nothing in it outlives the run
        db.execute("PRAGMA synchronous=OFF")
        # Rows are only appended: a few pages in memory do (SQLite's default cache, 2 MB, plus
        # the batch's JSON made the thread's ~6.5 MB, more than a rerun's whole state at 100k)
        db.execute("PRAGMA cache_size=-256")
        db.execute(f"CREATE TABLE rows ({', '.join(_ROW)})")
        self._thread = threading.Thread(target=self._insert, args=(db,), daemon=True,
                                        name="exportc-staging")
        self._thread.start()

    def _insert(self, db: sqlite3.Connection) -> None:
        picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(_ROW)))
        from_json = f"INSERT INTO rows SELECT {picks} FROM json_each(?)"
        by_row = f"INSERT INTO rows VALUES ({', '.join('?' * len(_ROW))})"
        try:
            db.execute("BEGIN")
            while (batch := self._queue.get()) is not None:
                if isinstance(batch, bytes):
                    db.execute(from_json, (batch,))
                else:
                    db.executemany(by_row, batch)
            db.execute("COMMIT")
        except BaseException as exc:  # said by finish(); drained, so that add() never blocks
            self._error = exc
            while self._queue.get() is not None:
                pass
        finally:
            db.close()

    def finish(self) -> None:
        """Wait until every row added is in the file (when any was staged); raises what
        stopped the thread."""
        if self.staged:
            self._flush()
        self._stop()
        if self._error is not None:
            raise RuntimeError(f"staging the run's deliveries failed: {self._error}") from self._error

    def batches(self) -> Iterator[list[Row]]:
        """Every row, in batches, in the order they were added."""
        self.finish()
        if not self.staged:
            yield self._batch
            return
        db = sqlite3.connect(self.path)
        try:
            cursor = db.execute("SELECT * FROM rows ORDER BY rowid")
            while batch := cursor.fetchmany(BATCH):
                yield batch
        finally:
            db.close()

    def close(self) -> None:
        self._stop()  # (a run stopped early: its thread still waits for rows)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stop(self) -> None:
        """End the staging thread, once it has staged every batch it was handed."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


@cache
def _sqlite_json() -> bool:
    """Whether this SQLite has its JSON functions (built in since 3.38, an option before)."""
    try:
        sqlite3.connect(":memory:").execute("SELECT json_extract('[1]', '$[0]') FROM json_each('[]')")
    except sqlite3.Error:
        return False
    return True


def spool(scratch: Path | None) -> Spool[Row] | Staged:
    """Where a run spools its deliveries: staged in the folder ``scratch`` for a SQLite history
    (where its JSON functions exist), else a ``Spool``."""
    return Staged(scratch) if scratch is not None and _sqlite_json() else Spool[Row]()


def row(profile: str, run_id: int, source: str, key: str, change: str, h: str, payload: str,
        window: dt.date | None, raw: str | None = None) -> Row:
    """A delivery as a ``Row``: the run's profile and id, then the fields of a
    ``history.Delivery`` in their order (``row(profile, run_id, *delivery)``)."""
    return (profile, source, key, h, payload, window.isoformat() if window is not None else None,
            run_id, raw, str(change))


def record(conn: Connection, profile: str, run_id: int, items: Iterable[Any], postgres: bool) -> None:
    """Upsert each delivery (a ``history.Delivery``) and append it to the log, in ``conn``'s
    transaction."""
    write(conn, _batches(row(profile, run_id, *d) for d in items), postgres)


def write(conn: Connection, rows: Spool[Row] | Staged | Iterable[list[Row]], postgres: bool) -> None:
    """Upsert each row and append it to the log, in ``conn``'s transaction (``Staged`` rows on
    SQLite: attached to ``conn`` first, see ``attached``)."""
    if isinstance(rows, Staged) and rows.staged and not postgres:
        _insert_staged(conn)
        return
    batches = rows.batches() if isinstance(rows, (Spool, Staged)) else rows
    if postgres:
        _copy(conn, batches)
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for batch in batches:
            cursor.executemany(_SQLITE_UPSERT, batch)
            cursor.executemany(_SQLITE_LOG, batch)
    finally:
        cursor.close()


@contextlib.contextmanager
def attached(conn: Connection, rows: Spool[Row] | Staged | None) -> Iterator[None]:
    """``conn`` with a run's ``Staged`` rows attached for ``write`` (SQLite cannot attach a
    file inside a transaction: enter this before ``conn.begin()``); nothing for other rows."""
    if not isinstance(rows, Staged) or conn.dialect.name != "sqlite":
        yield
        return
    rows.finish()
    if not rows.staged:  # a few rows, bound as they are
        yield
        return
    driver: Any = conn.connection.dbapi_connection
    driver.execute("ATTACH DATABASE ? AS exportc_staged", (str(rows.path),))
    try:
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):  # committed or rolled back by then
            driver.execute("DETACH DATABASE exportc_staged")


def _insert_staged(conn: Connection) -> None:
    cols = ", ".join(_COLUMNS)
    driver: Any = conn.connection.dbapi_connection
    driver.execute(f"INSERT INTO exportc_deliveries ({cols}, deleted) SELECT {cols}, "
                   f"change = '{ChangeKind.DELETED}' FROM exportc_staged.rows WHERE true "
                   f"ORDER BY rowid {_CONFLICT}")
    driver.execute("INSERT INTO exportc_delivery_log (run_id, profile, source, record_key, change, hash) "
                   "SELECT run_id, profile, source, record_key, change, hash FROM exportc_staged.rows "
                   "ORDER BY rowid")


def _batches(rows: Iterable[Any]) -> Iterator[list[Any]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _copy(conn: Connection, batches: Iterable[list[Row]]) -> None:
    driver: Any = conn.connection.dbapi_connection  # psycopg's, in the commit's transaction
    cols = ", ".join(_COLUMNS)
    with driver.cursor() as cur:
        cur.execute("CREATE TEMP TABLE exportc_incoming (profile TEXT, source TEXT, record_key TEXT, "
                    "hash TEXT, payload TEXT, window_value DATE, run_id INTEGER, raw_hash TEXT, "
                    "change TEXT, seq BIGSERIAL) ON COMMIT DROP")
        with cur.copy(f"COPY exportc_incoming ({cols}, change) FROM STDIN") as copy:
            for batch in batches:
                for r in batch:
                    copy.write_row(r)
        # one row per key, its last (an upsert may not touch a row twice in PostgreSQL)
        cur.execute(f"INSERT INTO exportc_deliveries ({cols}, deleted) SELECT DISTINCT ON (profile, "
                    f"source, record_key) {cols}, change = '{ChangeKind.DELETED}' FROM exportc_incoming "
                    f"ORDER BY profile, source, record_key, seq DESC {_CONFLICT}")
        cur.execute("INSERT INTO exportc_delivery_log (run_id, profile, source, record_key, change, hash) "
                    "SELECT run_id, profile, source, record_key, change, hash FROM exportc_incoming "
                    "ORDER BY seq")
        cur.execute("DROP TABLE exportc_incoming")


def refresh(conn: Connection, profile: str, items: Iterable[tuple[str, str, str]], postgres: bool) -> None:
    """Set the line digest of delivered records: (source, key, digest), in batches."""
    mark = "%s" if postgres else "?"
    sql = (f"UPDATE exportc_deliveries SET raw_hash = {mark} "
           f"WHERE profile = {mark} AND source = {mark} AND record_key = {mark}")
    for batch in _batches(items):
        conn.exec_driver_sql(sql, [(raw, profile, source, key) for source, key, raw in batch])
