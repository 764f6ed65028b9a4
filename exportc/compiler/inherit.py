"""``extends`` / ``override``: merge a customer profile into its base.

A customer profile may set param defaults, replace tables and lets, add checks, add fields to a
base source (a customer-chosen field, declared with its type; the base's fields keep theirs),
and give a new value for any rule the base marks ``override``. Rules are matched by their full target path
(block paths plus rule target), so ``Accounts/Account { X > Contact/LastName }`` overrides
``Contact { Achternaam > LastName override }`` inside ``Accounts/Account``. Overriding an
unmarked rule, or a rule the base does not have, is an error pointing at both files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from exportc.compiler.resolve import did_you_mean
from exportc.diagnostics import Diagnostic, Related, Span, error
from exportc.dsl import ast


@dataclass(frozen=True)
class Override:
    """One merged rule: where the base wrote it and where the customer replaced it."""

    target: str
    base: Span
    override: Span


@dataclass
class Merge:
    module: ast.Module
    overrides: list[Override] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _full(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix else path


def _child_rules(items: tuple[ast.BlockItem, ...], prefix: str, for_: str | None,
                 out: list[tuple[str, str | None, ast.Rule]], diags: list[Diagnostic]) -> None:
    for item in items:
        if isinstance(item, ast.Rule):
            out.append((_full(prefix, item.target), for_, item))
        elif isinstance(item, ast.Block):
            _child_rules(item.items, _full(prefix, item.path), item.for_ or for_, out, diags)
        else:
            diags.append(error("E0404", "a customer profile's blocks may only override rules",
                               item.span, "put checks and lets at the top level"))


def merge(base: ast.Module, child: ast.Module) -> Merge:
    """The base module with the child's declarations and overrides applied."""
    result = Merge(base)
    diags = result.diagnostics
    by_name: dict[tuple[str, str], int] = {}
    items = list(base.items)
    for i, item in enumerate(items):
        if isinstance(item, ast.ParamDecl | ast.TableDecl | ast.LetDecl):
            by_name[(type(item).__name__, item.name)] = i
    overrides: list[tuple[str, str | None, ast.Rule]] = []
    for item in child.items:
        match item:
            case ast.ProfileDecl():
                idx = next((i for i, it in enumerate(items) if isinstance(it, ast.ProfileDecl)), None)
                new = replace(item, extends=None, title=item.title)
                if idx is None:
                    items.insert(0, new)
                else:
                    items[idx] = new
            case ast.TargetDecl() | ast.HistoryDecl():
                # a target replaces the base's target of the same document kind (root)
                idx = next((i for i, it in enumerate(items) if type(it) is type(item) and (
                    not isinstance(it, ast.TargetDecl) or len(_targets(items)) == 1
                    or it.root == item.root)), None)  # type: ignore[union-attr]
                if idx is None:
                    items.append(item)
                else:
                    items[idx] = item
            case ast.ParamDecl() | ast.TableDecl() | ast.LetDecl():
                key = (type(item).__name__, item.name)
                if key in by_name:
                    old = items[by_name[key]]
                    item = _replace_decl(old, item, diags)  # type: ignore[arg-type]
                    items[by_name[key]] = item
                else:
                    by_name[key] = len(items)
                    items.append(item)
            case ast.CheckDecl():
                items.append(item)
            case ast.SourceDecl():
                _add_fields(items, item, diags)
            case ast.Block():
                _child_rules(item.items, item.path, item.for_, overrides, diags)
    matched: set[int] = set()
    base_paths: list[str] = []
    marked = _marked(items)

    def visit(block: ast.Block, prefix: str, for_: str | None) -> ast.Block:
        path = _full(prefix, block.path)
        block_for = block.for_ or for_
        new_items: list[ast.BlockItem] = []
        for it in block.items:
            if isinstance(it, ast.Block):
                new_items.append(visit(it, path, block_for))
                continue
            if not isinstance(it, ast.Rule):
                new_items.append(it)
                continue
            full = _full(path, it.target)
            base_paths.append(full)
            hits = [(n, r) for n, (t, f, r) in enumerate(overrides)
                    if t == full and (f is None or f == block_for)]
            if not hits:
                new_items.append(it)
                continue
            n, rule = hits[-1]
            if not it.override and full in marked:
                # Another base rule for this target is marked (the Exact profile's YourRef of a
                # new invoice, not of its reversal): the override is for that one.
                new_items.append(it)
                continue
            matched.add(n)
            if not it.override:
                diags.append(error(
                    "E0403", f"`{full}` is not marked `override` in the base profile",
                    rule.target_span, "only rules marked `override` may be changed",
                    [Related(it.span, "the base rule, without `override`")]))
                new_items.append(it)
                continue
            result.overrides.append(Override(full, it.span, rule.span))
            new_items.append(ast.Rule(rule.value, it.target, True, it.target_span, rule.span))
        return replace(block, items=tuple(new_items))

    items = [visit(it, "", None) if isinstance(it, ast.Block) else it for it in items]
    for n, (target, _f, rule) in enumerate(overrides):
        if n not in matched:
            diags.append(error("E0402", f"the base profile has no rule for `{target}`",
                               rule.target_span, did_you_mean(target, base_paths)))
    result.module = ast.Module(tuple(items), base.comments, base.span)
    return result


def _marked(items: list[ast.Item]) -> set[str]:
    """The full target paths of the base rules marked ``override``."""
    out: set[str] = set()

    def walk(block: ast.Block, prefix: str) -> None:
        path = _full(prefix, block.path)
        for it in block.items:
            if isinstance(it, ast.Block):
                walk(it, path)
            elif isinstance(it, ast.Rule) and it.override:
                out.add(_full(path, it.target))
    for item in items:
        if isinstance(item, ast.Block):
            walk(item, "")
    return out


def _add_fields(items: list[ast.Item], child: ast.SourceDecl, diags: list[Diagnostic]) -> None:
    """Add a customer profile's fields to the base source of the same name (in ``items``)."""
    idx = next((i for i, it in enumerate(items)
                if isinstance(it, ast.SourceDecl) and it.name == child.name), None)
    if idx is None:
        names = [it.name for it in items if isinstance(it, ast.SourceDecl)]
        diags.append(error("E0404", f"the base profile has no source `{child.name}`", child.span,
                           did_you_mean(child.name, names) or "a customer profile may add fields "
                           "to a base source, not declare a new one"))
        return
    base = items[idx]
    assert isinstance(base, ast.SourceDecl)
    shape = child.shape
    if shape.key or shape.window or shape.join_source:
        diags.append(error("E0404", f"the key, window and joins of source `{child.name}` are the "
                           "base's", child.span, "a customer profile only adds fields"))
        return
    declared = {f.name: f for f in base.shape.fields}
    added: list[ast.FieldDecl | ast.ListFieldDecl | ast.RefFieldDecl] = []
    for f in shape.fields:
        old = declared.get(f.name)
        if old is None:
            added.append(f)
        elif not (isinstance(old, ast.FieldDecl) and isinstance(f, ast.FieldDecl)
                  and old.type == f.type):
            diags.append(error("E0410", f"field `{f.name}` of source `{child.name}` is declared by "
                               "the base profile; its type cannot be changed", f.span,
                               "add a field with another name (a customer-chosen field)",
                               [Related(old.span, "the base's declaration")]))
    items[idx] = replace(base, shape=replace(base.shape, fields=base.shape.fields + tuple(added)))


def _replace_decl(old: ast.ParamDecl | ast.TableDecl | ast.LetDecl,
                  new: ast.ParamDecl | ast.TableDecl | ast.LetDecl,
                  diags: list[Diagnostic]) -> ast.Item:
    if isinstance(old, ast.ParamDecl) and isinstance(new, ast.ParamDecl):
        if old.type != new.type:
            diags.append(error("E0405", f"param `{new.name}` is {_t(old.type)} in the base, not "
                               f"{_t(new.type)}", new.type.span, None,
                               [Related(old.span, "declared here")]))
            return old
        return replace(old, default=new.default, description=new.description or old.description,
                       span=new.span)
    if isinstance(old, ast.TableDecl) and isinstance(new, ast.TableDecl):
        if old.key_type != new.key_type or old.value_type != new.value_type:
            diags.append(error("E0405", f"table `{new.name}` must keep the base's types "
                               f"({_t(old.key_type)} -> {_t(old.value_type)})", new.span, None,
                               [Related(old.span, "declared here")]))
            return old
    return new


def _t(t: ast.TypeRef) -> str:
    from exportc.dsl.formatter import format_type
    return format_type(t)


def _targets(items: list[ast.Item]) -> list[ast.TargetDecl]:
    return [i for i in items if isinstance(i, ast.TargetDecl)]
