"""Rule coverage for ``exportc test --coverage``: which rules the cases ran, which ways each
``when``, ``where`` and ``if`` went, and whether each ``check`` both held and failed, per profile
file, with the file:line of the rest.

The cases run a coverage build of the profile: the same checked IR through ``generate_probed``,
whose generated code calls ``exportc.runtime.probes`` at each rule group and condition. The
probes are keyed by profile location, so the base profile's rules exercised by a customer
profile's cases count for the base file too.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from exportc.artefact import Artefact
from exportc.compiler.codegen import generate_probed
from exportc.compiler.expressions import Probe
from exportc.compiler.pipeline import compile_file
from exportc.compiler.result import CompileResult
from exportc.runtime import probes as runtime_probes

Key = tuple[str, int, int, str, str]  # file (resolved), line, column, kind, outcome

_WHAT = {"rule": "rule", "check": "`check`", "when": "`when`", "where": "`where`", "if": "`if`"}


_WAY = {"": "never ran", "true": "never true", "false": "never false", "then": "never took `then`",
        "else": "never took `else`", "held": "never held", "failed": "never failed"}


def _key(p: Probe) -> Key:
    return (str(Path(p.file).resolve()) if p.file else "", p.line, p.column, p.kind, p.outcome)


@dataclass
class FileCoverage:
    """One profile file's items and which of them ran."""

    file: str
    items: dict[Key, str] = field(default_factory=dict)  # key -> the profile line, as written
    hits: dict[Key, int] = field(default_factory=dict)  # key -> how many cases exercised it

    def counts(self, branches: bool) -> tuple[int, int]:
        keys = [k for k in self.items if (k[3] in ("when", "where", "if", "check")) == branches]
        return sum(1 for k in keys if k in self.hits), len(keys)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.hits) / len(self.items) if self.items else 100.0

    def missed(self) -> list[tuple[Key, str]]:
        return sorted((k, t) for k, t in self.items.items() if k not in self.hits)


@dataclass
class Coverage:
    """Collects probes of every coverage build and the hits of every case."""

    files: dict[str, FileCoverage] = field(default_factory=dict)
    _builds: dict[int, list[Probe]] = field(default_factory=dict)

    def instrument(self, compiled: CompileResult, only: str | None = None) -> Artefact:
        """A coverage build of a compiled profile, its probes registered here (``only``: just
        those of that file)."""
        assert compiled.profile is not None and compiled.artefact is not None
        source, linemap, probes = generate_probed(compiled.profile)
        artefact = dataclasses.replace(compiled.artefact, python=source, linemap=tuple(linemap))
        texts = {str(Path(f).resolve()): t.splitlines() for f, t in compiled.sources.items()}
        for p in probes:
            key = _key(p)
            if only is not None and key[0] != only:
                continue
            fc = self.files.setdefault(key[0], FileCoverage(key[0]))
            lines = texts.get(key[0], [])
            fc.items[key] = lines[p.line - 1].strip() if 0 < p.line <= len(lines) else ""
        self._builds[id(artefact)] = probes
        runtime_probes.take()  # start clean
        return artefact

    def collect(self, artefact: Artefact) -> None:
        """Record what the case just run on ``artefact`` hit."""
        probes = self._builds[id(artefact)]
        for key in {_key(probes[i]) for i in runtime_probes.take()}:
            hits = self.files[key[0]].hits
            hits[key] = hits.get(key, 0) + 1

    def add_untested(self, folders: list[Path]) -> None:
        """Profiles under ``folders`` that no test file exercised count too, at 0 % (a profile
        without tests must not raise the total by being left out)."""
        for folder in folders:
            for path in sorted(folder.rglob("*.map")) if folder.is_dir() else ():
                if str(path.resolve()) not in self.files:
                    compiled = compile_file(path)
                    if compiled.ok and compiled.profile is not None:
                        self.instrument(compiled, only=str(path.resolve()))

    @property
    def percent(self) -> float:
        total = sum(len(f.items) for f in self.files.values())
        hit = sum(len(f.hits) for f in self.files.values())
        return 100.0 * hit / total if total else 100.0

    def to_json(self) -> str:
        out = {"percent": round(self.percent, 2), "files": [
            {"file": _rel(fc.file), "percent": round(fc.percent, 2),
             "rules": dict(zip(("hit", "total"), fc.counts(False), strict=True)),
             "branches": dict(zip(("hit", "total"), fc.counts(True), strict=True)),
             "missed": [{"line": k[1], "column": k[2], "kind": k[3], "outcome": k[4] or None, "text": t}
                        for k, t in fc.missed()],
             "items": [{"line": k[1], "column": k[2], "kind": k[3], "outcome": k[4] or None, "text": t,
                        "cases": fc.hits.get(k, 0)} for k, t in sorted(fc.items.items())]}
            for fc in sorted(self.files.values(), key=lambda f: f.file)]}
        return json.dumps(out, indent=2, ensure_ascii=False)

    def render_text(self) -> str:
        lines = ["rule coverage:"]
        for fc in sorted(self.files.values(), key=lambda f: f.file):
            (rh, rt), (bh, bt) = fc.counts(False), fc.counts(True)
            lines.append(f"  {_rel(fc.file)}: {fc.percent:.1f}% — rules {rh}/{rt}, "
                         f"branches and checks {bh}/{bt}")
            for k, text in fc.missed():
                lines.append(f"    {_rel(fc.file)}:{k[1]}: {_WHAT[k[3]]} {_WAY[k[4]]}: {text}")
        lines.append(f"  total: {self.percent:.1f}%")
        return "\n".join(lines)


def _rel(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
