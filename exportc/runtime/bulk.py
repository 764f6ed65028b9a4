"""A production run's deliveries written with the database's bulk path, inside the commit.

The history records, per delivered record, one row in ``exportc_deliveries`` (upserted: the
record as last delivered) and one in ``exportc_delivery_log``. A first run writes as many rows
as the source has records, so they go through the driver's own bulk path rather than
SQLAlchemy's per-row parameter processing (which cost more than the database itself):

- SQLite: ``INSERT … ON CONFLICT DO UPDATE`` through ``executemany`` on plain tuples, in large
  batches (one statement, no delete per key first);
- PostgreSQL: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
  UPDATE`` and one ``INSERT … SELECT`` for the log.

Either way it runs on the connection of the run's commit, so the deliveries, the log and the
run's own row are committed together or not at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from exportc.runtime.kinds import ChangeKind

BATCH = 20_000  # rows per executemany: memory stays small, the per-call cost negligible

_COLUMNS = ("profile", "source", "record_key", "hash", "payload", "window_value", "run_id", "deleted",
            "raw_hash")
_UPDATED = _COLUMNS[3:]  # the key (profile, source, record_key) stays
_LOG = ("run_id", "profile", "source", "record_key", "change", "hash")
_CONFLICT = ("ON CONFLICT (profile, source, record_key) DO UPDATE SET "
             + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED))


def record(conn: Connection, profile: str, run_id: int, items: Iterable[Any], postgres: bool) -> None:
    """Upsert each delivery (a ``history.Delivery``) and append it to the log, in ``conn``'s
    transaction."""
    if postgres:
        _copy(conn, profile, run_id, items)
    else:
        _executemany(conn, profile, run_id, items)


def _batches(items: Iterable[Any]) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _executemany(conn: Connection, profile: str, run_id: int, items: Iterable[Any]) -> None:
    marks = ", ".join("?" * len(_COLUMNS))
    upsert = f"INSERT INTO exportc_deliveries ({', '.join(_COLUMNS)}) VALUES ({marks}) {_CONFLICT}"
    log = f"INSERT INTO exportc_delivery_log ({', '.join(_LOG)}) VALUES ({', '.join('?' * len(_LOG))})"
    deleted = ChangeKind.DELETED
    for batch in _batches(items):
        # as SQLAlchemy stores them in SQLite: a date as ISO text, a boolean as 0/1
        conn.exec_driver_sql(upsert, [
            (profile, d.source, d.key, d.hash, d.payload, d.window.isoformat() if d.window else None,
             run_id, int(d.change == deleted), d.raw) for d in batch])
        conn.exec_driver_sql(log, [(run_id, profile, d.source, d.key, str(d.change), d.hash)
                                   for d in batch])


def _copy(conn: Connection, profile: str, run_id: int, items: Iterable[Any]) -> None:
    driver: Any = conn.connection.dbapi_connection  # psycopg's, in the commit's transaction
    deleted = ChangeKind.DELETED
    cols = ", ".join(_COLUMNS)
    with driver.cursor() as cur:
        cur.execute("CREATE TEMP TABLE exportc_incoming (LIKE exportc_deliveries, change VARCHAR(20), "
                    "seq BIGSERIAL) ON COMMIT DROP")
        with cur.copy(f"COPY exportc_incoming ({cols}, change) FROM STDIN") as copy:
            for d in items:
                copy.write_row((profile, d.source, d.key, d.hash, d.payload, d.window, run_id,
                                d.change == deleted, d.raw, str(d.change)))
        cur.execute(f"INSERT INTO exportc_deliveries ({cols}) SELECT {cols} FROM exportc_incoming "
                    f"ORDER BY seq {_CONFLICT}")
        cur.execute(f"INSERT INTO exportc_delivery_log ({', '.join(_LOG)}) SELECT {', '.join(_LOG)} "
                    "FROM exportc_incoming ORDER BY seq")
        cur.execute("DROP TABLE exportc_incoming")


def refresh(conn: Connection, profile: str, items: Iterable[tuple[str, str, str]], postgres: bool) -> None:
    """Set the line digest of delivered records: (source, key, digest), in batches."""
    mark = "%s" if postgres else "?"
    sql = (f"UPDATE exportc_deliveries SET raw_hash = {mark} "
           f"WHERE profile = {mark} AND source = {mark} AND record_key = {mark}")
    for batch in _batches(items):
        conn.exec_driver_sql(sql, [(raw, profile, source, key) for source, key, raw in batch])
