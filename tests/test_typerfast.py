"""exportc.typerfast: our commands' values coerced as typer coerces them, without Pydantic where
no value needs it. Each case is checked against typer's own coercion of the same parameter."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from exportc import typerfast
from exportc.cli import app


def _param(command: str, name: str) -> Any:
    """A parameter of a command, as typer builds it for a new process."""
    group = typer.main.get_command(app)
    cmd = group.get_command(Context(group), command)  # type: ignore[attr-defined]
    ctx = Context(cmd, parent=Context(group))
    param = next(p for p in cmd.get_params(ctx) if p.name == name)
    return param, ctx


def _outcome(coerce: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        return "value", coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "refused", exc.format_message()


CASES = [
    ("run", "profile", "exact_online.invoices"),
    ("run", "source", ("customers=a.jsonl", "invoices=b.jsonl")),
    ("run", "source", None),
    ("run", "source", "customers=a.jsonl"),  # one text where a list is due
    ("run", "db", None),
    ("run", "db", "/tmp/h.db"),
    ("run", "out", None),
    ("run", "out", "out/folder"),
    ("run", "lock_timeout", 60.0),
    ("run", "lock_timeout", "2.5"),
    ("run", "lock_timeout", "soon"),
    ("run", "split", None),
    ("run", "split", "0"),  # below min=1
    ("run", "split", "10"),
    ("run", "allow_deletions", "-1"),
    ("check", "paths", ("profiles", "other.map")),
    ("check", "format", "json"),
    ("check", "format", "yaml"),
    ("runs", "format", "text"),
    ("show", "run_id", "12"),
    ("show", "run_id", "twelve"),
    ("files", "copy_to", "/tmp/somewhere"),
]


@pytest.mark.parametrize(("command", "name", "value"), CASES, ids=[f"{c}-{n}-{v}" for c, n, v in CASES])
def test_a_value_is_coerced_as_typer_coerces_it(command: str, name: str, value: Any) -> None:
    param, ctx = _param(command, name)
    assert isinstance(param._runtime_param, typerfast._Plain)  # given when typer built the command
    typers = build_runtime_param(param.type_descriptor)
    assert _outcome(param._runtime_param.coerce, value, param, ctx) == _outcome(typers.coerce, value, param, ctx)


def test_a_default_and_plain_text_need_no_pydantic() -> None:
    """The values a usual `exportc run` gets are answered without typer's Pydantic coercion."""
    for command, name, value in [("run", "profile", "p"), ("run", "source", ("a=b",)), ("run", "out", None),
                                 ("run", "lock_timeout", 60.0), ("check", "paths", ("profiles",)),
                                 ("check", "format", "text")]:
        param, ctx = _param(command, name)
        param._runtime_param.coerce(value, param=param, ctx=ctx)
        assert param._runtime_param.typers == [], (command, name)
