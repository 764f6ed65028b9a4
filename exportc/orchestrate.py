"""One function per command: compile a profile, then hand the artefact to the runtime.

The CLI calls these; tests call them too. Profiles are named by path or by profile name (found
in the profile folders of exportc.toml).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exportc.compiler.inherit import find_base
from exportc.compiler.pipeline import CompileResult, compile_file
from exportc.config import load_config
from exportc.runtime.execute import RunOptions, UsageError, execute
from exportc.runtime.report import Report


def resolve_profile(name: str) -> Path:
    """A profile path from a path or a profile name."""
    path = Path(name)
    if path.is_file():
        return path
    found = find_base(name, False, ".", load_config().profiles)
    if found is None:
        raise UsageError(f"no profile file or profile named `{name}`")
    try:
        return found.relative_to(Path.cwd())
    except ValueError:
        return found


@dataclass
class RunResult:
    compiled: CompileResult
    report: Report | None


def run_profile(profile: str, opts: RunOptions) -> RunResult:
    """Compile and, when the profile is clean, run it."""
    compiled = compile_file(resolve_profile(profile))
    if not compiled.ok or compiled.artefact is None:
        return RunResult(compiled, None)
    return RunResult(compiled, execute(compiled.artefact, opts))
