"""Typer's value coercion without Pydantic where no value needs it.

Typer (0.29) coerces every parameter of the command being run through a Pydantic
``TypeAdapter``, even one the command line left out (its value is ``None``) or one that holds
its default: importing Pydantic and building the adapters was ~60 ms of every command's start,
a fifth of a warm ``exportc run``. The values our commands get are mostly of that kind, or text
(a profile name, ``NAME=VALUE`` pairs), or paths. ``plain_coercion`` gives a parameter a
coercion that answers those itself, with what typer's would return, and hands every other value
(a number or choice typed on the command line, a path that must exist…) to typer's own, built
on first use, so messages and checks stay typer's.

Typer has no public hook for this: the parameter's ``_runtime_param`` slot is where typer keeps
the coercion it builds lazily. When a typer release moves it, ``plain_coercion`` does nothing and
typer coerces as it does without it (``tests/test_layers.py`` notices Pydantic coming back).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
except ImportError:  # another typer: it coerces every value itself
    RuntimeParam = None  # type: ignore[assignment,misc]


def plain_coercion(param: Any) -> None:
    """Give a typer parameter the plain coercion, unless it has a coercion already."""
    if RuntimeParam is None or getattr(param, "_runtime_param", False) is not None:
        return
    desc = getattr(param, "type_descriptor", None)
    if desc is None or desc.file_annotation is not None:
        return
    param._runtime_param = _Plain(desc.parameter_info, desc.annotation, desc)


if RuntimeParam is not None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class _Plain(RuntimeParam):  # type: ignore[misc,valid-type]
        """Answers the values whose coercion is plain; typer's own coercion does the rest.
        (``RuntimeParam.coerce`` answers a left-out value itself and hands the others here.)"""

        descriptor: Any
        typers: list[Any] = field(default_factory=list, compare=False)  # typer's, once built

        def typer_coercion(self) -> Any:
            """Typer's coercion of the parameter (Pydantic), built on first use."""
            if not self.typers:
                self.typers.append(build_runtime_param(self.descriptor))
            return self.typers[0]

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            plain = _plain(self.annotation, self.parameter_info, value, param, ctx)
            if plain is not _TYPER:
                return plain
            return self.typer_coercion().coerce(value, param=param, ctx=ctx)
else:
    _Plain = None  # type: ignore[assignment,misc]


_TYPER = object()  # "typer's own coercion decides"


def _plain(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """The coerced value when it needs no validation, else ``_TYPER``."""
    if isinstance(value, (list, tuple)):
        if getattr(annotation, "__origin__", None) is list and (param.multiple or param.nargs == -1):
            (item,) = annotation.__args__
            items = [_plain(item, info, v, param, ctx) for v in value]
            return _TYPER if any(i is _TYPER for i in items) else items
        return _TYPER
    if annotation is str and isinstance(value, str):
        return value
    if annotation is Path and isinstance(value, (str, Path)) and info.path_type is None:
        # typer turns text into a Path with Pydantic (Path(text)), then checks it
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    if type(value) is annotation and annotation in (int, float) and info.min is None and info.max is None:
        return value  # a default of the declared type
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:  # typer's own choice matching; a value it refuses gets typer's message
            return coerce_cli_choice(value, choices=tuple(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return _TYPER
    return _TYPER
