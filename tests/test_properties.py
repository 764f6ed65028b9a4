"""Properties: the parser never crashes, whatever it is given; fmt keeps meaning."""

from __future__ import annotations

import random

from conftest import CORPUS, EXACT_PROFILE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportc.dsl.formatter import format_module
from exportc.dsl.parser import parse_bytes, parse_text

SEEDS = [p.read_text("utf-8") for p in sorted((CORPUS / "valid").glob("*.map"))]
SEEDS.append(EXACT_PROFILE.read_text("utf-8"))
TOKENS = ["{", "}", "(", ")", "[", "]", ">", "->", "==", "=", ":", ",", ".", "?", "-", "+", "/",
          '"', "#", "\n", " ", "\t", "param", "for", "where", "when", "check", "else", "let",
          "override", "if", "then", "null", "2026-13-01", "1.5", "x", "@code", "A/B"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    result = parse_text(text, "fuzz.map")
    assert result.module is not None or result.diagnostics


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    result = parse_bytes(data, "fuzz.map")
    assert result.module is not None or result.diagnostics


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 4))):
        pos = rnd.randrange(len(text) + 1)
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        if op == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + rnd.randrange(1, 12):]
        else:
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos + 1:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_profiles_parse_or_diagnose(text: str) -> None:
    result = parse_text(text, "mutated.map")
    if result.module is None:
        assert result.diagnostics
        return
    once = format_module(result.module)
    again = parse_text(once, "mutated.map")
    assert again.module == result.module
    assert format_module(again.module) == once  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_escaped_text_and_attributes_read_back_unchanged(text: str) -> None:
    """Whatever the text, an XML parser reads back exactly it, or it is a record error (E0601)."""
    from lxml import etree

    from exportc.runtime.api import RecordError, esc_attr, esc_text
    try:
        doc = f'<a x="{esc_attr(text)}">{esc_text(text)}</a>'
    except RecordError as err:
        assert err.code == "E0601"
        return
    element = etree.fromstring(doc.encode("utf-8"))
    assert element.get("x") == text
    assert (element.text or "") == text
