"""The report of a run: counts, every problem with record key and profile line, timings."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from exportc.diagnostics import Diagnostic, Severity, Span, render_brief


def timestamp() -> str:
    """Now, to the second, with the UTC offset of the local time zone: a report's times say
    which zone they are in."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class Problem:
    """A warning or error found while running; names the record and the profile line."""

    severity: str
    code: str
    message: str
    block: str | None = None
    record: str | None = None
    file: str | None = None
    line: int | None = None
    source: str | None = None  # the source file and row, for bad input values
    rule: str | None = None  # the profile line at file:line, as written

    def diagnostic(self, records: list[str] | None = None, count: int = 1,
                   profile_text: str | None = None) -> Diagnostic:
        """This problem as the one ``Diagnostic`` type the compiler uses: the span is the rule
        in the profile (under its text when ``profile_text`` is given), the context names block,
        record and source row; a group of ``count`` like problems names its first ``records``."""
        span = None
        if self.file and self.line:
            column, width = 1, len(self.rule) if self.rule else 1
            lines = profile_text.splitlines() if profile_text else []
            if 0 < self.line <= len(lines):
                text = lines[self.line - 1].split("#", 1)[0].rstrip()
                column = len(text) - len(text.lstrip()) + 1
                width = max(1, len(text) - column + 1)
            span = Span.point(self.file, self.line, column, width)
        if count > 1:
            shown = ", ".join(records or [])
            more = f", … ({count - len(records or [])} more)" if count > len(records or []) else ""
            who = f"{count} records: {shown}{more}" if records else f"{count} times"
            context: tuple[str | None, ...] = (self.block, who)
        else:
            context = (self.block, f"record {self.record}" if self.record else None, self.source)
        return Diagnostic(Severity(self.severity), self.code, self.message, span,
                          context=tuple(c for c in context if c))

    def render(self) -> str:
        return render_brief(self.diagnostic(), self.rule)


@dataclass
class ProblemGroup:
    """Problems alike but for their record (same code, rule, block and message)."""

    first: Problem
    count: int
    records: list[str]  # the first keys, in the order met

    def render(self) -> str:
        return render_brief(self.first.diagnostic(self.records, self.count), self.first.rule)

    def to_json(self) -> dict[str, Any]:
        p = self.first
        return {"severity": p.severity, "code": p.code, "message": p.message, "block": p.block,
                "file": p.file, "line": p.line, "rule": p.rule, "count": self.count,
                "records": self.records}


FIRST_KEYS = 3  # how many keys a group of problems names


def group_problems(problems: list[Problem]) -> list[ProblemGroup]:
    """Group repeated problems: one line per code, rule and message, with a count and the first
    keys, so a thousand records failing the same check read as one line, not a thousand."""
    groups: dict[tuple[Any, ...], ProblemGroup] = {}
    for p in problems:
        key = (p.severity, p.code, p.file, p.line, p.block, p.message)
        g = groups.get(key)
        if g is None:
            groups[key] = ProblemGroup(p, 1, [p.record] if p.record else [])
            continue
        g.count += 1
        if p.record and len(g.records) < FIRST_KEYS:
            g.records.append(p.record)
    return list(groups.values())


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
    problems: list[Problem] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    run_id: int | None = None
    history: str | None = None  # which history the run used (a file, or a URL without password)
    nothing_to_deliver: bool = False  # no new, changed or deleted record: no document written
    copied_to: str | None = None  # the --out folder the run's files were copied to

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_json(self) -> str:
        data = asdict(self)
        data["groups"] = [g.to_json() for g in group_problems(self.problems)]
        return json.dumps(data, indent=2, ensure_ascii=False, default=str, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        data.pop("groups", None)  # derived from the problems
        data["blocks"] = {k: BlockCounts(**v) for k, v in data.get("blocks", {}).items()}
        data["problems"] = [Problem(**p) for p in data.get("problems", [])]
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
            lines.append("  " + g.render())
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
