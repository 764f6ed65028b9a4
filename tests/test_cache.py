"""Caches between processes: the grammar's parser tables and compiled profiles. A cache is only
ever a shortcut: a stale entry is never used, a corrupt one is ignored and rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportc.cache import cache_dir
from exportc.dsl import parser


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPORTC_CACHE_DIR", str(tmp_path / "cache"))
    parser._parser.cache_clear()
    yield cache_dir()
    parser._parser.cache_clear()


PROFILE = 'profile p "t"\ntarget "orders.xsd" root Orders\n'


def test_the_grammar_tables_are_cached_and_reused(own_cache: Path) -> None:
    assert parser.parse_text(PROFILE, "p.map").ok
    [entry] = own_cache.glob("grammar-*.lark-cache")
    made = entry.stat().st_mtime_ns
    parser._parser.cache_clear()  # as a new process would
    assert parser.parse_text(PROFILE, "p.map").ok
    assert entry.stat().st_mtime_ns == made  # read, not rebuilt


def test_a_corrupt_grammar_cache_is_rebuilt(own_cache: Path) -> None:
    parser.parse_text(PROFILE, "p.map")
    [entry] = own_cache.glob("grammar-*.lark-cache")
    entry.write_bytes(b"not a pickle")
    parser._parser.cache_clear()
    assert parser.parse_text(PROFILE, "p.map").ok
    assert entry.read_bytes() != b"not a pickle"
