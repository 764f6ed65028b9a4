"""A production run's deliveries go into the history with the database's bulk path, in the
commit's one transaction (``runtime/bulk``), on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import delivered_keys
from sqlalchemy import event, func, select

from exportc.runtime import bulk
from exportc.runtime.history import Delivery, HistoryStore, deliveries, delivery_log
from exportc.runtime.kinds import ChangeKind


def _items(n: int) -> list[Delivery]:
    return [Delivery("invoices", f"Factuurnummer={i}", ChangeKind.NEW, f"{i:064x}", json.dumps({"n": i}),
                     dt.date(2026, 1, 1) + dt.timedelta(days=i % 300) if i % 7 else None, f"{i:032x}")
            for i in range(n)]


def _state(store: HistoryStore) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(deliveries)).scalar() or 0,
                conn.execute(select(func.count()).select_from(delivery_log)).scalar() or 0)


def test_deliveries_go_in_bulk_and_replace_what_was_delivered(db: str) -> None:
    store = HistoryStore(db)
    items = _items(5000)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)
    event.listen(store.engine, "before_cursor_execute", seen)
    with store.engine.begin() as conn:
        store.record_deliveries(conn, "p", 1, iter(items))
    event.remove(store.engine, "before_cursor_execute", seen)
    # SQLite: one executemany for the records, one for the log (not a delete and an insert
    # per batch of keys); PostgreSQL: COPY on the driver's cursor, nothing row by row
    assert len(statements) <= 2, statements
    assert _state(store) == (5000, 5000)
    again = [items[0]._replace(change=ChangeKind.CHANGED, hash="f" * 64, raw=None),
             items[1]._replace(change=ChangeKind.DELETED)]
    with store.engine.begin() as conn:
        store.record_deliveries(conn, "p", 2, iter(again))
    with store.engine.connect() as conn:
        rows = {r.record_key: r for r in conn.execute(select(deliveries).where(deliveries.c.record_key.in_(
            ["Factuurnummer=0", "Factuurnummer=1", "Factuurnummer=8"])))}
        log = conn.execute(select(delivery_log.c.record_key, delivery_log.c.change)
                           .order_by(delivery_log.c.id.desc()).limit(2)).all()
    assert (rows["Factuurnummer=0"].hash, rows["Factuurnummer=0"].run_id, rows["Factuurnummer=0"].raw_hash) \
        == ("f" * 64, 2, None)
    assert rows["Factuurnummer=1"].deleted is True and rows["Factuurnummer=8"].deleted is False
    assert rows["Factuurnummer=8"].window_value == dt.date(2026, 1, 9)
    assert rows["Factuurnummer=8"].payload == '{"n": 8}'
    assert [tuple(r) for r in log] == [("Factuurnummer=1", "deleted"), ("Factuurnummer=0", "changed")]
    assert _state(store) == (5000, 5002)
    assert delivered_keys(store, "p", "invoices").count("Factuurnummer=1") == 0
    store.dispose()


def test_a_commit_that_fails_after_the_bulk_write_records_nothing(db: str) -> None:
    store = HistoryStore(db)
    with store.engine.begin() as conn:
        store.record_deliveries(conn, "p", 1, iter(_items(10)))
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        store.record_deliveries(conn, "p", 2, iter(_items(3000)))
        raise RuntimeError("the run's own row could not be written")
    assert _state(store) == (10, 10)
    with store.engine.begin() as conn:  # and the next commit works (no leftover temporary table)
        store.record_deliveries(conn, "p", 3, iter(_items(20)))
        store.record_deliveries(conn, "p", 3, iter(_items(30)[20:]))
    assert _state(store) == (30, 40)
    store.dispose()


def test_spooled_rows_come_back_in_order_across_batches(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run spools its deliveries as the bulk path's rows in batches (``bulk.Spool``); the
    commit writes them in the order they were made, the last batch (not full) too, and a record
    delivered twice in one commit ends as its later delivery."""
    monkeypatch.setattr(bulk, "BATCH", 7)
    items = _items(30)
    spool = bulk.Spool()
    for d in [*items, items[3]._replace(change=ChangeKind.DELETED, hash="e" * 64)]:
        spool.add(bulk.row("p", 4, *d))
    assert sum(map(len, spool.batches())) == 31
    store = HistoryStore(db)
    with store.engine.begin() as conn:
        store.record_rows(conn, spool.batches())
    spool.close()
    with store.engine.connect() as conn:
        log = conn.execute(select(delivery_log.c.record_key, delivery_log.c.change, delivery_log.c.run_id)
                           .order_by(delivery_log.c.id)).all()
        third = conn.execute(select(deliveries).where(deliveries.c.record_key == "Factuurnummer=3")).one()
        eighth = conn.execute(select(deliveries).where(deliveries.c.record_key == "Factuurnummer=8")).one()
    assert [tuple(r) for r in log] == [(d.key, str(d.change), 4) for d in items] + [("Factuurnummer=3", "deleted", 4)]
    assert (third.deleted, third.hash) == (True, "e" * 64)
    assert (eighth.deleted, eighth.window_value, eighth.payload, eighth.raw_hash) == (
        False, dt.date(2026, 1, 9), '{"n": 8}', f"{8:032x}")
    assert _state(store) == (30, 31)
    store.dispose()


ODD = ["a\x00b", "line\nbreak\ttab", "quote\" back\\slash", "\u2028\u00e9\U0001f600", "E+1", ""]


def _written(store: HistoryStore) -> tuple[list[Any], list[Any]]:
    with store.engine.connect() as conn:
        return (sorted(tuple(r) for r in conn.execute(select(deliveries))),
                [tuple(r)[1:] for r in conn.execute(select(delivery_log).order_by(delivery_log.c.id))])


@pytest.mark.parametrize("n", [12_000, 40])
def test_staged_rows_are_written_as_bound_rows_are(db: str, tmp_path: Path, n: int) -> None:
    """A SQLite run stages its rows in a scratch file on another thread (through SQLite's JSON
    functions) and the commit copies them from it (a rerun's few rows are bound as they are):
    the history gets exactly what binding every row writes, odd texts too (a NUL, line breaks,
    quotes, astral characters), and the scratch folder is gone after."""
    odd = ODD if db.startswith("sqlite") else ODD[1:]  # PostgreSQL's texts hold no NUL at all
    items = [Delivery("invoices", f"K{i}{odd[i % len(odd)]}", ChangeKind.NEW, f"{i:064x}",
                      json.dumps({"n": i, "t": odd[i % len(odd)]}, ensure_ascii=False),
                      dt.date(2026, 1, 1) + dt.timedelta(days=i % 300) if i % 7 else None,
                      f"{i:032x}" if i % 5 else None) for i in range(n)]
    items.append(items[9]._replace(change=ChangeKind.DELETED, hash="e" * 64))
    bound = HistoryStore(f"sqlite:///{tmp_path / 'bound.db'}")
    with bound.engine.begin() as conn:
        bound.record_deliveries(conn, "p", 4, iter(items))
    store = HistoryStore(db)
    staged = bulk.spool(tmp_path / "scratch")
    for d in items:
        staged.add(bulk.row("p", 4, *d))
    with store.engine.connect() as conn, bulk.attached(conn, staged), conn.begin():
        store.record_rows(conn, staged)
    staged.close()
    assert _written(store) == _written(bound)
    assert not (tmp_path / "scratch").exists()
    store.dispose()
    bound.dispose()
