"""The ``exportc`` command line: parse options, call one function, render its result.

Exit codes: 0 clean, 1 problems found (or a run failed), 2 usage or I/O error.
"""

# No ``from __future__ import annotations`` here: typer reads every command's annotations when it
# builds the command line, and string annotations are eval'd (and their Annotated[...] rebuilt)
# on each read; real ones are built once, at import (~15 ms of every command's start).
import atexit
import datetime as dt
import gc
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from exportc import codes

if TYPE_CHECKING:
    from exportc.compiler.result import CompileResult
    from exportc.runtime.history import HistoryStore, RunRow

from exportc.clihelp import PlainHelpGroup, ProfileHelpCommand
from exportc.diagnostics import (
    Diagnostic,
    render_all_text,
    render_github,
    render_json,
)

app = typer.Typer(cls=PlainHelpGroup, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Compile and run declarative XML export profiles.")


class Format(StrEnum):
    """Output of `check`: diagnostics as text, JSON or GitHub annotations."""

    text = "text"
    json = "json"
    github = "github"


class ListFormat(StrEnum):
    """Output of the overview commands: readable text or JSON."""

    text = "text"
    json = "json"


PROFILE = "PROFILE"
RUN = "RUN"
DB_HELP = "History: SQLite file or database URL"


_T = TypeVar("_T")

def _colour() -> bool:
    return sys.stdout.isatty()


def _emit(diagnostics: list[Diagnostic], sources: dict[str, str], fmt: Format) -> None:
    if fmt is Format.json:
        typer.echo(render_json(diagnostics))
    elif fmt is Format.github:
        for d in diagnostics:
            typer.echo(render_github(d))
    elif diagnostics:
        typer.echo(render_all_text(diagnostics, sources, _colour()))


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def collect_profiles(paths: list[Path]) -> list[Path]:
    """Files as given, folders searched recursively for ``*.map``; a missing path is an error."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(path.rglob("*.map")))
        elif path.is_file():
            out.append(path)
        else:
            raise _usage_error(f"no such file or folder: {path}")
    return out


@app.command()
def check(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH",
                                                help="Profiles, or folders searched for *.map")],
    format: Annotated[Format, typer.Option("--format", help="How to show the diagnostics")] = Format.text,
) -> None:
    """Compile profiles and report every diagnostic (exit 1 when there are errors)."""
    from exportc.compiler.cached import check_files

    files = collect_profiles(paths)
    if not files:
        raise _usage_error("no .map files found")
    result = check_files(files)
    _emit(result.diagnostics, result.sources, format)
    if format is Format.text and not result.diagnostics:
        typer.echo(f"checked {len(files)} profile(s): no problems")
    raise typer.Exit(1 if any(d.is_error for d in result.diagnostics) else 0)


@app.command()
def fmt(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH",
                                                help="Profiles, or folders searched for *.map")],
    check: Annotated[bool, typer.Option("--check", help="Only report files that would change")] = False,
) -> None:
    """Lay profiles out canonically (comments kept); with --check, change nothing."""
    from exportc.dsl.formatter import format_module
    from exportc.dsl.parser import parse_file

    changed, failed = [], False
    for file in collect_profiles(paths):
        result = parse_file(str(file))
        if not result.ok or result.module is None:
            _emit(result.diagnostics, {str(file): result.source}, Format.text)
            failed = True
            continue
        new = format_module(result.module)
        if new != result.source:
            changed.append(file)
            if not check:
                file.write_text(new, "utf-8")
    for file in changed:
        typer.echo(f"{'would reformat' if check else 'reformatted'} {file}")
    if failed:
        raise typer.Exit(2)
    raise typer.Exit(1 if check and changed else 0)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        name, sep, value = v.partition("=")
        if not sep or not name.strip():
            raise _usage_error(f"{option} expects NAME=VALUE, got `{v}`")
        out[name.strip()] = value
    return out


def _parsed(value: str | None, option: str, parse: Callable[[str], _T], form: str) -> _T | None:
    """An optional option value through ``parse``; a bad one is a usage error saying the form."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError:
        raise _usage_error(f"{option} expects {form}, got `{value}`") from None


def _date(value: str | None, option: str) -> dt.date | None:
    return _parsed(value, option, dt.date.fromisoformat, "a date YYYY-MM-DD")


def _compiled(profile: str, cached: bool = False) -> tuple[Path, "CompileResult"]:
    """Compile a profile named by path or name; diagnostics end the command (exit 1). With
    ``cached``, from the compile cache when it can answer (an artefact, no AST or IR)."""
    from exportc.compiler.cached import compile_cached
    from exportc.orchestrate import resolve_profile
    from exportc.runtime.execute import UsageError

    try:
        path = resolve_profile(profile)
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    if cached:
        result = compile_cached(path)
    else:
        from exportc.compiler.pipeline import compile_file
        result = compile_file(path)
    if result.errors() or (result.artefact if cached else result.module) is None:
        _emit(result.diagnostics, result.sources, Format.text)
        raise typer.Exit(1)
    return path, result


class Emit(StrEnum):
    ast = "ast"
    ir = "ir"
    python = "python"
    overrides = "overrides"


@app.command("compile")
def compile_cmd(
    profile: Annotated[str, typer.Argument(metavar=PROFILE, help="A .map file or a profile name")],
    emit: Annotated[Emit, typer.Option("--emit", help="The stage to show")] = Emit.python,
) -> None:
    """Show a stage of the compiler: the AST, the checked IR, or the generated Python."""
    import pprint

    result = _compiled(profile)[1]
    if emit is Emit.ast:
        typer.echo(pprint.pformat(result.module, width=100))
    elif emit is Emit.ir:
        typer.echo(pprint.pformat(result.profile, width=100))
    elif emit is Emit.overrides:
        for o in result.overrides:
            typer.echo(f"{o.target}\n  base:     {o.base}\n  override: {o.override}")
        if not result.overrides:
            typer.echo("no overrides")
    else:
        assert result.artefact is not None
        typer.echo(result.artefact.python, nl=False)


def _moment(value: str | None) -> dt.datetime | None:
    return _parsed(value, "--at", dt.datetime.fromisoformat, "a moment YYYY-MM-DDTHH:MM")


def _progress() -> Callable[[str, int, dict[str, int]], None]:
    """A rich progress line on a terminal (records read, and written per block); plain lines
    otherwise, every 100,000 records."""
    if sys.stderr.isatty():
        from rich.console import Console
        console = Console(stderr=True)
        status = console.status("exporting…")
        status.start()
        atexit.register(status.stop)

        def show(source: str, n: int, written: dict[str, int]) -> None:
            blocks = ", ".join(f"{block} {w:,}" for block, w in written.items())
            status.update(f"{source}: {n:,} records read; written: {blocks}")
        return show

    def plain(source: str, n: int, written: dict[str, int]) -> None:
        if n and n % 100_000 == 0:  # not "0 records" for a source whose every row failed
            typer.echo(f"{source}: {n:,} records", err=True)
    return plain


@app.command(cls=ProfileHelpCommand)
def run(
    profile: Annotated[str, typer.Argument(metavar=PROFILE, help="A .map file or a profile name")],
    source: Annotated[list[str] | None, typer.Option(
        "--source", metavar="NAME=PATH", help="A source's file, or NAME=URL for a database")] = None,
    query: Annotated[list[str] | None, typer.Option(
        "--query", metavar="NAME=SQL", help="The query for a database source")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", metavar="NAME=VALUE", help="A profile param (`exportc run PROFILE --help` lists "
        "them)")] = None,
    date_from: Annotated[str | None, typer.Option("--from", metavar="DATE",
                                                  help="Window start (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Window end, inclusive")] = None,
    booking_date: Annotated[str | None, typer.Option("--booking-date", metavar="DATE",
                                                     help="Booking date")] = None,
    description: Annotated[str | None, typer.Option("--description", metavar="TEXT",
                                                    help="Run description")] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help="Also copy the run's files and report "
                                             "to this folder (the run keeps its own in the run store)")] = None,
    production: Annotated[bool, typer.Option("--production", help="Record what is delivered")] = False,
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
    at: Annotated[str | None, typer.Option("--at", metavar="MOMENT", help="Store the run for this moment "
                                           "(YYYY-MM-DDTHH:MM, local time unless it gives a zone)")] = None,
    lock_timeout: Annotated[float, typer.Option("--lock-timeout", metavar="SECONDS", help="Seconds to wait "
                                                "for another production run of the profile")] = 60.0,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip XSD validation")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Leave failing records out")] = False,
    allow_deletions: Annotated[int | None, typer.Option(
        "--allow-deletions", metavar="N", min=0, help="Let a production run deliver up to N deletions "
        "(more than the profile's max_deletions guard)")] = None,
    whole: Annotated[bool, typer.Option("--all", help="A windowed profile's production run over the whole "
                                        "source, without --from/--to")] = False,
    first_delivery: Annotated[bool, typer.Option("--first-delivery", help="The profile's first production "
                                                 "run in this history: deliver every record")] = False,
    split: Annotated[int | None, typer.Option(
        "--split", metavar="N", min=1, help="At most N records per document: a large export is "
        "written as several whole documents, name-1.xml, name-2.xml, … (import them in order)")] = None,
    zip_: Annotated[bool, typer.Option("--zip", help="Also write a zip of every document of the run, "
                                       "<profile>-run-<id>.zip, beside them")] = False,
) -> None:
    """Run an export: a test run (default) or a --production run; --at schedules it."""
    from exportc.config import ConfigError
    from exportc.orchestrate import os_user, run_profile
    from exportc.runtime.execute import RunOptions, UsageError
    from exportc.runtime.history import HistoryError
    from exportc.runtime.kinds import RunMode

    opts = RunOptions(sources=_pairs(source, "--source"), params=_pairs(param, "--param"),
                      queries=_pairs(query, "--query"), date_from=_date(date_from, "--from"),
                      date_to=_date(date_to, "--to"),
                      booking_date=_date(booking_date, "--booking-date"),
                      description=description, out_dir=out, validate=not no_validate,
                      skip_invalid=skip_invalid, mode=RunMode.PRODUCTION if production else RunMode.TEST,
                      progress=_progress(), allow_deletions=allow_deletions, whole=whole,
                      first_delivery=first_delivery, split=split, zip=zip_)
    if whole and (opts.date_from or opts.date_to):
        raise _usage_error("--all runs over the whole source; leave out --from/--to, or --all")
    if opts.date_from and opts.date_to and opts.date_from > opts.date_to:
        raise _usage_error("--from is after --to")
    try:
        result = run_profile(profile, opts, db=db, at=_moment(at), lock_timeout=lock_timeout,
                             started_by=os_user())
    except (UsageError, HistoryError, ConfigError) as exc:
        raise _usage_error(str(exc)) from None
    except OSError as exc:  # the disk refused (full, an I/O error): the run says so and stops
        typer.echo(f"error: the run stopped: {exc}\n  `exportc runs` shows what the history "
                   "recorded of it", err=True)
        raise typer.Exit(1) from None
    if result.scheduled is not None:
        assert result.store is not None
        due = result.store.get_run(result.scheduled)
        when = _when(due.scheduled_at) if due and due.scheduled_at else at
        typer.echo(f"scheduled run {result.scheduled} at {when}; `exportc worker` runs it when due "
                   f"(`exportc cancel {result.scheduled}` cancels it)\n  history: {result.store.where}")
        raise typer.Exit(0)
    if result.report is None:
        _emit(result.compiled.diagnostics, result.compiled.sources, Format.text)
        raise typer.Exit(1)
    typer.echo(result.report.summary())
    raise typer.Exit(0 if result.report.status == "succeeded" else 1)


def _store(db: str | None, create: bool = False, profile: Path | None = None) -> "HistoryStore":
    """The history a command uses (see ``orchestrate.history_location``); read-only commands
    (the default) never create one."""
    from exportc.orchestrate import open_history
    from exportc.runtime.execute import UsageError
    from exportc.runtime.history import HistoryError
    try:
        return open_history(db, profile, create=create)
    except (HistoryError, UsageError) as exc:
        raise _usage_error(str(exc)) from None


@app.command()
def runs(
    profile: Annotated[str | None, typer.Argument(metavar=PROFILE, help="Only this profile (name)")] = None,
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
    format: Annotated[ListFormat, typer.Option("--format", help="How to show it")] = ListFormat.text,
) -> None:
    """The overview of all runs, test (T) and production (P); errors flagged with !, warnings with *.
    A profile given as a file uses that profile's project's history."""
    from exportc.orchestrate import history_location
    from exportc.project import declared_name
    from exportc.runtime.execute import UsageError
    from exportc.runtime.history import describe_url

    path = Path(profile) if profile and Path(profile).is_file() else None
    name = (declared_name(path) or profile) if path else profile
    try:
        where = describe_url(history_location(db, path))
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    rows = _store(db, profile=path).list_runs(name) if _history_exists(db, path) else []
    if format is ListFormat.json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return
    typer.echo(f"history: {where}")
    if not rows:
        typer.echo("no runs")
        return
    for line in overview_lines(rows):
        typer.echo(line)


def _when(moment: dt.datetime) -> str:
    """A stored moment for people: to the second, with its time zone's name."""
    from exportc.runtime.history import aware
    return aware(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _clip(text: str | None, width: int = 40) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def overview_lines(rows: "list[RunRow]") -> list[str]:
    """The runs overview as aligned text: one line per run under a header."""
    table = [["id", "P/T", "status", "", "profile", "window", "booking", "started", "by",
              "changes", "files", "description"]]
    for r in rows:
        flag = "!" if r.errors or r.status == "failed" else "*" if r.warnings else ""
        window = f"{r.window_from or '…'} – {r.window_to or '…'}" if r.window_from or r.window_to else "all"
        changes = ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items())) or "-"
        table.append([str(r.id), r.mode, r.status, flag, r.profile, window, r.booking_date or "-",
                      _when(r.started or r.scheduled_at or r.created), r.started_by or "-",
                      changes, str(len(r.files)), _clip(r.description)])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    out = []
    for row in table:
        cells = [row[0].rjust(widths[0]), *(c.ljust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        out.append("  ".join(cells).rstrip())
    return out


def _history_exists(db: str | None, profile: Path | None = None) -> bool:
    """Whether the history a read-only command would use exists (it is never created)."""
    from exportc.orchestrate import open_history
    from exportc.runtime.history import NoHistory
    try:
        open_history(db, profile, create=False)
    except NoHistory:
        return False
    except Exception:
        return True  # any other problem is reported by the command itself
    return True


def _run_row(run_id: int, db: str | None) -> "tuple[HistoryStore, RunRow]":
    store = _store(db)
    row = store.get_run(run_id)
    if row is None:
        raise _usage_error(f"no run {run_id}")
    return store, row


@app.command()
def show(
    run_id: Annotated[int, typer.Argument(metavar=RUN, help="Run id (see `exportc runs`)")],
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
    format: Annotated[ListFormat, typer.Option("--format", help="How to show it")] = ListFormat.text,
) -> None:
    """One run's report."""
    from exportc.runtime.report import Report, report_json_of
    store, row = _run_row(run_id, db)
    if format is ListFormat.json:
        typer.echo(json.dumps({**row.to_json(), "report": report_json_of(row.report),
                               "history": store.where}, indent=2, ensure_ascii=False))
        return
    if row.report:
        try:
            report = Report.from_json(row.report)
            report.history = report.history or store.where
            typer.echo(report.summary())
        except (TypeError, KeyError, ValueError):
            typer.echo(row.report)
    else:
        typer.echo(f"run {row.id}: {row.status}"
                   + (f" at {_when(row.scheduled_at)}" if row.scheduled_at else ""))
        for label, value in (("description", row.description), ("booking date", row.booking_date),
                             ("started by" if row.started else "scheduled by", row.started_by)):
            if value:
                typer.echo(f"  {label}: {value}")
        typer.echo(f"  history: {store.where}")


@app.command()
def files(
    run_id: Annotated[int, typer.Argument(metavar=RUN, help="Run id (see `exportc runs`)")],
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
    format: Annotated[ListFormat, typer.Option("--format", help="How to show it")] = ListFormat.text,
    copy_to: Annotated[Path | None, typer.Option("--copy-to", metavar="DIR", help="Copy the run's files into "
                                                 "this folder")] = None,
) -> None:
    """The files a run wrote (its report beside them); --copy-to copies them into a folder."""
    from exportc.runtime.runstore import RunStoreError, copy_files, run_files

    store, row = _run_row(run_id, db)
    store.recover(row.profile)  # a committed run whose files were not moved yet gets them now
    row = store.get_run(run_id) or row
    typer.echo(f"history: {store.where}", err=True)
    waiting = row.status in ("scheduled", "cancelled")  # nothing written yet, so nothing is missing
    if waiting and format is ListFormat.text:
        typer.echo(f"run {row.id} is {row.status}" + (f" for {_when(row.scheduled_at)}" if row.scheduled_at
                                                     else "") + "; it has no files yet")
        return
    listed = [] if waiting else run_files(row.files, row.out_dir)
    pruned = row.mode == "T" and bool(row.out_dir) and not Path(row.out_dir or ".").is_dir()
    if copy_to is not None:
        missing = [str(f) for f in listed if not f.exists()]
        if missing or not listed:
            raise _usage_error(f"run {row.id}'s files are " + ("pruned (test runs beyond the newest "
                               "`keep_test_runs` are removed)" if pruned else
                               "missing: " + ", ".join(missing) if missing else "none"))
        try:
            for f in copy_files(listed, copy_to):
                typer.echo(str(f))
        except RunStoreError as exc:
            raise _usage_error(str(exc)) from None
        return
    if format is ListFormat.json:
        typer.echo(json.dumps({"run": row.id, "history": store.where, "pruned": pruned,
                               "files": [{"path": str(f), "exists": f.exists()} for f in listed]},
                              indent=2))
        return
    for f in listed:
        typer.echo(str(f) + ("" if f.exists() else "  (pruned)" if pruned else "  (missing)"))


@app.command()
def worker(
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then stop")] = False,
    poll: Annotated[float, typer.Option("--poll", metavar="SECONDS",
                                        help="Seconds between looks for due runs")] = 5.0,
) -> None:
    """Run scheduled exports when they are due (cron- or systemd-friendly); exit 1 when a run
    it executed failed."""
    from exportc.orchestrate import work
    failed: list[int] = []

    def report(row: "RunRow", rep: object) -> None:
        status = getattr(rep, "status", "failed")
        if status != "succeeded":
            failed.append(row.id)
        typer.echo(f"run {row.id} ({row.profile}): {status}")
    store = _store(db, create=True)
    typer.echo(f"history: {store.where}", err=True)
    done = work(store, once, poll, report)
    typer.echo(f"{done} scheduled run(s) done"
               + (f", {len(failed)} failed (see `exportc show {failed[0]}`)" if failed else ""))
    raise typer.Exit(1 if failed else 0)


@app.command()
def cancel(
    run_id: Annotated[int, typer.Argument(metavar=RUN, help="A scheduled run's id (see `exportc runs`)")],
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
) -> None:
    """Cancel a scheduled run before a worker starts it."""
    from exportc.orchestrate import cancel_run
    from exportc.runtime.execute import UsageError
    try:
        row = cancel_run(_store(db), run_id)
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    typer.echo(f"cancelled run {row.id} ({row.profile}), which was scheduled for "
               f"{_when(row.scheduled_at) if row.scheduled_at else '?'}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port to listen on")] = 8080,
    db: Annotated[str | None, typer.Option("--db", metavar="FILE|URL", help=DB_HELP)] = None,
) -> None:
    """The operators' console in a browser: start, follow, schedule and download exports."""
    from exportc.web.server import is_loopback, serve

    store = _store(db, create=True)
    from exportc.runtime.accounts import Accounts
    if not is_loopback(host):
        typer.echo(f"warning: serving on {host} without TLS: passwords and session cookies cross the "
                   "network in clear text; put a TLS proxy in front (cookies are marked secure)", err=True)
    typer.echo(f"exportc console on http://{host}:{port}/  (history: {store.url.split('@')[-1]})")
    if not Accounts(store).list():
        typer.echo("no users yet: add one with `exportc users add NAME --role admin`", err=True)
    serve(store, host, port)


@app.command()
def doc(
    profile: Annotated[str, typer.Argument(metavar=PROFILE, help="A .map file or a profile name")],
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help="Write to this file")] = None,
) -> None:
    """Markdown documentation of a profile: params, tables and the field mapping."""
    from exportc.compiler.document import document

    path, result = _compiled(profile)
    assert result.module is not None
    text = document(result.module, str(path))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, "utf-8")
        typer.echo(f"wrote {out}")


@app.command("test")
def test_cmd(
    paths: Annotated[list[Path] | None, typer.Argument(
        metavar="PATH",
        help="Test files (*.test.toml), or folders searched for them (default: the profile folders)")] = None,
    update: Annotated[bool, typer.Option("--update", help="Rewrite golden files from the output")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", metavar="FILE",
                                               help="Also write JUnit XML to this file")] = None,
    coverage: Annotated[bool, typer.Option("--coverage", help="Report which rules and when/where/if "
                                           "branches the cases exercised")] = False,
    coverage_json: Annotated[Path | None, typer.Option("--coverage-json", metavar="FILE", help="Write the coverage "
                                                       "report as JSON to this file")] = None,
    fail_under: Annotated[float | None, typer.Option("--fail-under", metavar="PERCENT", help="Fail (exit 1) when rule "
                                                     "coverage is below this percentage")] = None,
) -> None:
    """Run profile test cases: golden XML, XPath assertions, expected problems (exit 1 on failure)."""
    import time

    from exportc.config import ConfigError
    from exportc.project import cwd_project
    from exportc.workbench.coverage import Coverage
    from exportc.workbench.results import counts, render_text
    from exportc.workbench.results import junit as junit_xml
    from exportc.workbench.runner import discover, run_test_file

    if not paths:
        try:
            paths = list(cwd_project().profiles)
        except ConfigError as exc:
            raise _usage_error(str(exc)) from None
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise _usage_error(f"no such file or folder: {missing[0]}")
    files = discover(paths)
    if not files:
        raise _usage_error("no test files (*.test.toml) found")
    measure = Coverage() if coverage or coverage_json or fail_under is not None else None
    started = time.perf_counter()
    results = [run_test_file(f, update=update, coverage=measure) for f in files]
    if measure is not None:
        measure.add_untested(paths)
    typer.echo(render_text(results, time.perf_counter() - started))
    if junit is not None:
        junit.write_bytes(junit_xml(results))
    below = False
    if measure is not None:
        if coverage or fail_under is not None:
            typer.echo(measure.render_text())
        if coverage_json is not None:
            coverage_json.write_text(measure.to_json() + "\n", "utf-8")
        if fail_under is not None and measure.percent < fail_under:
            below = True
            typer.echo(f"rule coverage {measure.percent:.1f}% is below --fail-under {fail_under:g}%")
    c = counts(results)
    raise typer.Exit(1 if c["failed"] or c["error"] or below else 0)


@app.command()
def profiles(
    format: Annotated[ListFormat, typer.Option("--format", help="How to show it")] = ListFormat.text,
) -> None:
    """The project's profiles (the profile folders of exportc.toml): name, title, target, params."""
    from exportc.clihelp import default_text, params_json
    from exportc.orchestrate import project_profiles
    from exportc.runtime.execute import UsageError

    try:
        found = project_profiles()
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    if format is ListFormat.json:
        typer.echo(json.dumps([{"file": str(path), "name": r.artefact.name if r.artefact else None,
                                "title": r.artefact.title if r.artefact else None,
                                "target": f"{Path(r.artefact.schema_path).name}" if r.artefact else None,
                                "root": r.artefact.root if r.artefact else None,
                                "params": params_json(r.artefact) if r.artefact else [],
                                "errors": sum(d.is_error for d in r.diagnostics)} for path, r in found],
                              indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo("no profiles (looked in the profile folders of exportc.toml)")
    for path, r in found:
        a = r.artefact
        if a is None:
            typer.echo(f"{path}: does not compile; `exportc check {path}` says why")
            continue
        typer.echo(f"{a.name}  {a.title or ''}".rstrip())
        typer.echo(f"  file:   {path}")
        typer.echo(f"  target: {Path(a.schema_path).name} (root {a.root})")
        typer.echo("  params: " + (", ".join(f"{p.name}={default_text(p)}" for p in a.params) or "none"))


@app.command()
def params(
    profile: Annotated[str, typer.Argument(metavar=PROFILE, help="A .map file or a profile name")],
    format: Annotated[ListFormat, typer.Option("--format", help="How to show it")] = ListFormat.text,
) -> None:
    """A profile's params: type, default and description (pass them to `run` as --param NAME=VALUE)."""
    from exportc.clihelp import params_json, params_lines

    artefact = _compiled(profile, cached=True)[1].artefact
    assert artefact is not None
    if format is ListFormat.json:
        typer.echo(json.dumps(params_json(artefact), indent=2, ensure_ascii=False))
        return
    for line in params_lines(artefact):
        typer.echo(line)


@app.command()
def lsp() -> None:
    """Run the language server on stdin/stdout (for editors: diagnostics, hover, completion,
    go to definition, outline, formatting)."""
    from exportc.lsp.server import serve

    serve()


@app.command("codes")
def codes_cmd(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference page")] = False,
) -> None:
    """List the diagnostic codes."""
    if markdown:
        typer.echo(codes.markdown(), nl=False)
        return
    for code, (title, _text) in codes.CODES.items():
        typer.echo(f"{code}  {title}")


from exportc.usercli import users_app  # noqa: E402  (a sub-app: `exportc users ...`)

app.add_typer(users_app, name="users")


# A command's start-up (importing SQLAlchemy, typer and lxml; unpickling the cached profile)
# makes ~10^5 objects that live as long as the process, and hardly any garbage in cycles: with the
# default threshold (a collection every 700 new objects) the collector ran ~120 times during a
# warm `exportc run`, each pass re-examining what the imports had built (~40 ms of its ~330 ms CPU).
# Records are freed by reference counting; cycles are still collected, every 20,000 objects
# (a 20k-invoice run: the same peak memory, 4% less CPU).
GC_THRESHOLD = 20_000


def main() -> None:
    """Console-script entry point."""
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        app()
    finally:
        # The command is over. The interpreter's teardown would search every object still alive
        # for cycles, three times (~5% of a warm run's instructions, nearly all on what start-up
        # built); frozen, they are freed by reference counting alone, and what sits in a cycle
        # is left to the ending process. Objects made after this (the atexit handlers closing
        # the history's connections) are collected as before.
        gc.freeze()
