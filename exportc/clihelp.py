"""How the command line describes itself: flags without a value placeholder, arguments by their
name, and the params of a profile as a user passes them (``exportc params``, ``exportc
profiles``, ``exportc run PROFILE --help``).

Typer shows every option's Python type as a placeholder (``--production <bool>``), which reads
as if a flag took a value, and an argument as ``{PROFILE}`` in the usage line and ``PROFILE
<str>`` in its table. ``PlainHelpGroup`` gives each flag an empty placeholder and each argument
its plain name before help is rendered, for every command, including ones added later and the
automatic ``--help``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from exportc.artefact import Artefact, ParamSpec
from exportc.typerfast import plain_coercion
from exportc.values import format_value


class PlainArgument(TyperArgument):
    """An argument shown by its name: ``PROFILE`` (``[PROFILE]`` when optional, ``PATH...`` for
    several), not ``{PROFILE}``; and without a type placeholder (``RUN``, not ``RUN <int>``):
    its name and help say what it is."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _plain_flags(params: Sequence[Any]) -> None:
    """A flag takes no value, so its help shows none (``--check``, not ``--check <bool>``); an
    argument shows its name alone. Typer makes its own argument objects and offers no hook to
    choose their class, so each is given ``PlainArgument``'s (it only changes how it is shown).
    Each also gets the plain coercion of ``exportc.typerfast``, which spares a command start
    Pydantic's import when no value needs it."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if type(param) is TyperArgument:
            param.__class__ = PlainArgument
        plain_coercion(param)


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


def _profile_asked(args: Sequence[str], params: Sequence[Any]) -> str | None:
    """In ``run PROFILE --help``, the profile: the first word that is neither an option nor the
    value of one, when help is asked for."""
    if "--help" not in args:
        return None
    valued = {o for p in params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
              for o in p.opts}
    words = iter(args)
    for word in words:
        if word in valued:
            next(words, None)  # the option's value
        elif not word.startswith("-"):
            return word
    return None


class ProfileHelpCommand(TyperCommand):
    """``exportc run PROFILE --help``: the command's help, then that profile's params (types,
    defaults and descriptions), as ``exportc params PROFILE`` shows them."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta["exportc.help_profile"] = _profile_asked(args, self.get_params(ctx))
        return super().parse_args(ctx, args)

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        super().format_help(ctx, formatter)
        profile = ctx.meta.get("exportc.help_profile")
        if profile:
            typer.echo("\n" + "\n".join(profile_params_help(profile)) + "\n")


def profile_params_help(profile: str) -> list[str]:
    """The params of ``profile`` (a .map file or a profile name) for ``run``'s help, or why
    they cannot be shown."""
    from exportc.compiler.cached import compile_cached
    from exportc.orchestrate import resolve_profile
    from exportc.runtime.execute import UsageError

    try:
        result = compile_cached(resolve_profile(profile))
    except UsageError as exc:
        return [f"{profile}: {exc}"]
    if result.artefact is None or not result.ok:
        return [f"{profile} does not compile, so its params cannot be listed: "
                f"`exportc check {profile}` shows why"]
    return params_lines(result.artefact)
