"""Compiled profiles kept between processes, so a warm ``exportc run`` or ``exportc check`` does
not parse, check and generate the profile again.

An entry is found by the profile's path, the working folder (diagnostics show paths relative to
it) and exportc's own code; it holds the compile's outcome (artefact, diagnostics, profile texts)
and every input it was derived from, each with its content hash: the profile and its bases,
their ``exportc.toml``, each target's schema and every file it includes, its Schematron
stylesheets, the table CSVs, and where each schema and stylesheet was found. The entry is used
only when every one of those still hashes the same, so editing a base, a table, a schema or the
configuration recompiles; a corrupt entry is ignored and rebuilt. Only clean compiles (no error)
are kept: an error is shown from a fresh compile.

``check_files`` lives here, not with the passes, so a warm ``exportc check`` imports none of them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from exportc import cache
from exportc.artefact import Artefact
from exportc.compiler.result import CompileResult
from exportc.compiler.schemafiles import schema_digest
from exportc.config import ConfigError
from exportc.diagnostics import Diagnostic
from exportc.project import find_config_file, find_schema

ENTRY_VERSION = 2  # bump when the entry's shape changes


@dataclass(frozen=True)
class Found:
    """A file a `target` names, looked up as the compile did: a schema (its digest covers the
    files it includes) or a Schematron stylesheet (its content hash)."""

    name: str  # as written in `target`
    declaring: str  # the profile file that wrote it (names resolve from its project)
    path: str  # where it was found
    digest: str
    is_schema: bool

    def unchanged(self) -> bool:
        """Still found at the same place, with the same content."""
        try:
            now = find_schema(self.name, self.declaring)
            if now is None or str(now) != self.path:
                return False
            return _digest(now, self.is_schema) == self.digest
        except (ConfigError, OSError):
            return False


@dataclass(frozen=True)
class Inputs:
    """What a compile read, with content hashes (None: the file did not exist)."""

    files: tuple[tuple[str, str | None], ...]  # profile, base, exportc.toml and table files
    found: tuple[Found, ...]  # every target's schema and stylesheets


@dataclass(frozen=True)
class Entry:
    version: int
    inputs: Inputs
    artefact: Artefact
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]


def _hash(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _entry_path(path: Path) -> Path:
    h = hashlib.sha256(f"{ENTRY_VERSION}\0{cache.code_fingerprint()}\0{os.getcwd()}\0{path}\0"
                       f"{path.resolve()}".encode())
    return cache.cache_dir() / f"compiled-{h.hexdigest()[:32]}.pickle"


@dataclass(frozen=True)
class Target:
    """A `target` line as the compile read it: what names a schema and its stylesheets."""

    schema: str
    schematron: tuple[str, ...]
    declaring: str


def _found(name: str, declaring: str, is_schema: bool) -> Found | None:
    path = find_schema(name, declaring)
    if path is None:
        return None
    return Found(name, declaring, str(path), _digest(path, is_schema) or "", is_schema)


def _digest(path: Path, is_schema: bool) -> str | None:
    """A schema's digest (it covers the files it includes), or a stylesheet's content hash."""
    return schema_digest(path) if is_schema else _hash(str(path))


def _inputs(result: CompileResult, artefact: Artefact, targets: list[Target]) -> Inputs | None:
    """Everything the compile of ``result`` read; None when a target's file is gone already."""
    files = list(result.sources)
    for profile in result.sources:
        config = find_config_file(Path(profile).resolve().parent)
        files.append(str(config) if config else "")
    files += [t.file for t in artefact.tables if t.file]
    found = [_found(name, t.declaring, name == t.schema) for t in targets for name in (t.schema, *t.schematron)]
    if any(f is None for f in found):
        return None
    return Inputs(tuple((f, _hash(f) if f else None) for f in dict.fromkeys(files)),
                  tuple(f for f in found if f is not None))


def _still_valid(inputs: Inputs) -> bool:
    for file, digest in inputs.files:
        if (_hash(file) if file else None) != digest:
            return False
    return all(f.unchanged() for f in inputs.found)


def load(path: Path) -> Entry | None:
    """The cached compile of ``path`` when every input it was made from is unchanged."""
    entry = cache.read(_entry_path(path))
    if not isinstance(entry, Entry) or entry.version != ENTRY_VERSION:
        return None
    try:
        return entry if _still_valid(entry.inputs) else None
    except Exception:  # an entry from an odd state: compile afresh
        return None


def store(path: Path, result: CompileResult, targets: list[Target]) -> None:
    """Keep a clean compile of ``path``."""
    if result.artefact is None or result.errors():
        return
    try:
        inputs = _inputs(result, result.artefact, targets)
    except (ConfigError, OSError):
        return
    if inputs is None:
        return
    cache.write(_entry_path(path), Entry(ENTRY_VERSION, inputs, result.artefact,
                                         tuple(result.diagnostics), dict(result.sources)))


def compile_cached(path: Path | str) -> CompileResult:
    """``compile_file(path)``, or its outcome kept from an earlier process when the profile, its
    bases, their configuration, the schema and the tables are unchanged: the artefact, the
    diagnostics and the profile texts, not the AST or IR (``exportc compile --emit`` compiles
    afresh). The compiler's passes (lark, the checks, codegen) are imported only when the cache
    cannot answer."""
    path = Path(path)
    entry = load(path)
    if entry is not None:
        return CompileResult(str(path), list(entry.diagnostics), dict(entry.sources),
                             artefact=entry.artefact)
    from exportc.compiler.pipeline import compile_file
    from exportc.dsl import ast
    result = compile_file(path)
    targets = [Target(i.schema, i.schematron, i.span.file or str(path)) for i in result.module.items
               if isinstance(i, ast.TargetDecl)] if result.module is not None else []
    if result.ok and targets:
        store(path, result, targets)
    return result


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic]
    sources: dict[str, str]


def check_files(files: list[Path]) -> CheckResult:
    """Compile each profile (from the cache when it can answer); gather every diagnostic
    (de-duplicated across shared bases)."""
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    seen: set[Diagnostic] = set()
    for file in files:
        result = compile_cached(file)
        sources.update(result.sources)
        for d in result.diagnostics:
            if d not in seen:
                seen.add(d)
                diagnostics.append(d)
    return CheckResult(diagnostics, sources)
