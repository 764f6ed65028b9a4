"""Run profile test cases in process, through the same runtime a test run uses.

Each case gets a fresh temporary folder: its inline records become JSON Lines files, its
``delivered`` records are recorded in a fresh history database as an earlier production run
would have recorded them (same canonical payload and hash), and the profile then runs through
``execute`` with the history tracker — so a case can test the reversal of a changed or deleted
invoice without two production runs. The output is compared canonically with the golden file,
the XPath assertions are evaluated on it, and the report's problems with the expected ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from exportc.artefact import Artefact
from exportc.compiler.pipeline import compile_file
from exportc.compiler.result import CompileResult
from exportc.diagnostics import Diagnostic, Span
from exportc.runtime.canonical import canonical
from exportc.runtime.execute import RunOptions, UsageError, execute
from exportc.runtime.history import Delivery, HistoryStore
from exportc.runtime.kinds import ChangeKind, RunMode
from exportc.runtime.report import Report
from exportc.runtime.sources import Binding, Coercer, SourceError, read_raw, record_key
from exportc.runtime.tracker import HistoryTracker
from exportc.workbench import expect
from exportc.workbench.casefile import TEST_SUFFIX, Case, TestFile, load_test_file
from exportc.workbench.coverage import Coverage


@dataclass
class CaseResult:
    """The outcome of one case: passed, failed (an expectation did not hold) or error (it could
    not run: a bad param, an unbound source)."""

    case: Case
    status: str
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    updated: bool = False


@dataclass
class FileResult:
    """A test file's cases' outcomes, or the diagnostics that kept it from running."""

    test: TestFile
    compiled: CompileResult | None = None
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        found = list(self.test.diagnostics)
        if self.compiled is not None and not self.compiled.ok:
            found += self.compiled.diagnostics
        return found


def discover(paths: list[Path]) -> list[Path]:
    """Test files: given ones, and ``*.test.toml`` under given folders (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(path.rglob(f"*{TEST_SUFFIX}")))
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def run_test_file(path: Path, update: bool = False, coverage: Coverage | None = None) -> FileResult:
    """Load a test file, compile its profile (merged with its base), run every case; with
    ``coverage``, on a coverage build of the profile, collecting what each case exercised."""
    test = load_test_file(path)
    result = FileResult(test)
    if test.diagnostics or test.profile is None:
        return result
    result.compiled = compile_file(test.profile)
    if not result.compiled.ok or result.compiled.artefact is None:
        return result
    artefact = coverage.instrument(result.compiled) if coverage else result.compiled.artefact
    for case in test.cases:
        result.cases.append(run_case(artefact, case, update))
        if coverage:
            coverage.collect(artefact)
    return result


def run_case(artefact: Artefact, case: Case, update: bool = False) -> CaseResult:
    """Run one case in a temporary folder and check its expectations."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="exportc-test-") as tmp:
        folder = Path(tmp)
        store = HistoryStore("sqlite:///:memory:")  # private to the case; no file to fsync
        try:
            result = _run(artefact, case, folder, store, update)
        except (UsageError, SourceError) as exc:
            result = CaseResult(case, "error", [str(exc)])
        finally:
            store.dispose()
    result.seconds = time.perf_counter() - started
    return result


def _date(value: object, name: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise UsageError(f"run option `{name}` must be a date (2026-11-30), got `{value}`")


def _options(case: Case, artefact: Artefact, folder: Path) -> RunOptions:
    run = case.run
    sources = {name: str(_bound(name, given, folder)) for name, given in case.sources.items()}
    unbound = sorted({b.source for b in artefact.blocks if b.source and b.source not in sources})
    if unbound:
        raise UsageError("the case gives no records for " + ", ".join(f"`sources.{s}`" for s in unbound)
                         + " (the profile reads it; an inline list or a file beside the test file)")
    mode = run.get("mode", "test")
    if mode not in ("test", "production"):
        raise UsageError(f"run option `mode` is test or production, got `{mode}`")
    return RunOptions(sources=sources, params=dict(case.params), date_from=_date(run.get("from"), "from"),
                      date_to=_date(run.get("to"), "to"), booking_date=_date(run.get("booking_date"), "booking_date"),
                      description=run.get("description"), out_dir=folder / "out",
                      skip_invalid=bool(run.get("skip_invalid", False)), mode=RunMode(mode))


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into a source record")


def _bound(name: str, given: Path | list[dict[str, Any]], folder: Path) -> Path:
    """A source file: the case's own file, or its inline records written as JSON Lines."""
    if isinstance(given, Path):
        return given
    path = folder / f"{name}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for record in given:
            fh.write(json.dumps(record, default=_json_default, ensure_ascii=False) + "\n")
    return path


def _seed(store: HistoryStore, artefact: Artefact, delivered: dict[str, Path | list[dict[str, Any]]]) -> None:
    """Record ``delivered`` as a finished production run of the profile would have."""
    if not delivered:
        return
    items = []
    for source, given in delivered.items():
        shape = artefact.sources.get(source)
        if shape is None:
            raise UsageError(f"`delivered.{source}`: the profile has no source `{source}`; sources: "
                             + ", ".join(artefact.sources))
        rows = [(loc.row, loc.number) for loc in read_raw(Binding(source, str(given)))] \
            if isinstance(given, Path) else [(r, n) for n, r in enumerate(given, 1)]
        coerce = Coercer(shape)
        for raw, number in rows:
            record = coerce(json.loads(json.dumps(raw, default=_json_default)), f"delivered.{source}", number)
            text = canonical(record)
            window = record.get(shape.window) if shape.window else None
            if isinstance(window, dt.datetime):
                window = window.date()
            items.append(Delivery(source, record_key(shape, record), ChangeKind.NEW,
                                  hashlib.sha256(text.encode()).hexdigest(), text, window))
    run_id = store.create_run(artefact.name, "P", "succeeded", {}, (None, None), None)
    with store.engine.begin() as conn:
        store.record_deliveries(conn, artefact.name, run_id, items)


def _run(artefact: Artefact, case: Case, folder: Path, store: HistoryStore, update: bool) -> CaseResult:
    _seed(store, artefact, case.delivered)
    opts = _options(case, artefact, folder)
    tracker = HistoryTracker(store, artefact, opts)
    try:
        report = execute(artefact, opts, tracker)
    finally:
        tracker.close()
    _name_inline(report, folder)
    outputs = expect.outputs_of(report)
    result = CaseResult(case, "passed")
    result.messages += expect.problems(case.problems, report)
    if case.golden is not None:
        found, result.updated = expect.golden(case, outputs, report, update)
        result.messages += found
    if case.xpath:
        result.messages += expect.xpaths(case, outputs, report)
    if result.messages:
        result.status = "failed"
    return result


def _name_inline(report: Report, folder: Path) -> None:
    """Problems in inline records point at ``sources.invoices:2`` (the case's second inline
    record), not at a temporary file."""
    prefix = str(folder) + "/"

    def named(span: Span | None) -> Span | None:
        if span is None or not span.file.startswith(prefix):
            return span
        name = span.file[len(prefix):].partition(".jsonl")[0]
        return replace(span, file=f"sources.{name}")
    report.problems[:] = [
        replace(p, span=named(p.span), related=tuple(replace(r, span=named(r.span) or r.span)
                                                     for r in p.related))
        for p in report.problems]
