"""The closed sets of words a run speaks in, as enums: which kind of run, which history a
profile keeps, and how a record changed since it was delivered.

They are ``StrEnum`` s, so each member *is* its word: reports, the history database, the
generated code (``change in ("changed", "deleted")``) and the console keep reading and writing
the same text as before, while the runtime's own code names them and mypy checks them.
"""

from __future__ import annotations

from enum import StrEnum


class RunMode(StrEnum):
    """A test run changes no history; a production run records what it delivered."""

    TEST = "test"
    PRODUCTION = "production"

    @property
    def letter(self) -> str:
        """The run's letter in the history's runs table and the overview (T or P)."""
        return "P" if self is RunMode.PRODUCTION else "T"


class HistoryKind(StrEnum):
    """A profile's ``history`` clause: what a later production run delivers."""

    FULL = "full"  # everything, every run (and records it)
    MUTATIONS = "mutations"  # only new, changed and deleted records
    NONE = "none"  # records nothing


class ChangeKind(StrEnum):
    """How a record stands against what was delivered before."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
