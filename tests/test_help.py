"""The command line describes itself right: golden `--help` of every command (no `<bool>` after a
flag, arguments named PROFILE / RUN / PATH, `--format` offering only what the command accepts),
and `exportc profiles` / `exportc params PROFILE`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from exportc.cli import app

COMMANDS = ["", "check", "fmt", "compile", "run", "runs", "show", "files", "worker", "cancel", "doc",
            "codes", "profiles", "params", "test", "lsp", "serve", "users", "users add", "users list",
            "users passwd", "users remove"]


def _help(command: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # A fixed width and no terminal styling (CI sets FORCE_COLOR or GITHUB_ACTIONS), so the
    # golden text is the same everywhere.
    monkeypatch.setattr("typer.rich_utils.FORCE_TERMINAL", False, raising=False)
    result = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "100"},
                                prog_name="exportc")
    assert result.exit_code == 0, result.output
    return "\n".join(line.rstrip() for line in result.output.splitlines()).strip("\n") + "\n"


def test_every_command_is_in_this_list() -> None:
    listed = _names()
    assert sorted(listed) == sorted(c for c in COMMANDS if c and " " not in c)


def _names() -> list[str]:
    import typer.main
    group = typer.main.get_group(app)
    return list(group.commands)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "exportc")
def test_help_reads_right(command: str, monkeypatch: pytest.MonkeyPatch, snapshot: object) -> None:
    text = _help(command, monkeypatch)
    assert "<bool>" not in text  # a flag takes no value
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage  # `PROFILE`, `RUN`, `PATH...`: not `{PROFILE}`
    for placeholder in ("<str>", "<int>", "<list[", "<Path>"):  # an argument's name says what it is
        assert placeholder not in text, placeholder
    assert text == snapshot


@pytest.mark.parametrize(("command", "accepted"), [
    ("check", "<text|json|github>"), ("runs", "<text|json>"), ("show", "<text|json>"),
    ("files", "<text|json>"), ("profiles", "<text|json>"), ("params", "<text|json>")])
def test_format_offers_what_the_command_accepts(command: str, accepted: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert accepted in _help(command, monkeypatch)
    if accepted == "<text|json>":
        argument = {"params": ["x"], "show": ["1"], "files": ["1"]}.get(command, [])
        refused = CliRunner().invoke(app, [command, "--format", "github", *argument])
        assert refused.exit_code == 2


def test_profiles_lists_the_projects_profiles() -> None:
    out = CliRunner().invoke(app, ["profiles"]).output
    assert "exact_online.invoices  Exact Online: accounts and sales invoices or journal entries\n" \
           "  file:   profiles/exact-online/exact-online.map\n" \
           "  target: eExact-XML.xsd (root eExact)\n" in out
    assert "invoice_export=(required)" in out
    data = json.loads(CliRunner().invoke(app, ["profiles", "--format", "json"]).output)
    by_name = {d["name"]: d for d in data}
    assert by_name["acme.recreatie"]["params"][0] == {
        "name": "cust_id_length", "type": "int", "required": False, "default": "6",
        "description": "Customer code length; shorter codes get leading zeros"}


def test_params_shows_types_defaults_and_descriptions(snapshot: object) -> None:
    result = CliRunner().invoke(app, ["params", "exact_online.invoices"])
    assert result.exit_code == 0
    assert result.output == snapshot
    assert CliRunner().invoke(app, ["params", "no.such.profile"]).exit_code == 2


def test_run_profile_help_shows_that_profiles_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("typer.rich_utils.FORCE_TERMINAL", False, raising=False)
    runner = CliRunner()
    params = runner.invoke(app, ["params", "exact_online.invoices"]).output
    # after options that take a value, too: the profile is the first word no option takes
    for args in (["run", "exact_online.invoices", "--help"],
                 ["run", "--source", "invoices=x.jsonl", "exact_online.invoices", "--help"]):
        result = runner.invoke(app, args, env={"COLUMNS": "100"}, prog_name="exportc")
        assert result.exit_code == 0, result.output
        assert "Usage: exportc run [OPTIONS] PROFILE" in result.output
        assert result.output.rstrip().endswith(params.rstrip()), result.output
        assert "invoice_export      bool       (required)" in result.output
    plain = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "100"}).output
    assert "params of" not in plain and "`exportc run PROFILE --help` lists them" in plain
    unknown = runner.invoke(app, ["run", "no.such.profile", "--help"]).output
    assert "no profile file or profile named `no.such.profile`" in unknown
