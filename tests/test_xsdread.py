"""xmlschema reads schema documents without their xs:annotation elements (prose the model never
reads): the model is the one the documents as written give, and an error is still the one the
documents as written give."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXACT_XSD, ROOT, SHARED

from exportc.compiler import schema, xsdread

INVOICE = SHARED / "reference" / "ubl-2.1" / "xsd" / "maindoc" / "UBL-Invoice-2.1.xsd"


@pytest.mark.parametrize("xsd", [EXACT_XSD, INVOICE, *sorted((ROOT / "tests" / "schemas").glob("*.xsd"))],
                         ids=lambda p: p.name)
def test_a_model_read_without_annotations_is_the_one_read_with_them(xsd: Path) -> None:
    assert schema._derive(xsd, "d", xsdread.read([xsd])) == schema._derive(
        xsd, "d", xsdread.read([xsd], annotations=True))


def test_the_annotations_are_left_out(tmp_path: Path) -> None:
    """What xmlschema is given has no xs:annotation left (so the test above compares two reads)."""
    xsd = tmp_path / "a.xsd"
    xsd.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:annotation>'
                   '<xs:documentation>prose</xs:documentation></xs:annotation>'
                   '<xs:element name="A" type="xs:string"><xs:annotation><xs:documentation>more'
                   '</xs:documentation></xs:annotation></xs:element></xs:schema>', "utf-8")
    assert xsdread.read([xsd], annotations=True).elements["A"].annotation is not None
    assert xsdread.read([xsd]).elements["A"].annotation is None


def test_a_document_that_is_not_xml_is_reported_as_written(tmp_path: Path) -> None:
    xsd = tmp_path / "broken.xsd"
    xsd.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">\n<xs:element name="A">\n'
                   "</xs:schema>\n", "utf-8")
    with pytest.raises(schema.SchemaError, match=r"broken\.xsd.*line 3"):
        xsdread.read_one(xsd)
