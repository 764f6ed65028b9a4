"""What a compile produced, in a module of its own so that the warm path (a profile found in
the compiled-profile cache, ``cached.compile_cached``) does not import the compiler's passes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exportc.artefact import Artefact
from exportc.diagnostics import Diagnostic

if TYPE_CHECKING:
    from exportc.compiler import ir
    from exportc.compiler.inherit import Override
    from exportc.compiler.schema import SchemaModel
    from exportc.dsl import ast


@dataclass
class CompileResult:
    """Everything a compile produced: the artefact (when clean) and every diagnostic."""

    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    module: ast.Module | None = None
    profile: ir.Profile | None = None
    artefact: Artefact | None = None
    overrides: list[Override] = field(default_factory=list)
    parsed: dict[str, ast.Module] = field(default_factory=dict)  # each file's own AST, unmerged
    schema: SchemaModel | None = None  # the target schema's model, once loaded

    @property
    def ok(self) -> bool:
        return self.artefact is not None and not self.errors()

    def errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)
