"""How the command line describes itself: flags without a value placeholder, and the params of
a profile as a user passes them (``exportc params``, ``exportc profiles``).

Typer shows every option's Python type as a placeholder (``--production <bool>``), which reads
as if a flag took a value. ``PlainHelpGroup`` gives each flag an empty placeholder before help
is rendered, for every command, including ones added later and the automatic ``--help``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from exportc.artefact import Artefact, ParamSpec
from exportc.values import format_value


def _plain_flags(params: Sequence[Any]) -> None:
    """A flag takes no value, so its help shows none (``--check``, not ``--check <bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


class PlainHelpGroup(TyperGroup):
    """The app's command group: every command's flags shown without a value placeholder."""

    def get_params(self, ctx: typer.Context) -> list[Any]:  # type: ignore[override]
        params = super().get_params(ctx)
        _plain_flags(params)
        return params

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command.get_params(ctx))
        return command


def default_text(p: ParamSpec) -> str:
    """A param's default as a user would write it after ``--param NAME=``; required if none."""
    if not p.has_default:
        return "(required)"
    d = p.default
    if isinstance(d, (list, tuple)):
        return ",".join(format_value(x) for x in d) or "(empty)"
    if d is None:
        return "(none)"
    if isinstance(d, str):
        return json.dumps(d, ensure_ascii=False) if d == "" or d != d.strip() else d
    return format_value(d)


def params_json(a: Artefact) -> list[dict[str, Any]]:
    """The params of a compiled profile, as data."""
    return [{"name": p.name, "type": str(p.type), "required": not p.has_default,
             "default": default_text(p) if p.has_default else None,
             "description": p.description} for p in a.params]


def params_lines(a: Artefact) -> list[str]:
    """The params of a compiled profile as an aligned table, with how to pass them."""
    if not a.params:
        return [f"{a.name} has no params"]
    rows = [("name", "type", "default", "description")] + [
        (p.name, str(p.type), default_text(p), p.description or "") for p in a.params]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [f"params of {a.name} (pass each as --param NAME=VALUE; a list as A,B,C):"]
    for r in rows:
        out.append("  " + "  ".join([*(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)), r[3]]).rstrip())
    return out
