"""The ``exportc`` command line: parse options, call one function, render its result.

Exit codes: 0 clean, 1 problems found (or a run failed), 2 usage or I/O error.
"""

from __future__ import annotations

import sys
from enum import Enum
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


class Format(str, Enum):
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
