"""How deep an expression may nest, and the stack the compiler's recursive passes may use.

The passes (resolve, type checks, codegen) and lark's tree transformer recurse once per level of
an expression, several frames each: a sum of 180 terms or 500 unary minuses went past Python's
recursion limit and ``exportc check`` died with a traceback. So compiling runs with a larger
limit (``deep_stack``), and an expression nested deeper than ``MAX_DEPTH`` is a diagnostic that
says how to split it. The bound also keeps the generated Python under its parser's limit of 200
nested parentheses.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from exportc.diagnostics import Diagnostic, error
from exportc.dsl import ast

MAX_DEPTH = 128  # levels of one expression: `a + b + ... ` with 128 terms is 128 deep
STACK = 10_000  # recursion limit while compiling: MAX_DEPTH levels at a dozen frames each, and then some

_EXPRS = tuple(t for t in ast.Expr.__args__)  # type: ignore[attr-defined]


@contextmanager
def deep_stack() -> Iterator[None]:
    """Run with a recursion limit that fits expressions of ``MAX_DEPTH`` levels."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, STACK))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _children(node: object) -> Iterator[object]:
    if isinstance(node, tuple | list):
        yield from node
    elif dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            if f.name != "span":
                yield getattr(node, f.name)


def _depth(root: object) -> int:
    """Levels of nested expressions under ``root`` (itself one), without recursion."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        for child in _children(node):
            if isinstance(child, tuple | list):
                stack.extend((c, level + 1 if isinstance(c, _EXPRS) else level) for c in child)
            elif isinstance(child, _EXPRS):
                stack.append((child, level + 1))
    return deepest


def too_deep(module: ast.Module) -> list[Diagnostic]:
    """An error for every outermost expression nested deeper than ``MAX_DEPTH``."""
    out: list[Diagnostic] = []
    stack: list[object] = [module]
    while stack:
        node = stack.pop()
        if isinstance(node, _EXPRS):
            depth = _depth(node)
            if depth > MAX_DEPTH:
                out.append(error("E0123", f"this expression nests {depth} levels deep; at most "
                                 f"{MAX_DEPTH} are allowed", node.span,  # type: ignore[union-attr]
                                 "split it into steps with `let` (e.g. a long sum into sums of parts)"))
            continue
        stack.extend(reversed(list(_children(node))))
    return sorted(out, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
