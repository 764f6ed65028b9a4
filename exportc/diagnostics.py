"""Diagnostics: the one type every user-facing problem travels in.

A diagnostic has a severity, a stable code (see ``exportc.codes``), a message, the span it points
at, an optional hint and related spans ("the base rule is here"). It renders three ways: text with
the source line and a caret (like rustc or Vector's VRL), JSON for CI tools, and GitHub workflow
annotations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a diagnostic is; ``error`` stops compilation or fails a record."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Span:
    """A region of one source file; lines and columns are 1-based, ``end_column`` exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int, width: int = 1) -> Span:
        """A span of ``width`` characters starting at (line, column)."""
        if cls is not Span:
            return cls(file, line, column, line, column + width)
        # A run makes one for every source row it reads (the row a problem would name): the
        # slots set directly cost a fifth of the frozen __init__ (object.__setattr__ per field).
        span = _new_span(Span)
        set_file, set_line, set_column, set_end_line, set_end_column = _SPAN_SLOTS
        set_file(span, file)
        set_line(span, line)
        set_column(span, column)
        set_end_line(span, line)
        set_end_column(span, column + width)
        return span

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Span:
        return cls(str(data["file"]), int(data["line"]), int(data["column"]),
                   int(data["end_line"]), int(data["end_column"]))


_new_span = object.__new__
_SPAN_SLOTS = tuple(Span.__dict__[name].__set__ for name in ("file", "line", "column", "end_line", "end_column"))


@dataclass(frozen=True, slots=True)
class Related:
    """A secondary location that explains a diagnostic."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a profile, a parameter, a source, a schema, or a run's records.

    The span is where the cause is: the profile rule, the source file's row, the output
    document's line. A run's diagnostic also says which record it belongs to; a group of like
    ones (``count`` > 1) names its first ``records``. ``line_text`` is the span's line as it read
    when the problem was found, so a report shows it even after the file changed or is gone.
    """

    severity: Severity
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    related: tuple[Related, ...] = field(default=())
    block: str | None = None  # the block (or ``source NAME``) a run met it in
    record: str | None = None  # the key of the record it belongs to
    document: str | None = None  # the output document (file name) it is in
    line_text: str | None = None
    count: int = 1  # like problems of as many records, grouped into this one
    records: tuple[str, ...] = field(default=())  # the first keys of the group

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, object]:
        """The JSON form, one schema for ``exportc check --format json`` and a run's
        ``report.json`` (see docs/diagnostics.md)."""
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "hint": self.hint,
            "related": [{"span": r.span.to_json(), "message": r.message} for r in self.related],
            "block": self.block,
            "record": self.record,
            "document": self.document,
            "line_text": self.line_text,
            "count": self.count,
            "records": list(self.records),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Diagnostic:
        """The inverse of ``to_json`` (keys a writer left out take their defaults)."""
        span = data.get("span")
        return cls(Severity(data["severity"]), str(data["code"]), str(data["message"]),
                   Span.from_json(span) if span else None, data.get("hint"),
                   tuple(Related(Span.from_json(r["span"]), str(r["message"]))
                         for r in data.get("related") or ()),
                   data.get("block"), data.get("record"), data.get("document"),
                   data.get("line_text"), int(data.get("count") or 1),
                   tuple(data.get("records") or ()))

    def render(self, sources: Mapping[str, str] | None = None, colour: bool = False) -> str:
        """``render_text``: the one way a diagnostic is shown as text."""
        return render_text(self, sources or {}, colour)

    def where(self) -> list[str]:
        """Where a run met it, in words: the block, the record (or a group's first records),
        the document."""
        out = [self.block] if self.block else []
        if self.count > 1:
            shown = ", ".join(self.records)
            more = f", … ({self.count - len(self.records)} more)" if self.count > len(self.records) else ""
            out.append(f"{self.count} records: {shown}{more}" if self.records else f"{self.count} times")
        elif self.record:
            out.append(f"record {self.record}")
        if self.document:
            out.append(f"document {self.document}")
        return out


def error(code: str, message: str, span: Span | None, hint: str | None = None,
          related: Iterable[Related] = ()) -> Diagnostic:
    """Shorthand for an error diagnostic."""
    return Diagnostic(Severity.ERROR, code, message, span, hint, tuple(related))


# --- rendering ---------------------------------------------------------------------------------

_COLOURS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}
_BLUE = "\x1b[1;34m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if self.colour else text


def _source_line(sources: Mapping[str, str], span: Span, known: str | None = None) -> str | None:
    if known is not None:
        return known
    text = sources.get(span.file)
    if text is None:
        return None
    lines = text.splitlines()
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    if span.line == len(lines) + 1:
        return ""
    return None


WIDE = 160  # a longer line (a JSON Lines record) is shown around the span, cut with "…"


def _window(line: str, column: int, width: int) -> tuple[str, int]:
    """The part of a long line around ``column``, and the column there."""
    if len(line) <= WIDE:
        return line, column
    start = max(0, column - 1 - 40)
    end = min(len(line), column - 1 + width + 40)
    head = "…" if start else ""
    return head + line[start:end] + ("…" if end < len(line) else ""), column - start + len(head)


def _snippet(sources: Mapping[str, str], span: Span, label: str, paint: _Paint,
             style: str, gutter: int, known: str | None = None) -> list[str]:
    line = _source_line(sources, span, known)
    pad = " " * gutter
    if line is None:
        return []
    width = span.end_column - span.column if span.end_line == span.line else len(line) - span.column + 1
    width = max(1, width)
    line, column = _window(line, span.column, width)
    caret = " " * (column - 1) + "^" * width
    if label:
        caret += " " + label
    return [
        f"{pad} {paint(_BLUE, '|')}",
        f"{paint(_BLUE, str(span.line).rjust(gutter))} {paint(_BLUE, '|')} {line}",
        f"{pad} {paint(_BLUE, '|')} {paint(style, caret)}",
    ]


def render_text(diagnostic: Diagnostic, sources: Mapping[str, str], colour: bool = False) -> str:
    """Render like rustc: header, location, the source line with a caret, hint, related spans."""
    paint = _Paint(colour)
    style = _COLOURS[diagnostic.severity]
    spans = [diagnostic.span] if diagnostic.span else []
    spans += [r.span for r in diagnostic.related]
    gutter = max((len(str(s.line)) for s in spans), default=1)
    pad = " " * gutter
    out = [paint(style, f"{diagnostic.severity.value}[{diagnostic.code}]")
           + paint(_BOLD, f": {diagnostic.message}")]
    if diagnostic.span:
        out.append(f"{pad}{paint(_BLUE, '-->')} {diagnostic.span}")
        out += _snippet(sources, diagnostic.span, "", paint, style, gutter, diagnostic.line_text)
    for rel in diagnostic.related:
        snippet = _snippet(sources, rel.span, rel.message, paint, _BLUE, gutter)
        # without its line to show it under, the label goes beside the location
        out.append(f"{pad}{paint(_BLUE, '::')} {rel.span}" + ("" if snippet else f" {rel.message}"))
        out += snippet
    if diagnostic.hint:
        out.append(f"{pad} {paint(_BLUE, '=')} {paint(_BOLD, 'hint')}: {diagnostic.hint}")
    where = diagnostic.where()
    if where:
        out.append(f"{pad} {paint(_BLUE, '=')} {paint(_BOLD, 'at')}: {'; '.join(where)}")
    return "\n".join(out)


def render_all_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str],
                    colour: bool = False) -> str:
    """Render several diagnostics separated by blank lines, with a closing tally."""
    items = list(diagnostics)
    parts = [render_text(d, sources, colour) for d in items]
    errors = sum(1 for d in items if d.severity is Severity.ERROR)
    warnings = sum(1 for d in items if d.severity is Severity.WARNING)
    if items:
        parts.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n\n".join(parts)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """A stable JSON document: ``{"diagnostics": [...]}``."""
    return json.dumps({"diagnostics": [d.to_json() for d in diagnostics]}, indent=2,
                      ensure_ascii=False)


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diagnostic: Diagnostic) -> str:
    """A GitHub Actions workflow command (``::error file=...::message``)."""
    kind = {"error": "error", "warning": "warning", "note": "notice"}[diagnostic.severity.value]
    props = [f"title={_gh_escape(diagnostic.code, True)}"]
    if diagnostic.span:
        s = diagnostic.span
        props = [f"file={_gh_escape(s.file, True)}", f"line={s.line}", f"col={s.column}",
                 f"endLine={s.end_line}", f"endColumn={s.end_column}", *props]
    message = diagnostic.message + (f" (hint: {diagnostic.hint})" if diagnostic.hint else "")
    return f"::{kind} {','.join(props)}::{_gh_escape(message)}"
