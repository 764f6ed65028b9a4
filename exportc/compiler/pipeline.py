"""The compiler's façade: the passes, in order, from a ``.map`` file to an artefact.

    read_config → parse (with merge_base) → declare → load_schema → plan_targets
                → generate_python → lower_artefact

(``PASSES`` below is that list, and ``compile_file`` runs it.)
Each pass adds diagnostics; a pass that needs a clean input stops the pipeline when an earlier
one found errors. Nothing here runs a profile: the artefact goes to ``exportc.runtime``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exportc.compiler import ir
from exportc.compiler.codegen import generate
from exportc.compiler.declare import Declarations
from exportc.compiler.inherit import merge
from exportc.compiler.lower import lower
from exportc.compiler.resolve import Resolver, Scope, did_you_mean
from exportc.compiler.result import CompileResult
from exportc.compiler.schema import SchemaError, SchemaModel, load_models
from exportc.compiler.targets import TargetPlanner
from exportc.config import ConfigError
from exportc.diagnostics import Related, Span, error
from exportc.dsl import ast
from exportc.dsl.depth import deep_stack
from exportc.dsl.parser import parse_file, parse_text
from exportc.project import display_path, find_base, find_schema, project_of, schema_folders


def _load(path: Path, result: CompileResult, chain: tuple[Path, ...] = (), text: str | None = None
          ) -> ast.Module | None:
    """parse + merge_base, recursively for base profiles (each found from its child's location:
    see ``exportc.project``); ``text`` replaces the file's saved content (an editor's buffer)."""
    parsed = parse_text(text, str(path)) if text is not None else parse_file(str(path))
    result.sources[str(path)] = parsed.source
    result.diagnostics += parsed.diagnostics
    if parsed.module is None or not parsed.ok:
        return None
    module = result.parsed[str(path)] = parsed.module
    header = next((i for i in module.items if isinstance(i, ast.ProfileDecl)), None)
    if header is None:
        result.diagnostics.append(error("E0406", "the profile has no `profile` declaration",
                                        Span.point(str(path), 1, 1),
                                        'start it with `profile name "title"`'))
        return None
    if header.extends is None:
        return module
    try:
        base_path = find_base(header.extends, header.extends_is_path, str(path))
        folders = project_of(path).profiles
    except ConfigError as exc:
        result.diagnostics.append(error("E0002", str(exc), header.span))
        return None
    if base_path is None:
        where = ", ".join(os.path.relpath(f) for f in folders) or "(none)"
        result.diagnostics.append(error(
            "E0407", f"cannot find the base profile `{header.extends}`", header.span,
            "give a path (`extends \"../base.map\"`) or a profile name found in the profile "
            f"folders of exportc.toml: {where}"))
        return None
    if base_path in chain or base_path == path.resolve():
        result.diagnostics.append(error("E0408", f"`{header.extends}` extends itself, through "
                                        f"{' -> '.join(p.name for p in (*chain, path.resolve(), base_path))}",
                                        header.span))
        return None
    base = _load(display_path(base_path), result, (*chain, path.resolve()))
    if base is None:
        return None
    merged = merge(base, module)
    result.diagnostics += merged.diagnostics
    result.overrides += merged.overrides
    return merged.module


def compile_file(path: Path | str, text: str | None = None, emit: bool = True) -> CompileResult:
    """Run ``PASSES`` over one profile, in order, until one stops. ``text`` is the profile's
    unsaved content (the language server's buffer; its base, schema and tables are still found
    from ``path``); without ``emit`` the checks run but no code is generated (``artefact`` stays
    None)."""
    c = _Compilation(Path(path), text, emit, CompileResult(str(path)))
    with deep_stack():  # the passes recurse per level of an expression (dsl.depth)
        for step in PASSES:
            if not step.run(c):
                break
    return c.result


@dataclass
class _Compilation:
    """One compile in progress: its inputs, what each pass made so far, and the result."""

    path: Path
    text: str | None
    emit: bool
    result: CompileResult
    decl: Declarations = field(default_factory=Declarations)
    kinds: list[_Kind] = field(default_factory=list)
    python: tuple[str, list[tuple[str, int]]] = ("", [])


def read_config(c: _Compilation) -> bool:
    """A broken exportc.toml is reported once, before anything else."""
    try:
        project_of(c.path)
    except ConfigError as exc:
        c.result.diagnostics.append(error("E0002", str(exc), None))
        return False
    return True


def parse(c: _Compilation) -> bool:
    """Parse the profile and its bases, merged into one module (``merge_base``)."""
    c.result.module = _load(c.path, c.result, text=c.text)
    return c.result.module is not None


def declare(c: _Compilation) -> bool:
    """Params, tables, sources and lets, by name."""
    assert c.result.module is not None
    c.decl = _declare(c.result.module, str(c.path))
    c.result.diagnostics += c.decl.diagnostics
    return True


def load_schema(c: _Compilation) -> bool:
    """Each target's schema model (several targets: one document kind each)."""
    module = c.result.module
    assert module is not None
    targets = [i for i in module.items if isinstance(i, ast.TargetDecl)]
    if not targets:
        c.result.diagnostics.append(error("E0401", "the profile has no `target`", _header(module).span,
                                          'add `target "schema.xsd" root RootElement`'))
        return False
    kinds = _kinds(module, targets, str(c.path), c.result)
    if kinds is None:
        return False
    c.kinds = kinds
    c.result.schema = kinds[0].model  # the first kind's, for tooling (exportc lsp)
    return True


def plan_targets(c: _Compilation) -> bool:
    """Resolve every rule against the schema into the checked IR; stop on any error so far."""
    module = c.result.module
    assert module is not None
    profile = _plan(module, _header(module), c.kinds, c.decl, c.result)
    if profile is None or c.result.errors():
        return False
    c.result.profile = profile
    return c.emit


def generate_python(c: _Compilation) -> bool:
    """The profile's module: Python source and its line map (``codegen``)."""
    assert c.result.profile is not None
    c.python = generate(c.result.profile)
    return True


def lower_artefact(c: _Compilation) -> bool:
    """The artefact the runtime reads (``lower``)."""
    assert c.result.profile is not None
    c.result.artefact = lower(c.result.profile, *c.python, c.result.sources)
    return True


@dataclass(frozen=True)
class Pass:
    """One step of a compile: ``run`` returns whether the next may run."""

    name: str
    run: Callable[[_Compilation], bool]


# The order compile_file runs, the one place it is written down.
PASSES: tuple[Pass, ...] = tuple(Pass(f.__name__, f) for f in (
    read_config, parse, declare, load_schema, plan_targets, generate_python, lower_artefact))


def _header(module: ast.Module) -> ast.ProfileDecl:
    return next(i for i in module.items if isinstance(i, ast.ProfileDecl))


@dataclass
class _Kind:
    """A target with its schema model (and, for documents, its schematron stylesheets)."""

    decl: ast.TargetDecl
    model: SchemaModel
    schematron: tuple[str, ...]


def _kinds(module: ast.Module, targets: list[ast.TargetDecl], file: str, result: CompileResult) -> list[_Kind] | None:
    """Every target's schema; several targets only as document kinds, one per root."""
    documents = any(isinstance(i, ast.Block) and i.document for i in module.items)
    if len(targets) > 1 and not documents:
        result.diagnostics.append(error(
            "E0337", "several targets need `document` blocks", targets[1].span,
            "each target is a kind of document: write `document Root for source file name { }`",
            [Related(targets[0].span, "first target")]))
        return None
    seen: dict[str, ast.TargetDecl] = {}
    paths: list[Path] = []
    for t in targets:
        if t.root in seen:
            result.diagnostics.append(error("E0337", f"two targets have the root `{t.root}`",
                                            t.span, "each document kind needs its own root",
                                            [Related(seen[t.root].span, "first target")]))
            return None
        seen[t.root] = t
        path = _schema_path(t, file, result)
        if path is None:
            return None
        paths.append(path)
    models = load_models(paths)  # together: Invoice and CreditNote share most of their XSDs
    kinds: list[_Kind] = []
    for t, path in zip(targets, paths, strict=True):
        model = models[path]
        if isinstance(model, SchemaError):
            shown = str(model).replace(str(path), str(display_path(path)))
            result.diagnostics.append(error("E0314", f"cannot read the schema: {shown}", t.span))
            return None
        rules = []
        for name in t.schematron:
            try:
                found = find_schema(name, t.span.file or file)  # the declaring file's project
            except ConfigError as exc:
                result.diagnostics.append(error("E0002", str(exc), t.span))
                return None
            if found is None:
                result.diagnostics.append(error(
                    "E0339", f"cannot find the schematron stylesheet `{name}`", t.span,
                    "give the compiled XSLT beside the profile or in a schema folder of exportc.toml"))
                return None
            rules.append(str(found))
        kinds.append(_Kind(t, model, tuple(rules)))
    return kinds


def _declare(module: ast.Module, file: str) -> Declarations:
    decl = Declarations()
    for item in module.items:
        match item:
            case ast.ParamDecl():
                decl.param(item)
            case ast.TableDecl():
                decl.table(item, item.span.file or file)
            case ast.SourceDecl():
                decl.source(item)
            case ast.LetDecl():
                if decl._unique("let", item.name, item.span):
                    decl.lets[item.name] = item
    decl.check_relations()
    return decl


def _schema_path(target: ast.TargetDecl, file: str, result: CompileResult) -> Path | None:
    declaring = target.span.file or file  # a base's target: the base's own project
    try:
        schema_path = find_schema(target.schema, declaring)
        folders = schema_folders(declaring)
    except ConfigError as exc:
        result.diagnostics.append(error("E0002", str(exc), target.span))
        return None
    if schema_path is None:
        searched = list(dict.fromkeys(str(display_path(f)) for f in folders))
        result.diagnostics.append(error(
            "E0313", f"cannot find the schema `{target.schema}`", target.span,
            "searched " + ", ".join(searched) + "; list the folder under `schemas` in exportc.toml"))
        return None
    return schema_path


def _plan(module: ast.Module, header: ast.ProfileDecl, kinds: list[_Kind], decl: Declarations,
          result: CompileResult) -> ir.Profile | None:
    resolver = Resolver(decl.params, decl.tables, decl.sources)
    planners = {k.decl.root: TargetPlanner(k.model, resolver, k.decl.root, k.decl.span, decl.lets)
                for k in kinds}
    first = planners[kinds[0].decl.root]
    documents = any(isinstance(i, ast.Block) and i.document for i in module.items)
    blocks: list[ir.TopBlock] = []
    global_checks: list[ir.Check] = []
    seen_paths: dict[str, Span] = {}
    for item in module.items:
        if isinstance(item, ast.Block):
            planner = _document_planner(item, planners, first, documents) if documents else first
            if planner is None:
                continue
            if item.for_ is None and item.path in seen_paths:
                planner.err("E0304", f"`{item.path}` is written by two blocks", item.path_span,
                            "merge them", [Related(seen_paths[item.path], "first written here")])
                continue
            seen_paths.setdefault(item.path, item.span)
            top = planner.top_block(item, len(blocks), decl.sources)
            if top is not None:
                blocks.append(top)
        elif isinstance(item, ast.CheckDecl):
            if item.per or (isinstance(item.condition, ast.Call)
                            and item.condition.func in ("no_overlap", "unique")):
                first.err("E0220", "set-level checks belong in a `for` block", item.span)
                continue
            scope = Scope(lets=(decl.lets,))
            cond = resolver.condition(item.condition, scope, "a check")
            global_checks.append(ir.Check(cond, item.severity, resolver.message(item.parts, scope),
                                          item.span))
    if documents:
        _one_kind_per_record(module, first)
    result.diagnostics += resolver.diagnostics + [d for p in planners.values() for d in p.diagnostics]
    if not any(isinstance(i, ast.Block) for i in module.items):
        result.diagnostics.append(error("E0409", "the profile writes nothing: it has no target "
                                        "blocks", header.span,
                                        "add a block such as `Accounts/Account for customers { }`"))
    history = next((i.mode for i in module.items if isinstance(i, ast.HistoryDecl)), "full")
    blocks.sort(key=lambda b: (b.position, b.index))
    main = kinds[0]
    roots = {k.decl.root: planners[k.decl.root].root for k in kinds}  # as written -> as in the XSD
    return ir.Profile(header.name, header.title, header.span.file, main.model.path,
                      main.model.digest, roots[main.decl.root], _namespaces(main, roots[main.decl.root]),
                      history, decl.params, decl.tables, decl.sources, blocks, global_checks,
                      tuple(result.sources),
                      {roots[k.decl.root]: ir.DocumentKind(roots[k.decl.root], k.model.path, k.model.digest,
                                                    _namespaces(k, roots[k.decl.root]), k.schematron)
                       for k in kinds} if documents else {})


def _namespaces(kind: _Kind, root: str) -> dict[str, str]:
    """The namespace declarations of a kind's root: every prefix its elements use, and the
    default namespace when the root has no prefix."""
    model = kind.model
    namespaces = dict(model.element_namespaces)
    if model.roots.get(root) is not None and ":" not in root and model.namespaces.get(""):
        namespaces[""] = model.namespaces[""]
    return namespaces


def _document_planner(block: ast.Block, planners: dict[str, TargetPlanner], first: TargetPlanner,
                      documents: bool) -> TargetPlanner | None:
    """The planner of a document block's kind; a misplaced or incomplete block is reported."""
    if not block.document:
        first.err("E0336", "this profile writes one document per record, so every top-level "
                  "block must be a `document` block", block.path_span,
                  f"write `document {next(iter(planners))} for ... file ... {{ }}` and put this "
                  "block inside it")
        return None
    planner = planners.get(block.path)
    if planner is None:
        first.err("E0334", f"no target has the root `{block.path}`", block.path_span,
                  did_you_mean(block.path, planners) or "document kinds here: "
                  + ", ".join(planners) + "; add `target \"schema.xsd\" root " + block.path + "`")
        return None
    if block.for_ is None:
        first.err("E0333", "a document block needs `for`: it writes one document per record",
                  block.path_span, f"write `document {block.path} for source file name {{ }}`")
        return None
    if block.file is None:
        first.err("E0332", "a document block needs a file name", block.path_span,
                  "add `file expression`, e.g. `file Factuurnummer + \".xml\"`")
        return None
    return planner


def _one_kind_per_record(module: ast.Module, planner: TargetPlanner) -> None:
    """Two document blocks that both take every record of one source would make two kinds of
    document for one record: each needs a `where` that chooses."""
    unconditional: dict[str, ast.Block] = {}
    for b in module.items:
        if isinstance(b, ast.Block) and b.document and b.for_ and b.where is None:
            if b.for_ in unconditional:
                planner.err("E0335", f"two document blocks make a document for every record of "
                            f"`{b.for_}`", b.path_span,
                            "give them `where` conditions that choose one kind per record",
                            [Related(unconditional[b.for_].path_span, "also for every record")])
            unconditional.setdefault(b.for_, b)
