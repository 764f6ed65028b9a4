"""Compiled profiles kept between processes, so a warm ``exportc run`` or ``exportc check`` does
not parse, check and generate the profile again.

An entry is found by the profile's path, the working folder (diagnostics show paths relative to
it) and exportc's own code; it holds the compile's outcome (artefact, diagnostics, profile texts)
and every input it was derived from, each with its content hash: the profile and its bases,
their ``exportc.toml``, the schema and every file it includes, the table CSVs, and where the
schema was found. The entry is used only when every one of those still hashes the same, so
editing a base, a table, the schema or the configuration recompiles; a corrupt entry is ignored
and rebuilt. Only clean compiles (no error) are kept: an error is shown from a fresh compile.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from exportc import cache
from exportc.artefact import Artefact
from exportc.compiler.result import CompileResult
from exportc.compiler.schema import schema_digest
from exportc.config import ConfigError
from exportc.diagnostics import Diagnostic
from exportc.project import find_config_file, find_schema

ENTRY_VERSION = 1  # bump when the entry's shape changes


@dataclass(frozen=True)
class Inputs:
    """What a compile read, with content hashes (None: the file did not exist)."""

    files: tuple[tuple[str, str | None], ...]  # profile, base, exportc.toml and table files
    schema: tuple[str, str, str, str]  # (name in `target`, declaring file, found path, digest)


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


def _inputs(result: CompileResult, artefact: Artefact, schema_name: str, declaring: str) -> Inputs:
    files = list(result.sources)
    for profile in result.sources:
        config = find_config_file(Path(profile).resolve().parent)
        files.append(str(config) if config else "")
    files += [t.file for t in artefact.tables if t.file]
    return Inputs(tuple((f, _hash(f) if f else None) for f in dict.fromkeys(files)),
                  (schema_name, declaring, artefact.schema_path, artefact.schema_digest))


def _still_valid(inputs: Inputs) -> bool:
    for file, digest in inputs.files:
        if (_hash(file) if file else None) != digest:
            return False
    name, declaring, found, digest = inputs.schema
    try:
        now = find_schema(name, declaring)
        return now is not None and str(now) == found and schema_digest(now) == digest
    except (ConfigError, OSError):
        return False


def load(path: Path) -> Entry | None:
    """The cached compile of ``path`` when every input it was made from is unchanged."""
    entry = cache.read(_entry_path(path))
    if not isinstance(entry, Entry) or entry.version != ENTRY_VERSION:
        return None
    try:
        return entry if _still_valid(entry.inputs) else None
    except Exception:  # an entry from an odd state: compile afresh
        return None


def store(path: Path, result: CompileResult, schema_name: str, declaring: str) -> None:
    """Keep a clean compile of ``path``."""
    if result.artefact is None or result.errors():
        return
    inputs = _inputs(result, result.artefact, schema_name, declaring)
    cache.write(_entry_path(path), Entry(ENTRY_VERSION, inputs, result.artefact,
                                         tuple(result.diagnostics), dict(result.sources)))


def compile_cached(path: Path | str) -> CompileResult:
    """``compile_file(path)``, or its outcome kept from an earlier process when the profile, its
    bases, their configuration, the schema and the tables are unchanged: the artefact, the
    diagnostics and the profile texts, not the AST or IR (``exportc compile --emit`` compiles
    afresh). Profiles with several targets (document kinds) are not kept. The compiler's passes
    (lark, the checks, codegen) are imported only when the cache cannot answer."""
    path = Path(path)
    entry = load(path)
    if entry is not None:
        return CompileResult(str(path), list(entry.diagnostics), dict(entry.sources),
                             artefact=entry.artefact)
    from exportc.compiler.pipeline import compile_file
    from exportc.dsl import ast
    result = compile_file(path)
    targets = [i for i in result.module.items if isinstance(i, ast.TargetDecl)] \
        if result.module is not None else []
    if result.ok and len(targets) == 1:
        store(path, result, targets[0].schema, targets[0].span.file or str(path))
    return result
