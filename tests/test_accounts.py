"""Users, roles and sessions in the history database (SQLite and PostgreSQL), and the
`exportc users` commands that manage them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from typer.testing import CliRunner

from exportc.cli import app
from exportc.runtime.accounts import Accounts, sessions, users
from exportc.runtime.history import HistoryStore

runner = CliRunner()


def _users(db: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["users", *args, "--db", db], input=stdin)
    return result.exit_code, result.output


def test_users_commands_add_list_passwd_remove(db: str) -> None:
    assert _users(db, "add", "ann", "--role", "admin", "--password-stdin", stdin="first\n")[0] == 0
    assert _users(db, "add", "bob", "--role", "viewer", "--profile", "exact_online.invoices",
                  "--password-stdin", stdin="pw\n")[0] == 0
    code, out = _users(db, "list")
    assert code == 0 and out.splitlines() == ["ann  admin", "bob  viewer  profiles: exact_online.invoices"]
    store = HistoryStore(db)
    accounts = Accounts(store)
    assert accounts.check_password("ann", "first") is not None
    assert _users(db, "passwd", "ann", "--password-stdin", stdin="second\n")[0] == 0
    assert accounts.check_password("ann", "first") is None and accounts.check_password("ann", "second")
    assert _users(db, "remove", "bob")[0] == 0
    assert [u.name for u in accounts.list()] == ["ann"]
    store.dispose()


def test_users_mistakes_are_usage_errors(db: str) -> None:
    _users(db, "add", "ann", "--role", "admin", "--password-stdin", stdin="pw\n")
    for args, stdin, message in ((("add", "ann", "--role", "viewer", "--password-stdin"), "x\n", "exists already"),
                                 (("remove", "nobody"), None, "no user `nobody`"),
                                 (("add", "eve", "--role", "operator", "--password-stdin"), "\n", "password is empty")):
        code, out = _users(db, *args, stdin=stdin)
        assert code == 2 and message in out and "Traceback" not in out
    assert _users(db, "add", "x", "--role", "boss", "--password-stdin", stdin="pw\n")[0] == 2


def test_passwords_are_stored_as_argon2_hashes_and_tokens_as_digests(db: str) -> None:
    store = HistoryStore(db)
    accounts = Accounts(store)
    user = accounts.add("ann", "operator", "s3cret")
    token, session = accounts.open_session(user)
    with store.engine.connect() as conn:
        stored = conn.execute(select(users.c.password)).scalar_one()
        token_hash = conn.execute(select(sessions.c.token_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    assert token not in token_hash and len(token_hash) == 64
    assert accounts.session(token) == session
    store.dispose()


def test_a_session_expires_and_ends_with_a_password_change(db: str) -> None:
    store = HistoryStore(db)
    accounts = Accounts(store)
    user = accounts.add("ann", "operator", "pw")
    token, _ = accounts.open_session(user)
    with store.engine.begin() as conn:
        conn.execute(update(sessions).values(expires=dt.datetime.now() - dt.timedelta(seconds=1)))
    assert accounts.session(token) is None
    token, _ = accounts.open_session(user)
    assert accounts.session(token) is not None
    accounts.passwd("ann", "new")
    assert accounts.session(token) is None
    store.dispose()
