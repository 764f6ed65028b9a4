"""Reading report.json files written by an earlier release, whose problems were not diagnostics.

Run stores keep every production run's report for good, so ``show``, ``runs`` and the console
must still read the old form: ``{"severity", "code", "message", "block", "record", "file",
"line", "source": "FILE, row N", "rule"}``. Each such problem becomes the ``Diagnostic`` a run
writes today: the profile line its span (with the rule, as quoted then, as its text), the
source row (``FILE, row N``) a related span, or the span itself when no profile line was named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exportc.diagnostics import Diagnostic, Related, Severity, Span


def _row(source: str | None) -> Span | None:
    """``FILE, row N`` as the span of that row; None for anything else (``history``)."""
    if not source:
        return None
    file, sep, row = source.rpartition(", row ")
    if not sep or not row.isdigit():
        return None
    return Span.point(file, int(row), 1)


def old_problem(data: Mapping[str, Any]) -> Diagnostic:
    """One problem of an old report.json as a diagnostic."""
    rule = data.get("rule")
    file, line = data.get("file"), data.get("line")
    row = _row(data.get("source"))
    span = Span.point(file, int(line), 1, len(rule) if rule else 1) if file and line else None
    related: tuple[Related, ...] = ()
    if span is None:
        span, rule = row, None  # a problem of the source itself: the row is where it is
    elif row is not None:
        related = (Related(row, "the record"),)
    block = data.get("block")
    if span is None and data.get("source") and not row:
        block = "; ".join(b for b in (block, data["source"]) if b)  # said, if not a row
    return Diagnostic(Severity(data.get("severity", "error")), str(data.get("code", "")),
                      str(data.get("message", "")), span, related=related, block=block,
                      record=data.get("record"), line_text=rule)
