"""Where a run's problems are, to the column, with the line they point at.

While records are written, a problem only notes the profile line (or source row) it is at:
reading files then would slow the run down. When the run ends, ``locate`` reads each line once
and gives every span its columns (the rule's text without indentation or comment, the source
row) and the diagnostic the line's text, so a report shows it with a caret like a compile error,
even after the profile changed. Source rows are read for CSV and JSON Lines files, where a row
is a line; a JSON array's item is not one, so its span stays a bare location.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from exportc.diagnostics import Diagnostic, Span

MAX_TEXT = 2000  # longer lines are not quoted (a one-line document, a huge record)
MAX_LOCATED = 1000  # problems beyond these are left as they are: a report of a bad file stays cheap
_LINE_SOURCES = (".csv", ".jsonl", ".ndjson", ".map")
_FIELD = re.compile(r"^field `([^`]+)`")


def _code_end(text: str) -> int:
    """Where the code of a profile line ends: before a ``#`` comment outside a string."""
    quoted = False
    for n, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return len(text[:n].rstrip())
    return len(text.rstrip())


def read_lines(file: str, wanted: set[int]) -> dict[int, str]:
    """The lines numbered ``wanted`` of a text file (one pass, stopping after the last)."""
    found: dict[int, str] = {}
    last = max(wanted, default=0)
    try:
        with open(file, encoding="utf-8-sig", errors="replace", newline="") as fh:
            for number, line in enumerate(fh, start=1):
                if number in wanted:
                    found[number] = line.rstrip("\r\n")
                if number >= last:
                    break
    except OSError:
        pass
    return found


def _csv_cells(line: str) -> list[tuple[int, int]]:
    """Each cell's (start, end) in one line of CSV (quotes respected)."""
    cells, start, quoted = [], 0, False
    for n, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            cells.append((start, n))
            start = n + 1
    cells.append((start, len(line)))
    return cells


def _field_columns(file: str, text: str, field: str, header: str) -> tuple[int, int] | None:
    """The 1-based columns (start, end) of ``field``'s value in a source row (of a CSV file
    whose first line is ``header``), if found."""
    if file.endswith(".csv"):
        names = [h.strip().strip('"') for h in header.lstrip("\ufeff").split(",")]
        cells = _csv_cells(text)
        if field in names and len(cells) == len(names):
            start, end = cells[names.index(field)]
            return start + 1, max(end, start + 1) + 1
        return None
    match = re.search(r'"' + re.escape(field) + r'"\s*:\s*', text)
    if match is None:
        return None
    rest = text[match.end():]
    value = re.match(r'"(?:[^"\\]|\\.)*"|[^,}\]]*', rest)
    width = len(value.group(0).rstrip()) if value else 1
    return match.end() + 1, match.end() + 1 + max(width, 1)


def _span_of(span: Span, text: str, message: str, header: str) -> Span:
    """The span widened to what it points at on its line (``header``: a CSV file's first)."""
    if span.file.endswith(".map"):
        start = len(text) - len(text.lstrip()) + 1
        return Span(span.file, span.line, start, span.line, max(_code_end(text) + 1, start + 1))
    field = _FIELD.match(message)
    columns = _field_columns(span.file, text, field.group(1), header) if field else None
    if columns is None:
        columns = (1, max(len(text.rstrip()), 1) + 1)
    return Span(span.file, span.line, columns[0], span.line, columns[1])


def locate(problems: list[Diagnostic]) -> None:
    """Give the first ``MAX_LOCATED`` problems whose span is a line of a profile or of a CSV or
    JSON Lines source their columns and the line's text (in place)."""
    wanted: dict[str, set[int]] = {}
    todo = [n for n, p in enumerate(problems[:MAX_LOCATED])
            if p.span is not None and p.line_text is None and p.span.file.endswith(_LINE_SOURCES)]
    for n in todo:
        span = problems[n].span
        assert span is not None
        wanted.setdefault(span.file, set()).add(span.line)
        if span.file.endswith(".csv"):
            wanted[span.file].add(1)  # its header names the fields: read with the rows, once
    texts = {file: read_lines(file, lines) for file, lines in wanted.items()}
    for n in todo:
        p = problems[n]
        assert p.span is not None
        text = texts[p.span.file].get(p.span.line)
        if text is None or len(text) > MAX_TEXT:
            continue
        header = texts[p.span.file].get(1, "")
        problems[n] = replace(p, span=_span_of(p.span, text, p.message, header), line_text=text)


def document_line(path: Path, line: int) -> str | None:
    """Line ``line`` of an output document, for an XSD error's span (None when too long)."""
    text = read_lines(str(path), {line}).get(line)
    return text if text is not None and len(text) <= MAX_TEXT else None
