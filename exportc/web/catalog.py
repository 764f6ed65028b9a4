"""The profiles the console offers: every ``*.map`` in the project's profile folders, compiled
(and recompiled when a file changes), with its binding and what keeps it from running."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from exportc.artefact import Artefact
from exportc.bindings import Binding
from exportc.compiler.pipeline import compile_file
from exportc.compiler.result import CompileResult
from exportc.diagnostics import render_all_text
from exportc.orchestrate import binding_for


@dataclass(frozen=True)
class Entry:
    """One profile as the export page shows it."""

    path: Path
    name: str
    title: str | None
    target: str | None  # schema file and root element
    artefact: Artefact | None
    problems: str | None  # the rendered diagnostics when it does not compile
    binding: Binding | None

    @property
    def unbound(self) -> list[str]:
        """Sources a run needs that the project does not bind."""
        if self.artefact is None:
            return []
        bound = self.binding.sources if self.binding else {}
        needed = dict.fromkeys(b.source for b in self.artefact.blocks if b.source)
        return [s for s in needed if s not in bound]


class Catalog:
    """Profiles found under the project's profile folders, compiled on demand and cached."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders
        self.cache: dict[Path, tuple[tuple[float, ...], Entry]] = {}
        self.lock = threading.Lock()

    def entries(self) -> list[Entry]:
        files = sorted({p.resolve() for f in self.folders if f.is_dir() for p in f.rglob("*.map")})
        return sorted((self.entry(p) for p in files), key=lambda e: e.name)

    def find(self, name: str) -> Entry | None:
        return next((e for e in self.entries() if e.name == name), None)

    def entry(self, path: Path) -> Entry:
        with self.lock:  # one compile at a time; pages arriving together share the result
            cached = self.cache.get(path)
            if cached is not None and cached[0] == _stamps(cached[1]):
                return cached[1]
            entry = _compile(path)
            self.cache[path] = (_stamps(entry), entry)
            return entry


def _stamps(entry: Entry) -> tuple[float, ...]:
    files = [entry.path, *(Path(f) for f in (entry.artefact.files if entry.artefact else ()))]
    return tuple(f.stat().st_mtime if f.exists() else 0.0 for f in files)


def _compile(path: Path) -> Entry:
    result: CompileResult = compile_file(path)
    artefact = result.artefact if result.ok else None
    name = artefact.name if artefact else (result.profile.name if result.profile else path.stem)
    title = artefact.title if artefact else None
    target = f"{Path(artefact.schema_path).name} · {artefact.root}" if artefact else None
    problems = None if artefact else render_all_text(result.diagnostics, result.sources)
    return Entry(path, str(name), title, target, artefact, problems,
                 binding_for(path, str(name)) if artefact else None)
