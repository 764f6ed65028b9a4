"""Schema models of a profile's targets built together: XSDs that import the same documents are
read by xmlschema once (UBL's Invoice and CreditNote share their common components), and each
model is the one the XSD gives alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SHARED

from exportc.compiler import schema, schemafiles, xsdread

MAINDOC = SHARED / "reference" / "ubl-2.1" / "xsd" / "maindoc"
INVOICE, CREDIT_NOTE = MAINDOC / "UBL-Invoice-2.1.xsd", MAINDOC / "UBL-CreditNote-2.1.xsd"
XS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'


def _fresh(*paths: Path) -> dict[Path, schema.SchemaModel | schema.SchemaError]:
    """load_models with nothing in memory or the user cache (the session's cache is emptied of
    these entries), as a cold process has."""
    for p in paths:
        digest = schemafiles.schema_digest(p)
        schema._LOADED.pop((str(p), digest), None)
        schema._entry(digest).unlink(missing_ok=True)
    return schema.load_models(list(paths))


def _alone(path: Path) -> schema.SchemaModel:
    return schema.build_model(path, schemafiles.schema_digest(path))


def test_invoice_and_credit_note_are_read_together_into_the_models_each_gives_alone() -> None:
    files = {p: set(schemafiles.documents(p)) for p in (INVOICE, CREDIT_NOTE)}
    assert set(xsdread.together(files)) == {INVOICE, CREDIT_NOTE}
    models = _fresh(INVOICE, CREDIT_NOTE)
    assert models[INVOICE] == _alone(INVOICE)
    assert models[CREDIT_NOTE] == _alone(CREDIT_NOTE)
    assert list(models[CREDIT_NOTE].roots) == ["CreditNote"]  # type: ignore[union-attr]


def _xsd(path: Path, ns: str, body: str, imports: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    decls = "".join(f'<xs:import namespace="{n}" schemaLocation="{loc}"/>' for n, loc in imports.items())
    prefixes = "".join(f' xmlns:{n.rsplit(":", 1)[-1]}="{n}"' for n in imports)
    path.write_text(f'<xs:schema {XS} targetNamespace="{ns}" xmlns:t="{ns}"{prefixes} '
                    f'elementFormDefault="qualified">{decls}{body}</xs:schema>', "utf-8")
    return path


def _pair(tmp: Path, common_b: str) -> tuple[Path, Path]:
    """Two XSDs that share urn:s; each imports urn:c, from its own copy of c.xsd."""
    _xsd(tmp / "shared.xsd", "urn:s", '<xs:simpleType name="Code"><xs:restriction base="xs:string">'
         '<xs:maxLength value="4"/></xs:restriction></xs:simpleType>', {})
    for folder, child in (("ca", "X"), ("cb", common_b)):
        _xsd(tmp / folder / "c.xsd", "urn:c", f'<xs:complexType name="Party"><xs:sequence>'
             f'<xs:element name="{child}" type="xs:string"/></xs:sequence></xs:complexType>', {})
    mains = []
    for name, folder in (("a", "ca"), ("b", "cb")):
        body = (f'<xs:element name="{name.upper()}"><xs:complexType><xs:sequence>'
                '<xs:element name="Party" type="c:Party"/><xs:element name="Code" type="s:Code"/>'
                '</xs:sequence></xs:complexType></xs:element>')
        mains.append(_xsd(tmp / f"{name}.xsd", f"urn:{name}", body,
                          {"urn:c": f"{folder}/c.xsd", "urn:s": "shared.xsd"}))
    return mains[0], mains[1]


def test_xsds_reading_one_namespace_from_different_files_are_built_apart(tmp_path: Path) -> None:
    """Read together, b.xsd would see a's urn:c (Party with X, not Y): they are built apart."""
    a, b = _pair(tmp_path, "Y")
    assert xsdread.together({p: set(schemafiles.documents(p)) for p in (a, b)}) == {}
    models = _fresh(a, b)
    assert models[a] == _alone(a) and models[b] == _alone(b)
    party = models[b].types["{urn:c}Party"]  # type: ignore[union-attr]
    assert isinstance(party, schema.ComplexType) and [p.name for p in party.particles()] == ["t:Y"]


def test_xsds_reading_one_namespace_from_identical_files_are_read_together(tmp_path: Path) -> None:
    """The same check passes when the documents are the same file: one shared c.xsd."""
    a, b = _pair(tmp_path, "X")
    b.write_text(b.read_text("utf-8").replace("cb/c.xsd", "ca/c.xsd"), "utf-8")
    assert set(xsdread.together({p: set(schemafiles.documents(p)) for p in (a, b)})) == {a, b}
    models = _fresh(a, b)
    assert models[a] == _alone(a) and models[b] == _alone(b)


@pytest.mark.parametrize("break_b", [
    lambda text: text.replace('type="s:Code"', 'type="s:NoSuchType"'),
    # xmlschema reads it together with a.xsd (which imports urn:c); libxml2 refuses it: b.xsd
    # refers to urn:c without importing it
    lambda text: text.replace('<xs:import namespace="urn:c" schemaLocation="cb/c.xsd"/>', ""),
], ids=["unknown-type", "namespace-not-imported"])
def test_a_broken_xsd_read_with_another_is_reported_for_itself(tmp_path: Path,
                                                              break_b: Callable[[str], str]) -> None:
    a, b = _pair(tmp_path, "X")
    b.write_text(break_b(b.read_text("utf-8")), "utf-8")
    models = _fresh(a, b)
    assert models[a] == _alone(a)
    assert isinstance(models[b], schema.SchemaError) and "b.xsd" in str(models[b])
