"""Cardinality across sibling blocks: an element's minOccurs/maxOccurs bound it under one parent,
whichever blocks write it. Guaranteed bounds are decided at compile time; the rest is counted at
run time and fails only the record that breaks it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT
from helpers import artefact, assert_valid, run

SCHEMA = ROOT / "tests" / "schemas" / "occurs.xsd"
HEAD = f'''profile t.occurs
target "{SCHEMA}" root Entries
source entries key id {{
  id: text  flag: bool
  a: list key n {{ n: int  x: decimal }}
  b: list key n {{ n: int  x: decimal }}
}}
'''


def _entry(key: str, a: int = 0, b: int = 0, flag: bool = False) -> dict[str, object]:
    return {"id": key, "flag": flag, "a": [{"n": i, "x": "1.50"} for i in range(a)],
            "b": [{"n": i, "x": "2"} for i in range(b)]}


def _setup(tmp_path: Path, body: str, entries: list[dict[str, object]]) -> tuple[Path, dict[str, Path]]:
    profile = tmp_path / "occurs.map"
    profile.write_text(HEAD + "Entry for entries {\n  id > @id\n" + body + "}\n", "utf-8")
    data = tmp_path / "entries.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in entries), "utf-8")
    return profile, {"entries": data}


def _failed(report: object) -> dict[str, str]:
    return {p.record: f"{p.code} {p.message}" for p in report.errors}  # type: ignore[attr-defined]


def test_minimum_counts_every_sibling_for_block(tmp_path: Path) -> None:
    body = "  Line for a { x > Amount }\n  Line for b { x > Amount }\n"
    profile, sources = _setup(tmp_path, body, [_entry("e1", a=1), _entry("e2", b=1), _entry("e3")])
    report = run(profile, tmp_path / "out", sources, skip_invalid=True)
    assert _failed(report) == {"id=e3": "E0603 `Entry` needs at least 1 `Line`, found 0"}
    (problem,) = report.errors
    # the first block writing `Line`
    assert problem.line_text and problem.line_text.strip() == "Line for a { x > Amount }"
    assert report.blocks["Entry"].written == 2
    assert_valid(tmp_path / "out" / "t.occurs.xml", SCHEMA)


def test_an_unconditional_sibling_settles_the_minimum_at_compile_time(tmp_path: Path) -> None:
    body = "  Line { 0 > Amount }\n  Line for a { x > Amount }\n"
    profile, sources = _setup(tmp_path, body, [_entry("e1"), _entry("e2", a=2)])
    assert "too_few" not in artefact(profile).python
    report = run(profile, tmp_path / "out", sources)
    assert report.status == "succeeded", report.summary()
    assert_valid(tmp_path / "out" / "t.occurs.xml", SCHEMA)


def test_maximum_counts_every_sibling_and_fails_only_that_record(tmp_path: Path) -> None:
    body = "  Line { 0 > Amount }\n  Line for a { x > Amount }\n"
    profile, sources = _setup(tmp_path, body, [_entry("e1", a=2), _entry("e2", a=3)])
    report = run(profile, tmp_path / "out", sources, skip_invalid=True)
    assert _failed(report) == {"id=e2": "E0611 `Entry` allows at most 3 `Line`, found 4"}
    assert report.blocks["Entry"].written == 1
    assert_valid(tmp_path / "out" / "t.occurs.xml", SCHEMA)


def test_conditional_siblings_are_counted_at_run_time(tmp_path: Path) -> None:
    body = ('  Tag when flag { "a" > @v }\n  Tag when flag { "b" > @v }\n'
            '  Tag when flag { "c" > @v }\n  Tag { "d" > @v }\n  Line { 0 > Amount }\n')
    profile, sources = _setup(tmp_path, body, [_entry("e1"), _entry("e2", flag=True)])
    python = artefact(profile).python
    assert "too_many('Entry', 'Tag', 2" in python and "too_few" not in python
    report = run(profile, tmp_path / "out", sources, skip_invalid=True)
    assert _failed(report) == {"id=e2": "E0611 `Entry` allows at most 2 `Tag`, found 4"}
    assert_valid(tmp_path / "out" / "t.occurs.xml", SCHEMA)


def test_bounds_the_blocks_always_keep_generate_no_count(tmp_path: Path) -> None:
    body = '  Tag { "a" > @v }\n  Tag when flag { "b" > @v }\n  Line { 0 > Amount }\n  Line { 1 > Amount }\n'
    profile, sources = _setup(tmp_path, body, [_entry("e1"), _entry("e2", flag=True)])
    python = artefact(profile).python
    assert "too_many" not in python and "too_few" not in python
    report = run(profile, tmp_path / "out", sources)
    assert report.status == "succeeded", report.summary()
    assert_valid(tmp_path / "out" / "t.occurs.xml", SCHEMA)
