"""A production run's deliveries, spooled while the run works and written with the database's
bulk path inside the commit.

The history records, per delivered record, one row in ``exportc_deliveries`` (upserted: the
record as last delivered) and one in ``exportc_delivery_log``. A first run writes as many rows
as the source has records, so no Python code runs per row at commit time:

- while the run works, each delivery becomes one tuple, already the statement's parameters
  (``Row``), and the tuples go to an unnamed temporary file in ``marshal``-ed batches (``Spool``:
  memory stays flat however many records a run delivers; writing and reading back a batch is
  one call into C);
- SQLite: each batch read back goes as it is to ``executemany`` of an ``INSERT … ON CONFLICT DO
  UPDATE`` and of the log's ``INSERT``, whose numbered parameters pick the columns each needs
  from the same tuple (no delete per key first, no SQLAlchemy per-row processing);
- PostgreSQL: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
  UPDATE`` and one ``INSERT … SELECT`` for the log.

Either way it runs on the connection of the run's commit, so the deliveries, the log and the
run's own row are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import itertools
import marshal
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from exportc.runtime.kinds import ChangeKind

BATCH = 20_000  # rows per executemany (and per spooled batch): memory stays small, calls few

# One delivery as the bulk path writes it:
# (profile, source, record_key, hash, payload, window_value as ISO text or None, run_id,
#  raw_hash or None, change)
Row = tuple[str, str, str, str, str, str | None, int, str | None, str]

_COLUMNS = ("profile", "source", "record_key", "hash", "payload", "window_value", "run_id", "raw_hash")
_CONFLICT = ("ON CONFLICT (profile, source, record_key) DO UPDATE SET "
             + ", ".join(f"{c} = excluded.{c}" for c in (*_COLUMNS[3:], "deleted")))
# SQLite's numbered parameters pick from a Row (?1 = profile … ?9 = change); as SQLAlchemy
# stores them there, a date is ISO text and a boolean 0/1 (``?9 = 'deleted'``)
_SQLITE_UPSERT = (f"INSERT INTO exportc_deliveries ({', '.join(_COLUMNS)}, deleted) "
                  f"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 = '{ChangeKind.DELETED}') {_CONFLICT}")
_SQLITE_LOG = ("INSERT INTO exportc_delivery_log (run_id, profile, source, record_key, change, hash) "
               "VALUES (?7, ?1, ?2, ?3, ?9, ?4)")


class Spool:
    """The deliveries of a run in the order they were made: ``Row`` tuples, kept in batches in
    an unnamed temporary file (gone with the process, however it ends)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._batch: list[Row] = []
        self.count = 0

    def add(self, row: Row) -> None:
        self._batch.append(row)
        self.count += 1
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            marshal.dump(self._batch, self._file)
            self._batch = []

    def batches(self) -> Iterator[list[Row]]:
        """Every row added so far, in batches, in the order they were added."""
        self._flush()
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                batch: list[Row] = marshal.load(self._file)
            except EOFError:
                return
            yield batch

    def close(self) -> None:
        self._file.close()


def row(profile: str, run_id: int, d: Any) -> Row:
    """A ``history.Delivery`` as a ``Row``."""
    return (profile, d.source, d.key, d.hash, d.payload, _iso(d.window), run_id, d.raw, str(d.change))


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def record(conn: Connection, profile: str, run_id: int, items: Iterable[Any], postgres: bool) -> None:
    """Upsert each delivery (a ``history.Delivery``) and append it to the log, in ``conn``'s
    transaction."""
    write(conn, _batches(row(profile, run_id, d) for d in items), postgres)


def write(conn: Connection, batches: Iterable[list[Row]], postgres: bool) -> None:
    """Upsert each row and append it to the log, in ``conn``'s transaction."""
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
