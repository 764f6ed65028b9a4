"""Passwords in source URLs: never stored, taken from the environment where a run needs them.

A run's request (its sources, params, window) is stored in the history so the overview can show
it and a scheduled run can run it later; anyone who can read a shared history can read it. So a
password written into a source URL is stored as ``***``, and a URL may instead refer to the
environment — ``postgresql+psycopg://ireserve:${IRESERVE_PASSWORD}@db/ireserve`` — which is
stored as written (a name, not a secret) and expanded only when the source is opened.
"""

from __future__ import annotations

import os
import re

REDACTED = "***"
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# scheme://user:password@host... ; the password ends at the last @ before the host.
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*:)(?P<password>.*)(?P<at>@[^@]*)$")


def _literal(password: str) -> bool:
    """Whether a URL's password is a secret written out (not only ``${NAME}`` references)."""
    return bool(_REF.sub("", password))


def has_literal_password(location: str) -> bool:
    match = _PASSWORD.match(location)
    return match is not None and _literal(match["password"]) and match["password"] != REDACTED


def redact(location: str) -> str:
    """The location as it may be stored and shown: a written-out password becomes ``***``."""
    match = _PASSWORD.match(location)
    if match is None or not _literal(match["password"]):
        return location
    return f"{match['head']}{REDACTED}{match['at']}"


def expand(location: str) -> str:
    """``${NAME}`` references replaced by the environment's values (inserted as they are:
    URL-encode special characters in a password)."""
    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in os.environ:
            raise ValueError(f"the environment variable `{name}` is not set (the source URL "
                             "takes it from there)")
        return os.environ[name]
    return _REF.sub(value, location)
