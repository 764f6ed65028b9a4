"""Coverage probes for ``exportc test --coverage``: the generated code of a coverage build calls
these to say which rules ran and which way each ``when``/``where``/``if`` went. Ordinary runs
never call them (their generated code has no probes)."""

from __future__ import annotations

from typing import Any

HITS: set[int] = set()


def cov_hit(ids: tuple[int, ...]) -> None:
    """The rules with these probe ids ran."""
    HITS.update(ids)


def cov_if(yes: int, no: int, value: Any) -> Any:
    """A condition (``when``, ``where``, a check); records ``yes`` or ``no`` by its truth and
    passes it through."""
    HITS.add(yes if value else no)
    return value


def cov_val(probe: int, value: Any) -> Any:
    """One branch of an ``if`` was taken; passes its value through."""
    HITS.add(probe)
    return value


def take() -> set[int]:
    """The ids hit since the last call (and forget them)."""
    hits = set(HITS)
    HITS.clear()
    return hits
