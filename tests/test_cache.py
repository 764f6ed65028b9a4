"""Caches between processes: the grammar's parser tables (where the shipped ones do not fit) and
compiled profiles. A cache is only ever a shortcut: a stale entry is never used, a corrupt one is
ignored and rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportc.cache import cache_dir
from exportc.dsl import ast, lalr, parser


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPORTC_CACHE_DIR", str(tmp_path / "cache"))
    lalr.parser.cache_clear()
    yield cache_dir()
    lalr.parser.cache_clear()


@pytest.fixture
def no_shipped_tables(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """As where the shipped tables do not fit (another lark): they are built and cached."""
    monkeypatch.setattr(lalr, "SHIPPED", own_cache.parent / "no.tables")
    return own_cache


PROFILE = 'profile p "t"\ntarget "orders.xsd" root Orders\n'


def test_a_parse_uses_the_shipped_tables_and_writes_no_cache(own_cache: Path) -> None:
    assert parser.parse_text(PROFILE, "p.map").ok
    assert not own_cache.exists() or not list(own_cache.glob("grammar-*"))


def test_the_grammar_tables_are_cached_and_reused(no_shipped_tables: Path) -> None:
    assert parser.parse_text(PROFILE, "p.map").ok
    [entry] = no_shipped_tables.glob("grammar-*.lark-cache")
    made = entry.stat().st_mtime_ns
    lalr.parser.cache_clear()  # as a new process would
    assert parser.parse_text(PROFILE, "p.map").ok
    assert entry.stat().st_mtime_ns == made  # read, not rebuilt


def test_a_corrupt_grammar_cache_is_rebuilt(no_shipped_tables: Path) -> None:
    parser.parse_text(PROFILE, "p.map")
    [entry] = no_shipped_tables.glob("grammar-*.lark-cache")
    entry.write_bytes(b"not a pickle")
    lalr.parser.cache_clear()
    assert parser.parse_text(PROFILE, "p.map").ok
    assert entry.read_bytes() != b"not a pickle"


def test_a_file_is_parsed_again_when_its_bytes_change(tmp_path: Path) -> None:
    """parse_file keeps a parse for the same bytes (a base checked under each child) only."""
    f = tmp_path / "p.map"
    f.write_text('profile first "t"\ntarget "o.xsd" root Orders\nlet x = 1 +\n', "utf-8")
    one, again = parser.parse_file(str(f)), parser.parse_file(str(f))
    assert one.diagnostics == again.diagnostics != [] and one.diagnostics is not again.diagnostics
    f.write_text(PROFILE.replace("profile p", "profile second"), "utf-8")
    changed = parser.parse_file(str(f))
    assert changed.ok and changed.module is not None
    assert [i.name for i in changed.module.items if isinstance(i, ast.ProfileDecl)] == ["second"]


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
    from exportc.compiler.cached import compile_cached
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
    from exportc.compiler.cached import compile_cached
    assert compile_cached("child.map").ok
    path = project / file
    path.write_text(change(path.read_text("utf-8")), "utf-8")  # type: ignore[operator]
    calls = _compiles(monkeypatch)
    again = compile_cached("child.map")
    assert calls == ["child.map"] and again.ok
    assert compile_cached("child.map").ok and calls == ["child.map"]  # and cached again


def test_a_corrupt_compiled_entry_is_ignored_and_rebuilt(project: Path, own_cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from exportc.compiler.cached import compile_cached
    assert compile_cached("child.map").ok
    [entry] = own_cache.glob("compiled-*.pickle")
    entry.write_bytes(entry.read_bytes()[:100])
    calls = _compiles(monkeypatch)
    assert compile_cached("child.map").ok and calls == ["child.map"]
    assert compile_cached("child.map").ok and calls == ["child.map"]


def test_a_profile_with_errors_is_not_kept(project: Path, own_cache: Path) -> None:
    from exportc.compiler.cached import compile_cached
    (project / "child.map").write_text(CHILD + "param x: nope\n", "utf-8")
    assert not compile_cached("child.map").ok
    assert not list(own_cache.glob("compiled-*.pickle"))


def test_a_changed_code_generator_compiles_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry's key holds exportc's own code: a new code generator never gets old code."""
    from exportc import cache
    from exportc.compiler.cached import compile_cached
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


@pytest.fixture
def documents(tmp_path: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with the Peppol profile (two targets, Invoice and CreditNote, one document
    per record), its stylesheets replaced by a small one beside it."""
    from conftest import ROOT, SHARED
    folder = tmp_path / "documents"
    folder.mkdir()
    maindoc = SHARED / "reference" / "ubl-2.1" / "xsd" / "maindoc"
    (folder / "exportc.toml").write_text(f'[exportc]\nprofiles = ["."]\nschemas = [".", "{maindoc}"]\n', "utf-8")
    text = (ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map").read_text("utf-8")
    (folder / "p.map").write_text(text.replace('"CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt"',
                                               '"rules.xslt"'), "utf-8")
    (folder / "rules.xslt").write_text("<xsl:stylesheet/>\n", "utf-8")
    monkeypatch.chdir(folder)
    return folder


def test_a_profile_with_several_document_kinds_is_kept(documents: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both targets' schemas and stylesheets are inputs of the entry, so `exportc check` of
    the shipped profiles (Peppol has two) is answered from the cache."""
    from exportc.compiler.cached import compile_cached
    first = compile_cached("p.map")
    assert first.ok, first.diagnostics
    assert first.artefact is not None and set(first.artefact.documents) == {"Invoice", "CreditNote"}
    calls = _compiles(monkeypatch)
    warm = compile_cached("p.map")
    assert calls == [] and warm.artefact == first.artefact


@pytest.mark.parametrize("change", ["edit", "remove"])
def test_a_changed_stylesheet_compiles_again(documents: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    from exportc.compiler.cached import compile_cached
    assert compile_cached("p.map").ok
    rules = documents / "rules.xslt"
    if change == "edit":
        rules.write_text("<xsl:stylesheet version='2.0'/>\n", "utf-8")
    else:
        rules.unlink()
    calls = _compiles(monkeypatch)
    again = compile_cached("p.map")
    assert calls == ["p.map"]
    assert again.ok == (change == "edit")  # a missing stylesheet is reported (E0339), not served


# ---- the schema model, built cold ----------------------------------------------------------

def test_a_cold_schema_model_is_the_one_a_checked_build_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model is built without xmlschema's own meta-schema check (libxml2 does that check):
    the model is the same as a fully checked build's."""
    import xmlschema
    from conftest import EXACT_XSD, ROOT

    from exportc.compiler import schema
    xsds = (EXACT_XSD, ROOT / "tests" / "schemas" / "orders.xsd")
    fast = [schema.build_model(xsd, "d") for xsd in xsds]
    real = xmlschema.XMLSchema
    monkeypatch.setattr(xmlschema, "XMLSchema", lambda path, **_: real(path))  # validation="strict"
    assert [schema.build_model(xsd, "d") for xsd in xsds] == fast


@pytest.mark.parametrize("body", [
    '<xs:element name="Orders" type="xs:noSuchType"/>',
    '<xs:element nam="Orders"/>',
    '<xs:complexType name="T"><xs:sequence><xs:foo/></xs:sequence></xs:complexType>',
], ids=["unknown-type", "misspelt-attribute", "unknown-particle"])
def test_an_invalid_schema_is_refused(tmp_path: Path, body: str) -> None:
    """A well-formed XSD that is not a valid schema is a SchemaError (E0314 in a compile),
    never a model with holes."""
    from exportc.compiler import schema
    xsd = tmp_path / "bad.xsd"
    xsd.write_text(f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{body}</xs:schema>', "utf-8")
    with pytest.raises(schema.SchemaError, match=r"bad\.xsd"):
        schema.build_model(xsd, "d")


# ---- the bytecode of generated code -----------------------------------------------------------

def test_generated_code_is_compiled_once_and_then_read(own_cache: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """cache.compiled keeps the bytecode of code made at run time (a profile's module, the
    encoders): a second process reads it instead of compiling; another source or file name is
    another entry."""
    import builtins

    from exportc import cache
    source = "def f(x):\n    return x * 2\n"
    code = cache.compiled(source, "<gen a>")
    [entry] = own_cache.glob("code-*.marshal")

    def no_compile(*args: object, **kw: object) -> None:
        raise AssertionError("compiled again")
    with monkeypatch.context() as m:
        m.setattr(builtins, "compile", no_compile)
        again = cache.compiled(source, "<gen a>")
    assert again == code and again.co_filename == "<gen a>"
    namespace: dict[str, object] = {}
    exec(again, namespace)
    assert namespace["f"](21) == 42  # type: ignore[operator]
    cache.compiled(source, "<gen b>")
    cache.compiled(source + "# changed\n", "<gen a>")
    assert len(list(own_cache.glob("code-*.marshal"))) == 3
    assert entry.exists()


def test_a_corrupt_code_entry_is_compiled_again(own_cache: Path) -> None:
    from exportc import cache
    cache.compiled("x = 1\n", "<gen>")
    [entry] = own_cache.glob("code-*.marshal")
    for junk in (b"", b"\xff\x00 not marshal", b"i\x01\x00\x00\x00"):  # nothing, garbage, an int
        entry.write_bytes(junk)
        namespace: dict[str, object] = {}
        exec(cache.compiled("x = 1\n", "<gen>"), namespace)
        assert namespace["x"] == 1
        assert entry.read_bytes() != junk
