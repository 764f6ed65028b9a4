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


# ---- compiled profiles ----------------------------------------------------------------------

BASE = '''profile t.base "A base"
target "orders.xsd" root Orders
table status: text -> text "state -> code" from "status.csv"
source orders key id { id: text  placed: date  state: text }

Order for orders {
  id > @id
  placed > Date
  status[state] > Status override
}
'''
CHILD = 'profile t.child extends "base.map"\n'


@pytest.fixture
def project(tmp_path: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from conftest import ROOT
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "exportc.toml").write_text('[exportc]\nprofiles = ["."]\nschemas = ["."]\n', "utf-8")
    (folder / "orders.xsd").write_text((ROOT / "tests" / "schemas" / "orders.xsd").read_text("utf-8"), "utf-8")
    (folder / "status.csv").write_text("state,code\nopen,O\n", "utf-8")
    (folder / "base.map").write_text(BASE, "utf-8")
    (folder / "child.map").write_text(CHILD, "utf-8")
    monkeypatch.chdir(folder)
    return folder


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real compiles from here on."""
    from exportc.compiler import pipeline
    calls: list[str] = []
    real = pipeline.compile_file

    def counting(path: Path | str, *a: object, **k: object) -> pipeline.CompileResult:
        calls.append(str(path))
        return real(path, *a, **k)  # type: ignore[arg-type]
    monkeypatch.setattr(pipeline, "compile_file", counting)
    return calls


def test_a_warm_compile_comes_from_the_cache(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exportc.compiler.pipeline import compile_cached
    first = compile_cached("child.map")
    assert first.ok, first.diagnostics
    calls = _compiles(monkeypatch)
    warm = compile_cached("child.map")
    assert calls == []
    assert warm.ok and warm.artefact == first.artefact and warm.sources == first.sources


@pytest.mark.parametrize(("file", "change"), [
    ("base.map", lambda t: t.replace("status[state] > Status override", "\"O\" > Status override")),
    ("status.csv", lambda t: t + "closed,C\n"),
    ("orders.xsd", lambda t: t.replace("<!--", "<!-- changed:")),
    ("exportc.toml", lambda t: t + "# a comment\n"),
    ("child.map", lambda t: t + "# a comment\n"),
], ids=["base", "table", "schema", "config", "profile"])
def test_a_changed_input_compiles_again(project: Path, monkeypatch: pytest.MonkeyPatch, file: str,
                                        change: object) -> None:
    from exportc.compiler.pipeline import compile_cached
    assert compile_cached("child.map").ok
    path = project / file
    path.write_text(change(path.read_text("utf-8")), "utf-8")  # type: ignore[operator]
    calls = _compiles(monkeypatch)
    again = compile_cached("child.map")
    assert calls == ["child.map"] and again.ok
    assert compile_cached("child.map").ok and calls == ["child.map"]  # and cached again


def test_a_corrupt_compiled_entry_is_ignored_and_rebuilt(project: Path, own_cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from exportc.compiler.pipeline import compile_cached
    assert compile_cached("child.map").ok
    [entry] = own_cache.glob("compiled-*.pickle")
    entry.write_bytes(entry.read_bytes()[:100])
    calls = _compiles(monkeypatch)
    assert compile_cached("child.map").ok and calls == ["child.map"]
    assert compile_cached("child.map").ok and calls == ["child.map"]


def test_a_profile_with_errors_is_not_kept(project: Path, own_cache: Path) -> None:
    from exportc.compiler.pipeline import compile_cached
    (project / "child.map").write_text(CHILD + "param x: nope\n", "utf-8")
    assert not compile_cached("child.map").ok
    assert not list(own_cache.glob("compiled-*.pickle"))


def test_a_changed_code_generator_compiles_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry's key holds exportc's own code: a new code generator never gets old code."""
    from exportc import cache
    from exportc.compiler.pipeline import compile_cached
    assert compile_cached("child.map").ok
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another exportc")
    calls = _compiles(monkeypatch)
    assert compile_cached("child.map").ok and calls == ["child.map"]


def test_the_code_fingerprint_covers_the_code_generator(tmp_path: Path) -> None:
    import shutil

    from exportc import cache
    package = Path(cache.__file__).resolve().parent
    copy = tmp_path / "exportc"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "web", "workbench"))
    before = cache.fingerprint(copy)
    codegen = copy / "compiler" / "codegen.py"
    codegen.write_text(codegen.read_text("utf-8") + "\n# changed\n", "utf-8")
    assert cache.fingerprint(copy) != before
