"""The ``exportc`` command line: parse options, call one function, render its result.

Exit codes: 0 clean, 1 problems found (or a run failed), 2 usage or I/O error.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from exportc import codes
from exportc.diagnostics import (
    Diagnostic,
    render_all_text,
    render_github,
    render_json,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Compile and run declarative XML export profiles.")


class Format(StrEnum):
    text = "text"
    json = "json"
    github = "github"


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
    paths: Annotated[list[Path], typer.Argument(help="Profiles, or folders searched for *.map")],
    format: Annotated[Format, typer.Option("--format", help="text, json or github")] = Format.text,
) -> None:
    """Compile profiles and report every diagnostic (exit 1 when there are errors)."""
    from exportc.compiler.pipeline import check_files

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
    paths: Annotated[list[Path], typer.Argument(help="Profiles, or folders searched for *.map")],
    check: Annotated[bool, typer.Option("--check", help="Only report files that would change")] = False,
) -> None:
    """Lay profiles out canonically (comments kept); ``--check`` changes nothing."""
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


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _usage_error(f"{option} expects a date YYYY-MM-DD, got `{value}`") from None


class Emit(StrEnum):
    ast = "ast"
    ir = "ir"
    python = "python"
    overrides = "overrides"


@app.command("compile")
def compile_cmd(
    profile: Annotated[str, typer.Argument(help="A .map file or a profile name")],
    emit: Annotated[Emit, typer.Option("--emit", help="ast, ir, python or overrides")] = Emit.python,
) -> None:
    """Show a stage of the compiler: the AST, the checked IR, or the generated Python."""
    import pprint

    from exportc.compiler.pipeline import compile_file
    from exportc.orchestrate import resolve_profile
    from exportc.runtime.execute import UsageError

    try:
        path = resolve_profile(profile)
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    result = compile_file(path)
    if result.errors():
        _emit(result.diagnostics, result.sources, Format.text)
        raise typer.Exit(1)
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


@app.command()
def run(
    profile: Annotated[str, typer.Argument(help="A .map file or a profile name")],
    source: Annotated[list[str] | None, typer.Option("--source", help="NAME=PATH or NAME=URL")] = None,
    query: Annotated[list[str] | None, typer.Option("--query", help="NAME=SQL for a database source")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="NAME=VALUE")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Window start (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Window end, inclusive")] = None,
    booking_date: Annotated[str | None, typer.Option("--booking-date", help="Booking date")] = None,
    description: Annotated[str | None, typer.Option("--description", help="Run description")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the files and report")] = Path("out"),
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip XSD validation")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Leave failing records out")] = False,
) -> None:
    """Run a test export: write the XML and report.json into --out."""
    from exportc.orchestrate import run_profile
    from exportc.runtime.execute import RunOptions, UsageError

    opts = RunOptions(sources=_pairs(source, "--source"), params=_pairs(param, "--param"),
                      queries=_pairs(query, "--query"), date_from=_date(date_from, "--from"),
                      date_to=_date(date_to, "--to"), booking_date=_date(booking_date, "--booking-date"),
                      description=description, out_dir=out, validate=not no_validate,
                      skip_invalid=skip_invalid)
    if opts.date_from and opts.date_to and opts.date_from > opts.date_to:
        raise _usage_error("--from is after --to")
    try:
        result = run_profile(profile, opts)
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    if result.report is None:
        _emit(result.compiled.diagnostics, result.compiled.sources, Format.text)
        raise typer.Exit(1)
    typer.echo(result.report.summary())
    raise typer.Exit(0 if result.report.status == "succeeded" else 1)


@app.command()
def doc(
    profile: Annotated[str, typer.Argument(help="A .map file or a profile name")],
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file")] = None,
) -> None:
    """Markdown documentation of a profile: params, tables and the field mapping."""
    from exportc.compiler.document import document
    from exportc.compiler.pipeline import compile_file
    from exportc.orchestrate import resolve_profile
    from exportc.runtime.execute import UsageError

    try:
        path = resolve_profile(profile)
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    result = compile_file(path)
    if result.module is None or result.errors():
        _emit(result.diagnostics, result.sources, Format.text)
        raise typer.Exit(1)
    text = document(result.module, str(path))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, "utf-8")
        typer.echo(f"wrote {out}")


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


def main() -> None:
    """Console-script entry point."""
    app()
