"""The grammar's LALR parser, and the tables shipped with it.

Building the tables from ``grammar.lark`` takes ~0.3-0.4 s (lark's strict mode checks every pair
of terminals for collisions), a quarter of a cold ``exportc check``. So the package ships them:
``grammar.tables`` holds the parser lark builds (``Lark.save``) behind a key of the grammar's
text and lark's version, written by ``scripts/grammar-tables``.
Loading them takes milliseconds. Where the key does not fit (the grammar was edited and the file
not rebuilt, or another lark is installed) they are built as before and kept in the user cache;
tests/test_grammar_tables.py fails while the shipped file is stale, so it is never stale in a
release.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token

from exportc.cache import cache_dir

SHIPPED = Path(__file__).with_name("grammar.tables")


class LetEnd:
    """Post-lexer: a ``let`` ends at the end of its line, unless inside brackets.

    Without it ``let x = a`` followed by a rule starting with ``-``, ``(`` or ``[`` would be
    ambiguous, since whitespace (newlines included) is otherwise insignificant. (The shipped
    tables name this class: moving or renaming it makes them stale, which the test reports.)
    """

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        let_depth: int | None = None
        started = False
        prev: Token | None = None
        for tok in stream:
            if let_depth is not None and started and depth == let_depth and prev is not None and (
                tok.line != prev.end_line or tok.type in ("RBRACE", "LET")
            ):
                yield Token.new_borrow_pos("_LET_END", "", prev)
                let_depth = None
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            if tok.type == "LET":
                let_depth, started = depth, False
            elif let_depth is not None and prev is not None and prev.type == "EQUAL":
                started = True
            prev = tok
            yield tok
        if let_depth is not None and prev is not None:
            yield Token.new_borrow_pos("_LET_END", "", prev)


def grammar() -> str:
    return resources.files("exportc.dsl").joinpath("grammar.lark").read_text("utf-8")


def key(text: str) -> str:
    """What the tables are built from: the grammar's text and lark's version."""
    return hashlib.sha256(f"{lark.__version__}\n{text}".encode()).hexdigest()[:32]


def _options() -> dict[str, Any]:
    return dict(parser="lalr", lexer="contextual", propagate_positions=True, postlex=LetEnd(),
                maybe_placeholders=True, strict=True,
                start=["start", "expr"])  # `expr`: a message's placeholders


def build(text: str, cache_file: Path | None = None) -> Lark:
    """The parser built from the grammar (``cache_file``: lark keeps the tables there)."""
    if cache_file is None:
        return Lark(text, **_options())
    return Lark(text, cache=str(cache_file), **_options())


def shipped(text: str, path: Path) -> Lark | None:
    """The parser of the tables in ``path``, or None when they were built from another grammar
    or lark (or cannot be read)."""
    try:
        with open(path, "rb") as fh:
            if pickle.load(fh) != key(text):
                return None
            return Lark.load(fh)
    except Exception:  # unreadable tables only cost time: they are built instead
        return None


@cache
def parser() -> Lark:
    """The shipped tables; else built, and kept in the user cache under the grammar's key (lark
    checks its own hash again on load and rebuilds a stale or corrupt file)."""
    text = grammar()
    found = shipped(text, SHIPPED)
    if found is not None:
        return found
    path = cache_dir() / f"grammar-{key(text)}.lark-cache"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return build(text, path)
    except Exception:  # an unwritable or unreadable cache only costs time
        return build(text)


def write(path: Path = SHIPPED) -> None:
    """Build the tables from the grammar and write them behind its key."""
    text = grammar()
    tables = io.BytesIO()
    build(text).save(tables)
    path.write_bytes(pickle.dumps(key(text), protocol=pickle.HIGHEST_PROTOCOL) + tables.getvalue())
