"""Output validation: libxml2 validates the stream in C, and agrees with lxml's own validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportc.runtime import validate
from exportc.runtime.validate import validate_file, validate_file_lxml

XSD = Path(__file__).parent / "schemas" / "orders.xsd"
GOOD = """<?xml version="1.0" encoding="UTF-8"?>
<Orders>
  <Order id="1">
    <Date>2026-11-02</Date>
  </Order>
</Orders>
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "out.xml"
    path.write_text(text, "utf-8")
    return path


def test_the_c_validator_is_available_here() -> None:
    """The fast path is lxml's libxml2 through ctypes; if this fails every run falls back to the
    slow lxml loop (correct, but 2x slower)."""
    assert validate._c_schema(str(XSD), XSD.stat().st_mtime) is not None


def test_a_valid_document_is_valid(tmp_path: Path) -> None:
    result = validate_file(_write(tmp_path, GOOD), XSD)
    assert result == {"valid": True, "schema": "orders.xsd", "error": None}


@pytest.mark.parametrize(("text", "line", "words"), [
    (GOOD.replace("<Date>2026-11-02</Date>", "<Date>2026-11-02</Date><Bogus/>"), 4, "Bogus"),
    (GOOD.replace("2026-11-02", "2 nov"), 4, "xs:date"),
    (GOOD.replace("    <Date>2026-11-02</Date>\n", ""), 3, "Missing child element"),
])
def test_an_invalid_document_names_the_line_and_the_element(tmp_path: Path, text: str, line: int,
                                                            words: str) -> None:
    path = _write(tmp_path, text)
    result = validate_file(path, XSD)
    assert result["valid"] is False
    assert result["error"].startswith(f"line {line}: ")
    assert words in result["error"]
    assert validate_file_lxml(path, XSD)["valid"] is False  # the two agree


def test_a_document_that_is_not_well_formed_is_worded_by_lxml(tmp_path: Path) -> None:
    result = validate_file(_write(tmp_path, GOOD.replace("</Order>", "</Ordr>")), XSD)
    assert result["valid"] is False
    assert "Ordr" in result["error"]


def test_validation_does_not_hand_elements_to_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow path (a Python loop over every element) is not taken for a valid document."""
    def slow(*_a: object) -> object:
        raise AssertionError("the lxml loop ran")
    monkeypatch.setattr(validate, "validate_file_lxml", slow)
    one = '  <Order id="1">\n    <Date>2026-11-02</Date>\n  </Order>\n'
    assert one in GOOD
    many = GOOD.replace(one, one * 5000)
    assert validate_file(_write(tmp_path, many), XSD)["valid"] is True


def test_a_schema_parsed_ahead_on_its_own_thread_prints_nothing(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """libxml2's error handlers are per thread and lxml sets them only where it runs: the
    preload's thread keeps a parser warning (an import it cannot load) off stderr, as the run's
    own thread does, and the schema is still used."""
    xsd = tmp_path / "w.xsd"
    xsd.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">\n'
                   '  <xs:import namespace="urn:other" schemaLocation="missing.xsd"/>\n'
                   '  <xs:element name="Orders" type="xs:string"/>\n</xs:schema>\n', "utf-8")
    monkeypatch.setattr(validate, "_PARSES", {})
    thread = validate.preload(xsd)
    assert thread is not None
    thread.join()
    assert validate._c_schema(str(xsd), xsd.stat().st_mtime) is not None
    assert capfd.readouterr().err == ""
    doc = _write(tmp_path, '<?xml version="1.0"?>\n<Orders>x</Orders>\n')
    assert validate_file(doc, xsd)["valid"] is True
