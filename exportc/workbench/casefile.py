"""Profile test files: ``<profile>.test.toml`` beside the profile it tests.

TOML, not YAML: ``tomllib`` is in the standard library (no new dependency) and reads numbers
with ``parse_float=Decimal``, so ``121.10`` stays exactly ``121.10`` — YAML loaders make money a
float, ``NO`` a boolean and ``0800`` a number; TOML has real date literals for windows and
invoice dates; and integrators already write ``exportc.toml``. A file looks like::

    profile = "exact-online.map"          # optional: the .map with the same stem

    [defaults]                             # shared by every case; a case overrides per key
    params = { invoice_export = true }
    sources.customers = "data/customers.jsonl"   # a path beside this file, or inline records

    [[case]]
    name = "an invoice with one line"
    params = { netprice_is_total = true }
    run = { from = 2026-11-01, to = 2026-11-30, booking_date = 2026-12-01, description = "Nov" }
    expect.golden = "golden/one-line.xml"          # the whole output, compared canonically
    expect.xpath = ["count(//Invoice) = 1"]        # XPath 1.0 expressions that must be true
    expect.problems = [{ code = "W0601", key = "F1" }]   # exactly these warnings and errors

    [[case.sources.invoices]]              # inline records (nested lists as sub-tables)
    Factuurnummer = "F1"
    ...
    [[case.delivered.invoices]]            # what an earlier production run delivered
    ...
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from exportc.diagnostics import Diagnostic, Span, error

TEST_SUFFIX = ".test.toml"

_TOP = ("profile", "namespaces", "defaults", "case")
_SHARED = ("params", "run", "sources", "delivered")
_CASE = ("name", *_SHARED, "expect")
_RUN = ("from", "to", "booking_date", "description", "mode", "skip_invalid")
_EXPECT = ("golden", "xpath", "problems")
_PROBLEM = ("code", "key", "severity", "message")

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class ExpectedProblem:
    """A problem a case expects: its code, and optionally the record key, severity, message part."""

    code: str
    key: str | None = None
    severity: str | None = None
    message: str | None = None

    def __str__(self) -> str:
        return self.code + (f" for {self.key}" if self.key else "")


@dataclass
class Case:
    """One test case: inputs, run options and what must come out."""

    name: str
    span: Span
    params: dict[str, str] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Path | Records] = field(default_factory=dict)
    delivered: dict[str, Path | Records] = field(default_factory=dict)
    golden: Path | None = None
    golden_folder: bool = False  # one golden file per document (document-per-record profiles)
    xpath: list[str] = field(default_factory=list)
    problems: list[ExpectedProblem] = field(default_factory=list)
    namespaces: dict[str, str] = field(default_factory=dict)  # XPath prefixes


@dataclass
class TestFile:
    """A parsed test file; ``diagnostics`` says what is wrong with it (then ``cases`` is empty)."""

    path: Path
    profile: Path | None = None
    cases: list[Case] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    text: str = ""


class _Bad(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


def _line_of(lines: list[str], start: int, pattern: str) -> int:
    """The first line at or after ``start`` (1-based) that mentions ``pattern`` as a key."""
    rx = re.compile(rf"(^|[\s.{{,\[]){re.escape(pattern)}\s*(=|\]|\.)")
    for n in range(max(start, 1), len(lines) + 1):
        if rx.search(lines[n - 1]):
            return n
    return start


class _Reader:
    """Builds cases from the TOML data; turns every shape mistake into a located diagnostic."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.file = str(path)
        self.lines = text.splitlines()
        self.case_lines = [n for n, line in enumerate(self.lines, 1) if line.strip().startswith("[[case]]")]

    def span(self, line: int) -> Span:
        width = len(self.lines[line - 1]) if 0 < line <= len(self.lines) else 1
        return Span(self.file, line, 1, line, max(width, 1) + 1)

    def bad(self, code: str, message: str, line: int, hint: str | None = None) -> _Bad:
        return _Bad(error(code, message, self.span(line), hint))

    def keys(self, table: dict[str, Any], allowed: tuple[str, ...], where: str, line: int) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean `{close[0]}`?" if close else "known: " + ", ".join(allowed)
                raise self.bad("E0702", f"unknown key `{key}` in {where}", _line_of(self.lines, line, key), hint)

    def table(self, value: object, what: str, line: int) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.bad("E0701", f"{what} must be a table", line)
        return value

    def read(self, data: dict[str, Any]) -> tuple[Path | None, list[Case]]:
        self.keys(data, _TOP, "the test file", 1)
        profile = self.profile(data.get("profile"))
        namespaces = self.table(data.get("namespaces", {}), "`namespaces`", _line_of(self.lines, 1, "namespaces"))
        if not all(isinstance(v, str) for v in namespaces.values()):
            raise self.bad("E0701", "`namespaces` maps prefixes to namespace URIs (text)",
                           _line_of(self.lines, 1, "namespaces"))
        defaults = self.table(data.get("defaults", {}), "`defaults`", _line_of(self.lines, 1, "defaults"))
        self.keys(defaults, _SHARED, "`defaults`", 1)
        raw_cases = data.get("case", [])
        if not isinstance(raw_cases, list) or not raw_cases:
            raise self.bad("E0701", "the test file has no cases", 1, "add a `[[case]]` table")
        cases, names = [], set()
        for n, raw in enumerate(raw_cases):
            line = self.case_lines[n] if n < len(self.case_lines) else 1
            case = self.case(self.table(raw, "a case", line), defaults, n + 1, line)
            if case.name in names:
                raise self.bad("E0701", f"two cases are named `{case.name}`", line, "give each case its own name")
            names.add(case.name)
            case.namespaces = dict(namespaces)
            cases.append(case)
        return profile, cases

    def profile(self, value: object) -> Path | None:
        stem = self.path.name[: -len(TEST_SUFFIX)] if self.path.name.endswith(TEST_SUFFIX) else self.path.stem
        name = value if value is not None else f"{stem}.map"
        if not isinstance(name, str):
            raise self.bad("E0701", "`profile` must be a file name", _line_of(self.lines, 1, "profile"))
        found = self.path.parent / name
        if not found.is_file():
            line = _line_of(self.lines, 1, "profile") if value is not None else 1
            raise self.bad("E0703", f"the profile `{name}` this file tests does not exist", line,
                           f"put the test file beside its profile or set `profile = \"...\"` ({found})")
        return found

    def case(self, raw: dict[str, Any], defaults: dict[str, Any], number: int, line: int) -> Case:
        self.keys(raw, _CASE, f"case {number}", line)
        name = raw.get("name", f"case {number}")
        if not isinstance(name, str) or not name.strip():
            raise self.bad("E0701", "a case's `name` must be text", _line_of(self.lines, line, "name"))
        case = Case(name, self.span(line))
        params = {**self.table(defaults.get("params", {}), "`params`", line),
                  **self.table(raw.get("params", {}), "`params`", line)}
        case.params = {k: _param_text(v) for k, v in params.items()}
        case.run = {**self.table(defaults.get("run", {}), "`run`", line),
                    **self.table(raw.get("run", {}), "`run`", line)}
        self.keys(case.run, _RUN, f"`run` of case {number}", line)
        for kind in ("sources", "delivered"):
            merged = {**self.table(defaults.get(kind, {}), f"`{kind}`", line),
                      **self.table(raw.get(kind, {}), f"`{kind}`", line)}
            setattr(case, kind, {src: self.records(v, f"{kind}.{src}", line) for src, v in merged.items()})
        self.expect(case, self.table(raw.get("expect", {}), "`expect`", line), line)
        return case

    def records(self, value: object, what: str, line: int) -> Path | Records:
        if isinstance(value, str):
            return (self.path.parent / value).resolve()
        if isinstance(value, list) and all(isinstance(r, dict) for r in value):
            return value
        raise self.bad("E0701", f"`{what}` must be a file name or a list of records",
                       _line_of(self.lines, line, what.split(".")[-1]))

    def expect(self, case: Case, raw: dict[str, Any], line: int) -> None:
        self.keys(raw, _EXPECT, f"`expect` of `{case.name}`", line)
        golden = raw.get("golden")
        if golden is not None:
            if not isinstance(golden, str):
                raise self.bad("E0701", "`expect.golden` must be a file name", _line_of(self.lines, line, "golden"))
            case.golden = (self.path.parent / golden).resolve()
            case.golden_folder = golden.endswith("/") or case.golden.is_dir()
        xpath = raw.get("xpath", [])
        if not isinstance(xpath, list) or not all(isinstance(x, str) for x in xpath):
            raise self.bad("E0701", "`expect.xpath` must be a list of XPath expressions",
                           _line_of(self.lines, line, "xpath"))
        case.xpath = xpath
        for p in raw.get("problems", []):
            p = self.table(p, "an expected problem", _line_of(self.lines, line, "problems"))
            self.keys(p, _PROBLEM, "an expected problem", _line_of(self.lines, line, "problems"))
            if not isinstance(p.get("code"), str):
                raise self.bad("E0701", "an expected problem needs a `code`", _line_of(self.lines, line, "problems"))
            case.problems.append(ExpectedProblem(p["code"], _opt_text(p.get("key")), p.get("severity"),
                                                 p.get("message")))
        if case.golden is None and not case.xpath and "problems" not in raw:
            raise self.bad("E0704", f"case `{case.name}` expects nothing", line,
                           "give `expect.golden`, `expect.xpath` or `expect.problems` (an empty list: none)")


def _opt_text(v: object) -> str | None:
    return None if v is None else _param_text(v)


def _param_text(v: object) -> str:
    """A TOML value as the text ``--param NAME=VALUE`` would give."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(_param_text(x) for x in v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_test_file(path: Path) -> TestFile:
    """Read and check a test file; problems come back as diagnostics, never as exceptions."""
    result = TestFile(path)
    try:
        result.text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.diagnostics.append(error("E0001", f"cannot read {path}: {exc}", None))
        return result
    try:
        data = tomllib.loads(result.text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        span = Span.point(str(path), int(m[1]), int(m[2])) if m else None
        reason = _TOML_POS.sub("", str(exc)).strip()
        result.diagnostics.append(error("E0701", f"the test file is not valid TOML: {reason}", span))
        return result
    reader = _Reader(path, result.text)
    try:
        result.profile, result.cases = reader.read(data)
    except _Bad as bad:
        result.diagnostics.append(bad.diagnostic)
    return result
