"""``exportc users``: the console's users, kept in the history database (as for every other
command: ``--db``, else the working directory's project's history). Thin, like the CLI."""

# No ``from __future__ import annotations``: typer would eval each string annotation anew on
# every start (see exportc/cli.py).
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from exportc.clihelp import PlainHelpGroup

if TYPE_CHECKING:  # imported when a users command runs: every other command starts without Argon2
    from exportc.runtime.accounts import Accounts

users_app = typer.Typer(cls=PlainHelpGroup, no_args_is_help=True,
                        help="Users of the console (kept in the history database).")

DB = Annotated[str | None, typer.Option("--db", metavar="FILE|URL",
                                        help="History: SQLite file or database URL")]
NAME = Annotated[str, typer.Argument(metavar="NAME", help="User name")]
STDIN = Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts)")]


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _accounts(db: str | None, create: bool = False) -> "Accounts":
    from exportc.orchestrate import open_history
    from exportc.runtime.accounts import Accounts
    from exportc.runtime.execute import UsageError
    from exportc.runtime.history import HistoryError
    try:
        return Accounts(open_history(db, create=create))
    except (HistoryError, UsageError) as exc:
        raise _fail(str(exc)) from None


@contextmanager
def _refused() -> Iterator[None]:
    """An account the command cannot change (no such user, a taken name…) is one line, exit 2."""
    from exportc.runtime.accounts import AccountError
    try:
        yield
    except AccountError as exc:
        raise _fail(str(exc)) from None


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    name: NAME,
    role: Annotated[Role, typer.Option("--role", metavar="viewer|operator|admin",
                                       help="What the user may do")],
    profile: Annotated[list[str] | None, typer.Option("--profile", metavar="PROFILE",
                                                      help="Limit to this profile (repeat)")] = None,
    password_stdin: STDIN = False,
    db: DB = None,
) -> None:
    """Add a user (the first admin is made this way)."""
    accounts = _accounts(db, create=True)
    with _refused():
        user = accounts.add(name, role.value, _password(password_stdin), profile or None)
    typer.echo(f"added {user.name} ({user.role})")


@users_app.command("list")
def users_list(db: DB = None) -> None:
    """List the users, their roles and the profiles they are limited to."""
    found = _accounts(db).list()
    for u in found:
        typer.echo(f"{u.name}  {u.role}" + (f"  profiles: {', '.join(u.profiles)}" if u.profiles else ""))
    if not found:
        typer.echo("no users")


@users_app.command("passwd")
def users_passwd(name: NAME, password_stdin: STDIN = False, db: DB = None) -> None:
    """Set a user's password (their sessions end)."""
    with _refused():
        _accounts(db).passwd(name, _password(password_stdin))
    typer.echo(f"password of {name} changed")


@users_app.command("remove")
def users_remove(name: NAME, db: DB = None) -> None:
    """Remove a user (their sessions end)."""
    with _refused():
        _accounts(db).remove(name)
    typer.echo(f"removed {name}")
