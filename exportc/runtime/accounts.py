"""Users, roles and login sessions of the operators' console, kept in the history database.

The tables live beside the runs (same database, same schema versions: ``history.MIGRATIONS``
creates them), so a team sharing one PostgreSQL history shares its users too. Passwords are
hashed with Argon2 (argon2-cffi's defaults, RFC 9106's second recommended setting); a session
cookie holds a random token of which only the SHA-256 is stored, so a copy of the database does
not let anyone in.

Roles, each including the one before it (the care-system seed's two authorisations map onto the
upper two): ``viewer`` sees overviews, reports and files; ``operator`` also starts, schedules and
cancels runs ("import and export"); ``admin`` also manages users ("manage export settings and
export"). A user may be limited to some profiles.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, delete, insert, select, update

from exportc.runtime.history import HistoryStore, meta, now

ROLES = ("viewer", "operator", "admin")
SESSION_HOURS = 8  # a working day; then the user logs in again

users = Table(
    "exportc_users", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("profiles", Text),  # JSON list of profile names the user is limited to; NULL = all
    Column("password", Text, nullable=False),  # Argon2 hash
    Column("created", DateTime, nullable=False),
)
sessions = Table(
    "exportc_sessions", meta,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("expires", DateTime, nullable=False),
)

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist takes as long as a real check, so
    the response time does not tell which user names exist. Made on first use, not on import:
    hashing takes a noticeable share of a second, and every command imports this module."""
    return _HASHER.hash("exportc: no such user")


class AccountError(Exception):
    """A user-management request that cannot be done (unknown user, bad role, taken name)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    profiles: tuple[str, ...] | None  # None: every profile

    def at_least(self, role: str) -> bool:
        """Whether this user's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, profile: str) -> bool:
        """Whether the user may see (and, with the role, run) this profile."""
        return self.profiles is None or profile in self.profiles

    def may_run(self, profile: str) -> bool:
        return self.at_least("operator") and self.sees(profile)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(r: object) -> User:
    profiles = getattr(r, "profiles", None)
    return User(r.id, r.name, r.role,  # type: ignore[attr-defined]
                tuple(json.loads(profiles)) if profiles else None)


class Accounts:
    """Users and sessions in one history database."""

    def __init__(self, store: HistoryStore) -> None:
        self.engine = store.engine

    # -- users --
    def add(self, name: str, role: str, password: str, profiles: list[str] | None = None) -> User:
        """A new user; the name must be free and the role known."""
        _check_role(role)
        if not name.strip() or len(name) > 100:
            raise AccountError("a user name is 1 to 100 characters")
        if not password:
            raise AccountError("the password is empty")
        if self.get(name) is not None:
            raise AccountError(f"user `{name}` exists already")
        with self.engine.begin() as conn:
            conn.execute(insert(users).values(
                name=name, role=role, profiles=json.dumps(profiles) if profiles else None,
                password=_HASHER.hash(password), created=now()))
        found = self.get(name)
        assert found is not None
        return found

    def get(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(users).where(users.c.name == name)).first()
        return _user(r) if r else None

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]

    def passwd(self, name: str, password: str) -> None:
        """Set a new password; the user's sessions end."""
        user = self._existing(name)
        if not password:
            raise AccountError("the password is empty")
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user.id).values(password=_HASHER.hash(password)))
            conn.execute(delete(sessions).where(sessions.c.user_id == user.id))

    def remove(self, name: str) -> None:
        """Remove a user and end their sessions."""
        user = self._existing(name)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.user_id == user.id))
            conn.execute(delete(users).where(users.c.id == user.id))

    def _existing(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise AccountError(f"no user `{name}`")
        return user

    def check_password(self, name: str, password: str) -> User | None:
        """The user when the password is right; None otherwise (in the same time either way)."""
        with self.engine.connect() as conn:
            r = conn.execute(select(users).where(users.c.name == name)).first()
        try:
            _HASHER.verify(r.password if r else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(r) if r else None

    # -- sessions --
    def open_session(self, user: User) -> tuple[str, Session]:
        """A new session: the cookie token (only its hash is stored) and the session."""
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), now() + dt.timedelta(hours=SESSION_HOURS))
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires < now()))  # tidy expired ones
            conn.execute(insert(sessions).values(token_hash=_digest(token), user_id=user.id,
                                                 csrf=session.csrf, created=now(),
                                                 expires=session.expires))
        return token, session

    def session(self, token: str) -> Session | None:
        """The live session of a cookie token, or None (unknown, expired, user removed)."""
        q = select(sessions.c.csrf, sessions.c.expires, users).join(
            users, users.c.id == sessions.c.user_id).where(sessions.c.token_hash == _digest(token))
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        if r is None or r.expires <= now():
            return None
        return Session(_user(r), r.csrf, r.expires)

    def close_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role `{role}`; roles: {', '.join(ROLES)}")


def create_tables(conn: object) -> None:
    """Migration step: the users and sessions tables."""
    meta.create_all(conn, tables=[users, sessions])  # type: ignore[arg-type]
