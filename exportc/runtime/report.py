"""The report of a run: counts, every problem with record key and profile line, timings."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field, fields, replace
from textwrap import indent
from typing import Any

from exportc.diagnostics import Diagnostic, Related, Severity, Span, render_text
from exportc.runtime.report_compat import old_problem

# Where a record was read: (source file, row or JSON Lines line number). A run keeps this pair
# for the record at hand and makes a Span of it only when a problem names the record.
SourceRow = tuple[str, int]


def timestamp() -> str:
    """Now, to the second, with the UTC offset of the local time zone: a report's times say
    which zone they are in."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def problem(severity: str, code: str, message: str, block: str | None = None,
            record: str | None = None, at: tuple[str, int] | None = None,
            row: SourceRow | None = None, document: str | None = None) -> Diagnostic:
    """A problem a run met with a record: its span is the profile line ``at`` (file, line) that
    raised it (``spans.locate`` finds its columns and text when the run ends), the record's own
    source ``row`` a related span."""
    span = Span.point(at[0], at[1], 1) if at else None
    where = _row_span(row)
    related = (Related(where, "the record"),) if where else ()
    return Diagnostic(Severity(severity), code, message, span, related=related, block=block,
                      record=record, document=document)


def source_problem(severity: str, code: str, message: str, block: str | None,
                   row: SourceRow | None, record: str | None = None) -> Diagnostic:
    """A problem with the source itself (a bad value, a duplicate key, a file that cannot be
    read): its span is the source file's row."""
    return Diagnostic(Severity(severity), code, message, _row_span(row), block=block, record=record)


def _row_span(row: SourceRow | None) -> Span | None:
    """The span of one row (or JSON Lines line) of a source file; None without a row."""
    return Span.point(row[0], row[1], 1) if row and row[1] else None


FIRST_KEYS = 3  # how many keys a group of problems names


def group_problems(problems: list[Diagnostic], first: int = FIRST_KEYS) -> list[Diagnostic]:
    """Group repeated problems: one diagnostic per code, rule, block and message, with a count
    and the first keys, so a thousand records failing the same check read as one, not a
    thousand."""
    groups: dict[tuple[Any, ...], tuple[Diagnostic, dict[str, None]]] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for p in problems:
        span = p.span
        key = (p.severity, p.code, span.file if span else None, span.line if span else None,
               p.block, p.message)
        g = groups.get(key)
        if g is None:
            keys: dict[str, None] = {}
            _first_keys(keys, p.records, first)
            _first_keys(keys, (p.record,) if p.record else (), first)
            groups[key] = (p, keys)
            counts[key] = p.count
            continue
        counts[key] += p.count
        # The keys in the order they were first met, no more than ``first`` of them: a check
        # failing 100k records names three without collecting the other 99,997.
        _first_keys(g[1], p.records or ((p.record,) if p.record else ()), first)
    out = []
    for key, (p, keys) in groups.items():
        if counts[key] == 1:
            out.append(p)
            continue
        out.append(replace(p, count=counts[key], records=tuple(keys), record=None, related=()))
    return out


def _first_keys(keys: dict[str, None], more: tuple[str, ...], first: int) -> None:
    """Add the keys of ``more`` not in ``keys`` yet, while it holds fewer than ``first``."""
    for k in more:
        if len(keys) >= first:
            return
        keys.setdefault(k)


@dataclass
class BlockCounts:
    records: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    by_change: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    profile: str
    mode: str
    status: str = "running"  # running | succeeded | failed
    started: str = ""
    finished: str | None = None
    window: dict[str, str | None] = field(default_factory=dict)
    description: str | None = None
    booking_date: str | None = None
    started_by: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # the documents, then the zip (with --zip)
    zip: str | None = None  # the zip of the documents, also listed in ``files``
    blocks: dict[str, BlockCounts] = field(default_factory=dict)
    # Per source, its records by change kind, each counted once (a changed invoice is one record
    # though two blocks deliver it: its reversal and its new version).
    records: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    run_id: int | None = None
    history: str | None = None  # which history the run used (a file, or a URL without password)
    nothing_to_deliver: bool = False  # no new, changed or deleted record: no document written
    copied_to: str | None = None  # the --out folder the run's files were copied to

    @property
    def errors(self) -> list[Diagnostic]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def to_json(self) -> str:
        """report.json: the run's fields; ``problems`` and ``groups`` (the problems grouped)
        are diagnostics in the JSON form ``exportc check --format json`` writes."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["blocks"] = {k: asdict(v) for k, v in self.blocks.items()}
        data["problems"] = [p.to_json() for p in self.problems]
        data["groups"] = [g.to_json() for g in group_problems(self.problems)]
        return json.dumps(data, indent=2, ensure_ascii=False, default=str, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Report:
        """A report.json read back; one written by an earlier release (its problems were not
        diagnostics yet) reads too."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}  # (not `groups`: derived from the problems)
        data = {k: v for k, v in data.items() if k in known}
        data["blocks"] = {k: BlockCounts(**v) for k, v in data.get("blocks", {}).items()}
        data["problems"] = [Diagnostic.from_json(p) if "span" in p else old_problem(p)
                            for p in data.get("problems", [])]
        return cls(**data)

    def _about(self) -> list[str]:
        """Who started the run, and the description and booking date it was given."""
        out = []
        if self.description:
            out.append(f"  description: {self.description}")
        if self.booking_date:
            out.append(f"  booking date: {self.booking_date}")
        if self.started_by or self.started:
            out.append("  started" + (f" {self.started}" if self.started else "")
                       + (f" by {self.started_by}" if self.started_by else ""))
        return out

    def summary(self) -> str:
        """A few readable lines: status, counts, problems."""
        lines = [f"{'test' if self.mode == 'test' else 'production'} run of {self.profile}: "
                 f"{self.status}" + (f" (run {self.run_id})" if self.run_id else "")]
        lines.extend(self._about())
        for name, c in self.blocks.items():
            if not (c.records or c.written or c.failed or c.skipped or c.by_change):
                continue
            changes = ", ".join(f"{k} {v}" for k, v in sorted(c.by_change.items()))
            lines.append(f"  {name}: {c.written} written of {c.records} records"
                         + (f", {c.skipped} skipped" if c.skipped else "")
                         + (f", {c.failed} failed" if c.failed else "")
                         + (f" ({changes})" if changes else ""))
        tallies = [f"{source} " + ", ".join(f"{k} {v}" for k, v in sorted(t.items()))
                   for source, t in self.records.items() if t]
        if tallies:
            lines.append("  records: " + "; ".join(tallies))
        if self.validation:
            v = self.validation
            lines.append(f"  validation: {'valid' if v.get('valid') else 'INVALID'}"
                         + (f" against {v.get('schema')}" if v.get("schema") else "")
                         + (f": {v.get('error')}" if v.get("error") else ""))
        for f in self.files:
            lines.append(f"  file: {f}")
        if self.nothing_to_deliver:
            lines.append("  nothing to deliver: no new, changed or deleted records, so no document "
                         "was written")
        if self.copied_to:
            lines.append(f"  copied to: {self.copied_to}")
        if self.history:
            lines.append(f"  history: {self.history}")
        groups = group_problems(self.problems)
        for g in groups[:20]:
            lines.append(indent(render_text(g, {}), "  "))
        if len(groups) > 20:
            rest = sum(g.count for g in groups[20:])
            lines.append(f"  ... and {rest} more problems (see report.json)")
        if self.timings:
            lines.append("  timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in self.timings.items()))
        failed = sum(c.failed for c in self.blocks.values())
        if self.status == "failed" and failed and not self.files:
            lines.append(f"  no file was written: {failed} record(s) failed; correct them, or run again "
                         "with --skip-invalid to leave them out (they are listed in the report)")
        return "\n".join(lines)


def report_json_of(text: str | None) -> Any:
    """A stored report.json as today's JSON (one written by an earlier release converted), for
    ``show --format json`` and the console's ``/runs/N.json``; as stored when it is no report."""
    if not text:
        return None
    try:
        return json.loads(Report.from_json(text).to_json())
    except (TypeError, KeyError, ValueError):
        return json.loads(text)
