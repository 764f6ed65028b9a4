"""How a command starts: structural guards for the start-up time of every `exportc` command
(timed figures are bench/bench_startup.py's job, not a test's)."""

from __future__ import annotations

import inspect
import subprocess
import sys

from exportc import cli, usercli


def test_the_command_line_collects_garbage_in_large_batches() -> None:
    """main() raises the collector's first threshold: start-up builds long-lived objects, and the
    default (700) collected ~120 times during a warm run. When the command is over it freezes
    what is alive, so the interpreter's teardown does not search it all for cycles again."""
    probe = ("import gc, sys\nfrom exportc.cli import main\nsys.argv = ['exportc', 'codes']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('THRESHOLD', gc.get_threshold()[0], 'FROZEN', gc.get_freeze_count() > 10_000)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == f"THRESHOLD {cli.GC_THRESHOLD} FROZEN True"
    assert cli.GC_THRESHOLD > 700


def test_command_annotations_are_objects_not_strings() -> None:
    """typer reads each command's annotations when it builds the command line; strings (from
    `from __future__ import annotations`) would be eval'd anew on every start."""
    commands = [c.callback for c in (*cli.app.registered_commands, *usercli.users_app.registered_commands)]
    assert len(commands) >= 20
    stringly = [f"{f.__name__}.{name}" for f in commands if f is not None
                for name, a in inspect.get_annotations(f).items() if isinstance(a, str)]
    assert stringly == []
