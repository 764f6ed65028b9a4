"""Run a compiled profile: read sources, emit records, validate, write files and a report.

The XML is written to a temporary file beside its destination and moved into place only when
the whole run succeeded (and validated): a failed run never leaves a half-written file. Each
top-level record is rendered into its own buffer first, so a record that fails half-way (an
unknown table key, a failed check, a value a facet rejects) is left out whole.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

from exportc.artefact import Artefact, BlockSpec, TypeSpec
from exportc.runtime.api import RecordError, Table
from exportc.runtime.faults import crashpoint
from exportc.runtime.records import Record, RecordReader
from exportc.runtime.report import BlockCounts, Problem, Report
from exportc.runtime.sources import Binding, SourceError, converter, record_key
from exportc.runtime.validate import validate_file
from exportc.values import format_value, parse_scalar


class UsageError(Exception):
    """A bad parameter, a missing source binding: the user must change the command."""


@dataclass
class RunOptions:
    sources: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    booking_date: dt.date | None = None
    description: str | None = None
    out_dir: Path = Path("out")
    validate: bool = True
    skip_invalid: bool = False
    mode: str = "test"
    progress: Callable[[str, int], None] | None = None


# Hook for production runs: given a block and a record, say how it changed and what was
# delivered before; record what is delivered. Test runs without history use ``NoHistory``.
class ChangeTracker:
    def seen_key(self, block: BlockSpec, key: str) -> None:
        """Every key present in the source, selected or not (for deletion detection)."""

    def classify(self, block: BlockSpec, key: str, record: dict[str, Any]
                 ) -> tuple[str, dict[str, Any] | None]:
        return "new", None

    def delivered(self, block: BlockSpec, key: str, record: dict[str, Any], change: str,
                  xml: str) -> None:
        """Called for each record written."""

    def deleted(self, block: BlockSpec) -> Iterator[tuple[str, dict[str, Any]]]:
        """Records delivered before that are gone now (key, previous values)."""
        return iter(())


# ---- params and tables ------------------------------------------------------------------------

def _parse_param(text: str, t: TypeSpec) -> object:
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
                values[p.name] = _parse_param(given[p.name], p.type)
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


def code_filename(artefact: Artefact) -> str:
    return f"<exportc {artefact.name}>"


def load_bind(artefact: Artefact) -> Callable[..., dict[str, Callable[..., Any]]]:
    """Compile the generated module (cached per source) and return its ``bind``."""
    key = artefact.python
    code = _CODE_CACHE.get(key)
    if code is None:
        code = _CODE_CACHE[key] = compile(artefact.python, code_filename(artefact), "exec")
    namespace: dict[str, Any] = {"__name__": f"exportc_generated_{artefact.name}"}
    exec(code, namespace)
    return namespace["bind"]  # type: ignore[no-any-return]


def _origin(artefact: Artefact, tb: Any) -> tuple[str, int] | None:
    """The profile line of the innermost generated-code frame in a traceback."""
    found = None
    name = code_filename(artefact)
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == name:
            found = artefact.source_line(lineno)
    return found


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

    def __init__(self, path: Path, artefact: Artefact) -> None:
        self.final = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
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

    def close(self) -> None:
        self.containers(())
        self.fh.write(f"\n</{self.root}>\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()

    def discard(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)


# ---- the run ----------------------------------------------------------------------------------

@dataclass
class _Ctx:
    report: Report
    block: str = ""
    key: str | None = None
    bad_rows: set[tuple[str, int]] = field(default_factory=set)

    def warn(self, message: str, file: str, line: int) -> None:
        self.report.problems.append(Problem("warning", "W0601", message, self.block, self.key,
                                            file, line))


def _in_window(shape_window: str | None, record: dict[str, Any], opts: RunOptions) -> bool:
    if shape_window is None or (opts.date_from is None and opts.date_to is None):
        return True
    v = record.get(shape_window)
    if v is None:
        return False
    if isinstance(v, dt.datetime):
        v = v.date()
    return not ((opts.date_from and v < opts.date_from) or (opts.date_to and v > opts.date_to))


Hooks = tuple[Callable[[list[tuple[str, str]]], None], Callable[[Report, list[str]], None],
              Callable[[], None]]


def execute(artefact: Artefact, opts: RunOptions, tracker: ChangeTracker | None = None,
            output_name: str | None = None, hooks: Hooks | None = None,
            run_id: int | None = None) -> Report:
    """Run the profile; write the XML and report.json into ``opts.out_dir``; return the report."""
    started = time.perf_counter()
    tracker = tracker or ChangeTracker()
    report = Report(artefact.name, opts.mode, run_id=run_id,
                    started=dt.datetime.now().isoformat(timespec="seconds"),
                    window={"from": opts.date_from.isoformat() if opts.date_from else None,
                            "to": opts.date_to.isoformat() if opts.date_to else None})
    params = bind_params(artefact, opts.params)
    report.params = {k: format_value(v) if not isinstance(v, tuple) else [format_value(x) for x in v]
                     for k, v in params.items()}
    bindings = {name: Binding(name, loc, opts.queries.get(name)) for name, loc in opts.sources.items()}
    for name in bindings:
        if not _known_source(artefact, name):
            raise UsageError(f"the profile has no source `{name}`; sources: "
                             + ", ".join(_all_sources(artefact)))
    for b in artefact.blocks:
        if b.source and b.source not in bindings:
            raise UsageError(f"source `{b.source}` is not bound; pass --source {b.source}=FILE")
    try:
        tables = load_tables(artefact)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    run_ctx = {"from": opts.date_from, "to": opts.date_to, "booking_date": opts.booking_date,
               "description": opts.description, "mode": opts.mode,
               "started": dt.datetime.now().replace(microsecond=0), "profile": artefact.name}
    ctx = _Ctx(report)
    fns = load_bind(artefact)(params, tables, run_ctx, ctx.warn)
    bind = getattr(tracker, "bind_wheres", None)
    if bind is not None:
        bind(fns)
    report.timings["prepare"] = round(time.perf_counter() - started, 4)
    try:
        opts.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {opts.out_dir} as output folder: {exc.strerror}") from None
    out_path = opts.out_dir / (output_name or f"{artefact.name}.xml")
    output = _Output(out_path, artefact)
    if hooks:
        hooks[0]([(str(output.tmp), str(out_path))])  # recovery can clean up after a crash now
    ok = True
    try:
        if "global_checks" in fns:
            ok = _call_global(artefact, fns["global_checks"], report)
        t0 = time.perf_counter()
        if ok:
            for block in artefact.blocks:
                ok &= _run_block(artefact, block, fns, bindings, opts, tracker, output, ctx)
        output.close()
        report.timings["emit"] = round(time.perf_counter() - t0, 4)
        if ok and opts.validate:
            t1 = time.perf_counter()
            report.validation = validate_file(output.tmp, Path(artefact.schema_path))
            report.timings["validate"] = round(time.perf_counter() - t1, 4)
            if not report.validation["valid"]:
                ok = False
                report.problems.append(Problem("error", "E0610", "the output does not validate "
                                               f"against {Path(artefact.schema_path).name}: "
                                               f"{report.validation['error']}"))
    except BaseException:
        output.discard()
        raise
    crashpoint("after-close")
    report.timings["total"] = round(time.perf_counter() - started, 4)
    if ok:
        report.status = "succeeded"
        report.files = [str(out_path)]
        report.finished = dt.datetime.now().isoformat(timespec="seconds")
        try:
            if hooks:
                hooks[1](report, report.files)  # the commit point of a production run
        except BaseException:
            output.discard()
            raise
        os.replace(output.tmp, out_path)
        _fsync_dir(out_path.parent)
        crashpoint("after-rename")
        if hooks:
            hooks[2]()
    else:
        output.discard()
        report.status = "failed"
        report.finished = dt.datetime.now().isoformat(timespec="seconds")
        if hooks:
            hooks[1](report, [])
    write_report(report, opts.out_dir)
    return report


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


def _known_source(artefact: Artefact, name: str) -> bool:
    return name in _all_sources(artefact)


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
        origin = _origin(artefact, exc.__traceback__)
        report.problems.append(Problem("error", exc.code, exc.message, None, None,
                                       origin[0] if origin else None, origin[1] if origin else None))
        return False


def _block_name(block: BlockSpec) -> str:
    return "/".join([*block.containers, block.element])


def _run_block(artefact: Artefact, block: BlockSpec, fns: dict[str, Callable[..., Any]],
               bindings: dict[str, Binding], opts: RunOptions, tracker: ChangeTracker,
               output: _Output, ctx: _Ctx) -> bool:
    name = _block_name(block)
    counts = ctx.report.blocks.setdefault(name, BlockCounts())
    ctx.block, ctx.key = name, None
    emit = fns[f"block_{block.index}"]
    where = fns.get(f"where_{block.index}")
    report = ctx.report
    if block.source is None:
        return _emit_one(artefact, block, emit, None, None, "new", None, output, ctx, counts,
                         opts, tracker)
    shape = artefact.sources[block.source]
    flags = _set_checks(artefact, block, fns, bindings, opts) if block.set_checks else {}
    ok = True
    try:
        reader = RecordReader(block.source, shape, bindings, artefact.sources)
        for n, rec in enumerate(_records(reader), start=1):
            if opts.progress and n % 5000 == 0:
                opts.progress(name, n)
            if rec.value is None:
                if (rec.file, rec.number) in ctx.bad_rows:
                    continue  # reported by an earlier block reading the same source
                ctx.bad_rows.add((rec.file, rec.number))
                counts.records += 1
                err = rec.error
                assert err is not None
                report.problems.append(Problem(
                    "error", err.code, f"field `{err.field}` {err.message}" if err.field else err.message,
                    name, None, None, None, f"{err.file}, row {rec.number if err.row is None else err.row}"))
                ok &= _failed(counts, opts)
                continue
            record = rec.value
            key = record_key(shape, record)
            tracker.seen_key(block, key)
            if not _in_window(shape.window, record, opts):
                continue
            ctx.key = key
            change, previous = tracker.classify(block, key, record)
            try:
                if where is not None and not where(record, change, previous):
                    continue
            except RecordError as exc:
                counts.records += 1
                _record_problem(artefact, exc, ctx, f"{rec.file}, row {rec.number}")
                ok &= _failed(counts, opts)
                continue
            counts.records += 1
            if change == "unchanged" and artefact.history == "mutations":
                counts.by_change["unchanged"] = counts.by_change.get("unchanged", 0) + 1
                continue  # delivered before, as it is now
            if block.uses_previous and previous is None:
                continue  # a correction block: only for records delivered before
            flagged = flags.get(key, [])
            errors = [f for f in flagged if f.severity == "error"]
            for f in flagged:
                report.problems.append(Problem(f.severity, f.code, f.message, name, key, f.file,
                                               f.line))
            if errors:
                ok &= _failed(counts, opts)
                continue
            ok &= _emit_one(artefact, block, emit, record, key, change, previous, output, ctx,
                            counts, opts, tracker, f"{rec.file}, row {rec.number}")
        for key, previous in tracker.deleted(block):
            if not (block.uses_change or block.uses_previous):
                continue  # recorded as deleted; this block writes nothing for it
            ctx.key = key
            try:
                if where is not None and not where(previous, "deleted", previous):
                    continue
            except RecordError as exc:
                _record_problem(artefact, exc, ctx, "history")
                ok &= _failed(counts, opts)
                continue
            counts.records += 1
            ok &= _emit_one(artefact, block, emit, previous, key, "deleted", previous, output,
                            ctx, counts, opts, tracker)
    except SourceError as exc:
        report.problems.append(Problem("error", exc.code, exc.message, name, None, None, None,
                                       exc.file + (f", row {exc.row}" if exc.row else "")))
        return False
    return ok


def _records(reader: RecordReader) -> Iterator[Record]:
    yield from reader


def _failed(counts: BlockCounts, opts: RunOptions) -> bool:
    if opts.skip_invalid:
        counts.skipped += 1
        return True
    counts.failed += 1
    return False


def _record_problem(artefact: Artefact, exc: RecordError, ctx: _Ctx, source: str | None) -> None:
    origin = _origin(artefact, exc.__traceback__)
    ctx.report.problems.append(Problem(
        "error", exc.code, exc.message, ctx.block, ctx.key,
        origin[0] if origin else None, origin[1] if origin else None, source))


def _emit_one(artefact: Artefact, block: BlockSpec, emit: Callable[..., None],
              record: dict[str, Any] | None, key: str | None, change: str,
              previous: dict[str, Any] | None, output: _Output, ctx: _Ctx, counts: BlockCounts,
              opts: RunOptions, tracker: ChangeTracker, source: str | None = None) -> bool:
    buf: list[str] = []
    try:
        emit(record, change, previous, buf.append)
    except RecordError as exc:
        _record_problem(artefact, exc, ctx, source)
        return _failed(counts, opts)
    except Exception as exc:
        # a bug in exportc, not the user's data: say so, with the profile line
        origin = _origin(artefact, exc.__traceback__)
        ctx.report.problems.append(Problem(
            "error", "E0699", f"internal error while writing this record ({type(exc).__name__}: "
            f"{exc}); please report it", ctx.block, key, origin[0] if origin else None,
            origin[1] if origin else None, source))
        if not any(p.code == "E0699" for p in ctx.report.problems[:-1]):
            print(traceback.format_exc(), file=sys.stderr)  # once per run, for the bug report
        return _failed(counts, opts)
    if not buf:
        return True
    output.containers(block.containers)
    xml = "".join(buf)
    output.fh.write(xml)
    counts.written += 1
    if counts.written == 2:
        crashpoint("mid-emit")
    counts.by_change[change] = counts.by_change.get(change, 0) + 1
    if record is not None and key is not None:
        tracker.delivered(block, key, record, change, xml)
    return True


@dataclass
class _Flag:
    severity: str
    code: str
    message: str
    file: str
    line: int


def _set_checks(artefact: Artefact, block: BlockSpec, fns: dict[str, Callable[..., Any]],
                bindings: dict[str, Binding], opts: RunOptions) -> dict[str, list[_Flag]]:
    """A pre-pass over the block's records for set-level checks; flags per record key."""
    assert block.source is not None
    shape = artefact.sources[block.source]
    where = fns.get(f"where_{block.index}")
    rows: list[list[tuple[str, tuple[Any, ...], tuple[Any, ...]]]] = [[] for _ in block.set_checks]
    for rec in RecordReader(block.source, shape, bindings, artefact.sources):
        if rec.value is None or not _in_window(shape.window, rec.value, opts):
            continue
        try:
            if where is not None and not where(rec.value):
                continue
            key = record_key(shape, rec.value)
            for n in range(len(block.set_checks)):
                per, values = fns[f"set_{block.index}_{n}"](rec.value)
                rows[n].append((key, per, values))
        except RecordError:
            continue  # reported when the record itself is emitted
    flags: dict[str, list[_Flag]] = {}
    for spec, entries in zip(block.set_checks, rows, strict=True):
        groups: dict[tuple[Any, ...], list[tuple[str, tuple[Any, ...]]]] = {}
        for key, per, values in entries:
            group = per + (values if spec.fn == "unique" else ())
            groups.setdefault(group, []).append((key, values))
        for members in groups.values():
            clashes: list[tuple[str, str]] = []
            if spec.fn == "unique" and len(members) > 1:
                keys = [k for k, _ in members]
                clashes = [(k, ", ".join(o for o in keys if o != k)) for k in keys]
            elif spec.fn == "no_overlap":
                ordered = sorted((v for v in members if None not in v[1]), key=lambda m: m[1][0])
                for i, (k, (_start, end)) in enumerate(ordered):
                    for k2, (s2, _e2) in ordered[i + 1:]:
                        if s2 >= end:
                            break
                        clashes += [(k, k2), (k2, k)]
            for k, other in clashes:
                flags.setdefault(k, []).append(_Flag(spec.severity, "E0608" if spec.severity ==
                                                     "error" else "W0608",
                                                     f"{spec.message} (with {other})", spec.file,
                                                     spec.line))
    return flags
