"""The grammar's parser tables shipped with the package (exportc/dsl/grammar.tables) are the ones
lark builds from grammar.lark: this fails when the grammar is edited, or lark upgraded, and the
file not rebuilt (scripts/grammar-tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lark import Lark

from exportc.dsl import lalr

REBUILD = "the shipped grammar tables are stale: run scripts/grammar-tables"


def _rule(r: Any) -> str:
    """A rule by its symbols' names (a fresh build names them with lark's tokens, a loaded one
    with plain strings)."""
    return repr((str(r.origin.name), [str(s.name) for s in r.expansion], r.alias, r.options, r.order))


def canonical(p: Lark) -> tuple[object, ...]:
    """The parser as what it does: terminals, rules, and the LALR states numbered in the order a
    walk from the start states meets them (lark numbers states and tokens differently from one
    build to the next)."""
    table = p.parser.parser.parser.parse_table
    number: dict[int, int] = {}
    walk = [table.start_states[s] for s in sorted(table.start_states)]
    states: list[tuple[object, ...]] = []
    while walk:
        state = walk.pop(0)
        if state in number:
            continue
        number[state] = len(number)
        actions = sorted(table.states[state].items())
        walk += [arg for _tok, (action, arg) in actions if action.name == "Shift"]
        states.append(tuple((tok, action.name, arg) for tok, (action, arg) in actions))
    shifts = tuple(tuple((tok, name, number[arg] if name == "Shift" else _rule(arg)) for tok, name, arg in s)
                   for s in states)
    ends = {s: number[table.end_states[s]] for s in table.end_states}
    terminals = sorted((t.name, repr(t.pattern), t.priority) for t in p.terminals)
    rules = sorted(_rule(r) for r in p.rules)
    return (shifts, ends, terminals, rules, sorted(p.lexer_conf.ignore), type(p.options.postlex))


def test_the_shipped_tables_are_those_of_the_grammar() -> None:
    text = lalr.grammar()
    shipped = lalr.shipped(text, lalr.SHIPPED)
    assert shipped is not None, REBUILD
    assert canonical(shipped) == canonical(lalr.build(text)), REBUILD


def test_the_canonical_form_tells_another_grammar_apart() -> None:
    """The comparison above can fail: a grammar with one keyword more gives other tables."""
    text = lalr.grammar()
    modes = 'HISTORY_MODE: "full" | "mutations" | "none"'
    other = text.replace(modes, modes + ' | "some"')
    assert other != text
    assert canonical(lalr.build(other)) != canonical(lalr.build(text))


def test_tables_for_another_grammar_are_not_used(tmp_path: Path) -> None:
    """A file whose key is not the grammar's (edited grammar, other lark) is passed over."""
    assert lalr.shipped(lalr.grammar() + "\n// edited\n", lalr.SHIPPED) is None
    assert lalr.shipped(lalr.grammar(), tmp_path / "missing.tables") is None
    (tmp_path / "corrupt.tables").write_bytes(b"not a pickle")
    assert lalr.shipped(lalr.grammar(), tmp_path / "corrupt.tables") is None
