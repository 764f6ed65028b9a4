"""Run a compiled profile: read sources, emit records, validate, write files and a report.

``RunOptions``, ``ChangeTracker`` and ``UsageError`` live in ``context`` and are re-exported here.

The XML is written to a temporary file beside its destination and moved into place only when
the whole run succeeded (and validated): a failed run never leaves a half-written file. Each
top-level record is rendered into its own buffer first, so a record that fails half-way (an
unknown table key, a failed check, a value a facet rejects) is left out whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import IO, TYPE_CHECKING, Any

from exportc.artefact import BIND, Artefact, Bind, Bound, RunValues, TypeSpec
from exportc.cache import compiled
from exportc.diagnostics import Diagnostic, Severity, Span
from exportc.runtime.api import RecordError, Table
from exportc.runtime.blocks import BlockSet
from exportc.runtime.context import ChangeTracker, RunContext, RunOptions, UsageError, code_filename, origin
from exportc.runtime.faults import crashpoint
from exportc.runtime.guard import check_deletions
from exportc.runtime.report import Report, problem, timestamp
from exportc.runtime.runstore import publish
from exportc.runtime.sources import Binding, SourceError, converter
from exportc.runtime.spans import document_line, locate
from exportc.runtime.validate import StreamValidation, open_document, preload, start_validation, validate_file
from exportc.runtime.writeback import Writeback
from exportc.values import format_value, parse_scalar

if TYPE_CHECKING:
    from exportc.runtime.documents import DocumentSink

def start_early(artefact: Artefact, opts: RunOptions) -> None:
    """Begin the run's work that needs no Python and nothing the caller is still preparing,
    so it overlaps the rest of the start-up (imports, opening the history): libxml2 parsing
    the XSD the document is validated against."""
    if opts.validate and not artefact.documents:
        preload(Path(artefact.schema_path))


# ---- params and tables ------------------------------------------------------------------------

def parse_param(text: str, t: TypeSpec) -> object:
    """A param value given as text, parsed by its type (ValueError/TypeError when it is bad)."""
    if t.nullable and text.strip() == "":
        return None
    if t.name == "list":
        conv = converter(t)
        return conv(text)
    return parse_scalar(text, t.name)


def bind_params(artefact: Artefact, given: dict[str, str]) -> dict[str, object]:
    """Params by type: given values parsed, defaults filled, required ones demanded."""
    known = {p.name: p for p in artefact.params}
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            raise UsageError(f"unknown param `{name}`" + (f"; did you mean `{close[0]}`?" if close
                             else f"; params: {', '.join(known) or '(none)'}"))
    values: dict[str, object] = {}
    missing = []
    for p in artefact.params:
        if p.name in given:
            try:
                values[p.name] = parse_param(given[p.name], p.type)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"param `{p.name}` ({p.type}): {exc}") from None
        elif p.has_default:
            d = p.default
            values[p.name] = tuple(d) if isinstance(d, list) else d
        else:
            missing.append(f"{p.name} ({p.type}{': ' + p.description if p.description else ''})")
    if missing:
        raise UsageError("missing required param(s): " + "; ".join(missing)
                         + " — pass --param NAME=VALUE")
    return values


def load_tables(artefact: Artefact) -> dict[str, Table]:
    from exportc.runtime.tables import read_table
    out = {}
    for t in artefact.tables:
        entries = t.entries if t.entries is not None else read_table(t)
        out[t.name] = Table(t.name, entries, t.policy, t.default)
    return out


_CODE_CACHE: dict[str, CodeType] = {}


def load_bind(artefact: Artefact) -> Bind:
    """Compile the generated module (cached per source) and return its ``bind``."""
    key = artefact.python
    code = _CODE_CACHE.get(key)
    if code is None:
        code = _CODE_CACHE[key] = compiled(artefact.python, code_filename(artefact))
    namespace: dict[str, Any] = {"__name__": f"exportc_generated_{artefact.name}"}
    exec(code, namespace)
    bind: Bind = namespace[BIND]
    return bind


# ---- writing ----------------------------------------------------------------------------------

def _root_open(artefact: Artefact) -> str:
    attrs = []
    for prefix, uri in sorted(artefact.namespaces.items()):
        attrs.append(f' xmlns="{uri}"' if prefix == "" else f' xmlns:{prefix}="{uri}"')
    if "" not in artefact.namespaces:
        attrs.append(' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')
        attrs.append(f' xsi:noNamespaceSchemaLocation="{Path(artefact.schema_path).name}"')
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{artefact.root}{"".join(attrs)}>'


class _Output:
    """The XML file being written: temp file, lazily opened containers."""

    def __init__(self, path: Path, artefact: Artefact, validation: StreamValidation | None = None
                 ) -> None:
        self.final = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.validation = validation  # validating the bytes as they are written, or None
        self.fh = open_document(self.tmp, validation)
        self.writeback: Writeback | None = None  # started when the records are written into it
        self.fh.write(_root_open(artefact))
        self.root = artefact.root
        self.open: tuple[str, ...] = ()

    def containers(self, wanted: tuple[str, ...]) -> None:
        common = 0
        while common < min(len(self.open), len(wanted)) and self.open[common] == wanted[common]:
            common += 1
        for depth in range(len(self.open) - 1, common - 1, -1):
            self.fh.write("\n" + "  " * (depth + 1) + f"</{self.open[depth]}>")
        for depth in range(common, len(wanted)):
            self.fh.write("\n" + "  " * (depth + 1) + f"<{wanted[depth]}>")
        self.open = wanted

    def open_containers(self, wanted: tuple[str, ...]) -> IO[str]:
        if self.writeback is None:
            self.writeback = Writeback(self.fh.fileno())
        self.containers(wanted)
        return self.fh

    def written(self) -> None:
        """Nothing more goes into it but its end: its pages need no more flushing meanwhile (a
        --split run writes its documents one after the other; one thread at a time)."""
        if self.writeback is not None:
            self.writeback.stop(check=False)  # a failed flush is raised by `close`

    def close(self) -> None:
        self.containers(())
        self.fh.write(f"\n</{self.root}>\n")
        self.fh.flush()
        if self.writeback is not None:
            self.writeback.stop()
        os.fsync(self.fh.fileno())
        self.fh.close()

    def discard(self) -> None:
        """Close and remove the temporary file (the run failed, or it is split into others);
        whether its pages reached the disk is moot, and so is a failure to flush them (a full
        disk): the other documents are discarded all the same."""
        if not self.fh.closed:
            if self.writeback is not None:
                self.writeback.stop(check=False)
            with contextlib.suppress(OSError):
                self.fh.close()
        if self.validation is not None:
            self.validation.result(self.tmp)  # its end of the pipe is closed: it ends at once
        self.tmp.unlink(missing_ok=True)


# ---- the run ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recording:
    """How a run of the history (``production``) records itself; a plain run has none.

    ``execute`` calls them in this order: ``temp_files`` once the run's temporary files exist
    (from then on a crash is cleaned up by recovery), ``commit`` with the finished report and
    the files to deliver (none when the run failed or had nothing to deliver: the commit point
    of a production run, the run and its deliveries in one transaction), and ``moved`` once the
    files are in place (nothing left for recovery to do)."""

    temp_files: Callable[[list[tuple[str, str]]], None]
    commit: Callable[[Report, list[str]], None]
    moved: Callable[[], None]


@dataclass
class _Bound:
    """What the prepare phase hands on: the generated functions bound to this run's params,
    tables and context, and the source bindings."""

    fns: Bound
    bindings: dict[str, Binding]
    ctx: RunContext


def execute(artefact: Artefact, opts: RunOptions, tracker: ChangeTracker | None = None,
            output_name: str | None = None, recording: Recording | None = None,
            run_id: int | None = None, notes: Sequence[Diagnostic] = ()) -> Report:
    """Run the profile; write the XML and report.json into ``opts.out_dir``; return the report.

    The phases, in order: prepare (params, sources, tables, bind the generated code), emit
    (read every source, feed the blocks, join their spools into the document), validate,
    deliver (commit a production run, then move the files into place) and report."""
    started = time.perf_counter()
    tracker = tracker or ChangeTracker()
    report = _new_report(artefact, opts, run_id)
    report.problems.extend(notes)  # (before the run: its files and the history record them)
    bound = _prepare(artefact, opts, tracker, report)
    report.timings["prepare"] = round(time.perf_counter() - started, 4)
    crashpoint("after-bind")
    out_dir = _out_dir(opts)
    if artefact.documents:  # one document per record, each in its own file
        _documents(artefact, opts, out_dir, bound, tracker, recording)
        report.timings["total"] = round(time.perf_counter() - started, 4)
        write_report(report, out_dir)
        return report
    out_path = out_dir / (output_name or f"{artefact.name}.xml")
    # Validated while it is written (on another thread), unless --split must count first.
    validation = start_validation(Path(artefact.schema_path)) if opts.validate and not opts.split else None
    outputs = [_Output(out_path, artefact, validation)]
    try:
        # Written once: straight into the document, unless --split must count the records first.
        blocks = BlockSet(artefact, bound.fns, bound.bindings, opts, tracker, bound.ctx,
                          out_path.with_name(f".{out_path.name}.{os.getpid()}.parts"),
                          document=None if opts.split else outputs[0].open_containers)

        def register() -> None:
            if recording:  # from here on, recovery can clean up after a crash
                recording.temp_files([*((str(o.tmp), str(o.final)) for o in outputs),
                                      (str(blocks.spool_dir), "")])
        register()
    except BaseException:  # (the history refused the run): no temporary file left behind
        outputs[0].discard()
        raise
    ok = _write(artefact, bound.fns, blocks, outputs, report, opts, register)
    crashpoint("after-close")
    _conclude(artefact, report, ok)
    report.timings["total"] = round(time.perf_counter() - started, 4)
    _deliver(report, opts, outputs, recording, ok)
    write_report(report, out_dir)
    crashpoint("after-report")
    return report


def _new_report(artefact: Artefact, opts: RunOptions, run_id: int | None) -> Report:
    """The run's report as it starts: what was asked (window, description, who, booking date)."""
    return Report(artefact.name, opts.mode, run_id=run_id, started=timestamp(),
                  window={"from": opts.date_from.isoformat() if opts.date_from else None,
                          "to": opts.date_to.isoformat() if opts.date_to else None},
                  description=opts.description, started_by=opts.started_by,
                  booking_date=opts.booking_date.isoformat() if opts.booking_date else None)


def _prepare(artefact: Artefact, opts: RunOptions, tracker: ChangeTracker, report: Report) -> _Bound:
    """Params parsed, sources bound, tables read and the generated code bound to them: what a
    user can get wrong in the command, checked before any record is read (a UsageError)."""
    if opts.zip and not artefact.documents:
        raise UsageError(f"--zip collects the documents of a profile that writes one per record; "
                         f"{artefact.name} writes one file")
    params = bind_params(artefact, opts.params)
    report.params = {k: format_value(v) if not isinstance(v, tuple) else [format_value(x) for x in v]
                     for k, v in params.items()}
    bindings = _bindings(artefact, opts)
    try:
        tables = load_tables(artefact)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    run_values = RunValues(opts.date_from, opts.date_to, opts.booking_date, opts.description,
                           opts.mode, dt.datetime.now().replace(microsecond=0), artefact.name)
    ctx = RunContext(report)
    fns = load_bind(artefact)(params, tables, run_values, ctx.warn)
    bind = getattr(tracker, "bind_wheres", None)
    if bind is not None:
        bind(fns)
    return _Bound(fns, bindings, ctx)


def _bindings(artefact: Artefact, opts: RunOptions) -> dict[str, Binding]:
    """``--source NAME=…`` per source: every name one of the profile's, every block's bound."""
    bindings = {name: Binding(name, loc, opts.queries.get(name)) for name, loc in opts.sources.items()}
    for name in bindings:
        if name not in _all_sources(artefact):
            raise UsageError(f"the profile has no source `{name}`; sources: "
                             + ", ".join(_all_sources(artefact)))
    for b in artefact.blocks:
        if b.source and b.source not in bindings:
            raise UsageError(f"source `{b.source}` is not bound; pass --source {b.source}=FILE")
    return bindings


def _out_dir(opts: RunOptions) -> Path:
    """The output folder, made if need be and absolute (the history keeps absolute paths)."""
    if opts.out_dir is None:
        raise UsageError("no output folder")
    out_dir = opts.out_dir.resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {out_dir} as output folder: {exc.strerror}") from None
    return out_dir


def _conclude(artefact: Artefact, report: Report, ok: bool) -> None:
    """The report once emitting and validating are over: each problem located (columns, line), the
    status, the finishing time."""
    locate(report.problems)
    report.status = "succeeded" if ok else "failed"
    report.finished = timestamp()


def _deliver(report: Report, opts: RunOptions, outputs: list[_Output], recording: Recording | None,
             ok: bool) -> None:
    """Commit (a production run's commit point) and move the documents into place; or, for a
    run that failed or has nothing to deliver, record that and remove the temporary files."""
    if not ok or report.nothing_to_deliver:
        for o in outputs:
            o.discard()
        if recording:
            recording.commit(report, [])
            recording.moved()  # nothing left to move into place
        return
    report.files = [str(o.final) for o in outputs]
    try:
        if recording:
            _phase(opts, "recording")
            recording.commit(report, report.files)  # the commit point of a production run
    except BaseException:
        for o in outputs:
            o.discard()
        raise
    for o in outputs:
        if recording:
            publish(o.tmp, o.final)  # a run of the history: never over an existing file
        else:
            os.replace(o.tmp, o.final)
    _fsync_dir(outputs[0].final.parent)
    crashpoint("after-rename")
    if recording:
        recording.moved()
        crashpoint("after-moved")


def _split(artefact: Artefact, blocks: BlockSet, outputs: list[_Output], per_file: int,
           register: Callable[[], None]) -> None:
    """Join into several documents of at most ``per_file`` records: ``name-1.xml``, … (each a
    whole document with the root and the containers it needs), in place of the one."""
    total = sum(len(br.sizes) for br in blocks.runs)  # counts are per block name, shared
    parts = -(-total // per_file)
    first = outputs[0].final
    outputs[0].discard()
    outputs[:] = [_Output(first.with_name(f"{first.stem}-{n + 1:0{len(str(parts))}d}{first.suffix}"),
                          artefact) for n in range(parts)]
    register()

    def part(n: int) -> Callable[[tuple[str, ...]], IO[str]]:
        if n:
            outputs[n - 1].written()
        return outputs[n].open_containers
    blocks.join_split(part, per_file)


def _validate(artefact: Artefact, blocks: BlockSet, outputs: list[_Output], report: Report,
              per_file: int | None) -> bool:
    """Validate every document; the first invalid one fails the run, naming the line of the
    document and its record (in a split run, counted on from the documents before it)."""
    for n, o in enumerate(outputs):
        if o.validation is not None:
            report.validation = o.validation.result(o.tmp)
        else:
            report.validation = validate_file(o.tmp, Path(artefact.schema_path))
        if not report.validation["valid"]:
            line = report.validation.get("line") or 0
            at = blocks.record_at(o.tmp, line, n * (per_file or 0))
            name = f" ({o.final.name})" if len(outputs) > 1 else ""
            text = document_line(o.tmp, line) if line else None
            span = None
            if line:  # under the element, not its indentation
                indent = len(text) - len(text.lstrip()) if text else 0
                span = Span.point(str(o.final), line, indent + 1, max(len(text or "") - indent, 1))
            report.problems.append(Diagnostic(
                Severity.ERROR, "E0610", "the output does not validate against "
                f"{Path(artefact.schema_path).name}{name}: {report.validation['error']}", span,
                block=at[0] if at else None, record=at[1] if at else None,
                document=o.final.name, line_text=text))
            return False
    return True


def _write(artefact: Artefact, fns: Bound, blocks: BlockSet,
           outputs: list[_Output], report: Report, opts: RunOptions,
           register: Callable[[], None]) -> bool:
    """Feed the blocks, join their spools into the temporary file (or files, with
    ``opts.split``) and validate; whether the run may deliver. A run in which no block wrote
    anything writes no document at all."""
    ok = True
    try:
        if fns.global_checks is not None:
            ok = _call_global(artefact, fns.global_checks, report)
        t0 = time.perf_counter()
        if ok:
            _phase(opts, "reading")
            ok = blocks.run() and check_deletions(report, opts)
            crashpoint("after-blocks")
            report.nothing_to_deliver = ok and not any(c.written for c in report.blocks.values())
            if not report.nothing_to_deliver:
                _phase(opts, "writing")
                if opts.split and sum(len(br.sizes) for br in blocks.runs) > opts.split:
                    _split(artefact, blocks, outputs, opts.split, register)
                else:
                    blocks.join_into(outputs[0].open_containers)
        blocks.discard()
        for o in outputs:
            o.close()
        report.timings["emit"] = round(time.perf_counter() - t0, 4)
        crashpoint("before-validate")
        if ok and opts.validate and not report.nothing_to_deliver:
            t1 = time.perf_counter()
            _phase(opts, "validating")
            ok = _validate(artefact, blocks, outputs, report, opts.split)
            report.timings["validate"] = round(time.perf_counter() - t1, 4)
    except BaseException:
        blocks.discard()
        for o in outputs:
            o.discard()
        raise
    finally:
        blocks.forget_keys()  # kept past `discard` for `_validate`'s `record_at`
    return ok


def _phase(opts: RunOptions, name: str) -> None:
    """Tell whoever follows the run (the console's progress page) which phase it is in."""
    if opts.phase is not None:
        opts.phase(name)


def _documents(artefact: Artefact, opts: RunOptions, out_dir: Path, bound: _Bound,
               tracker: ChangeTracker, recording: Recording | None) -> None:
    """A document-per-record run: each record's documents checked when rendered, staged when
    the record went through whole, and moved into the output folder once the run succeeded
    (and, for a production run, was recorded)."""
    # here, not at the top: a run of one document never loads lxml's in-memory validation,
    # Schematron's worker pool or zipfile
    from exportc.runtime.bundle import zip_name
    from exportc.runtime.documents import DocumentSink
    from exportc.runtime.schematron import SchematronUnavailable

    report = bound.ctx.report
    try:
        sink = DocumentSink(artefact, out_dir, opts.validate,
                            zip_name(artefact.name, report.run_id) if opts.zip else None)
    except SchematronUnavailable as exc:
        raise UsageError(str(exc)) from None
    blocks = BlockSet(artefact, bound.fns, bound.bindings, opts, tracker, bound.ctx,
                      out_dir / f".blocks.{os.getpid()}.parts", sink)
    if recording:  # from here on, recovery can clean up after a crash
        recording.temp_files([*sink.temp_paths(), (str(blocks.spool_dir), "")])
    ok = _emit_documents(artefact, opts, blocks, sink, report)
    _conclude(artefact, report, ok)
    if not ok or not sink.names:
        sink.discard()
        if recording:
            recording.commit(report, [])
            recording.moved()  # nothing left to move into place
        return
    try:
        report.files = sink.seal()
        report.zip = str(out_dir / sink.zip_name) if sink.zipped and sink.zip_name else None
        if recording:
            recording.temp_files(sink.staged_pairs())  # recovery moves them into place once recorded
            _phase(opts, "recording")
            recording.commit(report, report.files)  # the commit point of a production run
    except BaseException:
        sink.discard()
        raise
    sink.commit(publish if recording else os.replace)  # a run of the history: never over a file
    _fsync_dir(out_dir)
    if recording:
        recording.moved()


def _emit_documents(artefact: Artefact, opts: RunOptions, blocks: BlockSet, sink: DocumentSink,
                    report: Report) -> bool:
    """The emit phase of a document-per-record run: reading, writing and checking go record by
    record; whether the run may deliver."""
    try:
        checks = blocks.fns.global_checks
        ok = _call_global(artefact, checks, report) if checks else True
        t0 = time.perf_counter()
        if ok:
            _phase(opts, "reading")
            ok = blocks.run()
        blocks.discard()
        report.timings["emit"] = round(time.perf_counter() - t0, 4)
        report.nothing_to_deliver = ok and not sink.names
        if opts.validate:
            report.validation = _documents_validation(artefact, report, len(sink.names))
    except BaseException:
        blocks.discard()
        sink.discard()
        raise
    finally:
        blocks.forget_keys()
    return ok


# What makes a document-per-record run's documents invalid: the XSD or a fatal business rule.
# A failed check or an unknown table key fails its record too, but says nothing of validity.
_INVALID = frozenset({"E0610", "E0651"})


def _documents_validation(artefact: Artefact, report: Report, documents: int) -> dict[str, Any]:
    """The validation summary of a document-per-record run: which schemas and business rules
    every document was checked against, and whether any document failed them."""
    kinds = artefact.documents.values()
    schema = ", ".join(dict.fromkeys(Path(d.schema_path).name for d in kinds))
    rules = list(dict.fromkeys(Path(x).name for d in kinds for x in d.schematron))
    if rules:
        schema += " and the business rules of " + ", ".join(rules)
    invalid = sum(1 for p in report.problems if p.code in _INVALID)
    return {"valid": invalid == 0, "documents": documents, "schema": schema,
            "error": f"{invalid} document problem(s), listed below" if invalid else None}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_report(report: Report, out_dir: Path) -> None:
    """report.json (and report.txt), written atomically."""
    for name, text in (("report.json", report.to_json()), ("report.txt", report.summary() + "\n")):
        tmp = out_dir / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, "utf-8")
        os.replace(tmp, out_dir / name)


def _all_sources(artefact: Artefact) -> list[str]:
    names = list(artefact.sources)

    def walk(shape: Any) -> None:
        for sub in shape.lists.values():
            if sub.join_source:
                names.append(sub.join_source)
            walk(sub)
    for s in artefact.sources.values():
        walk(s)
    return names


def _call_global(artefact: Artefact, fn: Callable[[], None], report: Report) -> bool:
    try:
        fn()
        return True
    except RecordError as exc:
        where = origin(artefact, exc.__traceback__)
        report.problems.append(problem("error", exc.code, exc.message, at=where))
        return False




__all__ = ["ChangeTracker", "Recording", "RunOptions", "UsageError", "bind_params", "execute", "load_bind",
           "load_tables", "parse_param", "start_early"]
