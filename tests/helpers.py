"""Helpers shared by runtime tests."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from exportc.artefact import Artefact
from exportc.compiler.pipeline import compile_file
from exportc.runtime.execute import RunOptions, execute
from exportc.runtime.report import Report

_SCHEMAS: dict[Path, etree.XMLSchema] = {}


def artefact(path: Path | str) -> Artefact:
    from conftest import rel
    result = compile_file(rel(path))
    assert result.ok and result.artefact is not None, result.diagnostics
    return result.artefact


def run(profile: Path | str, out: Path, sources: dict[str, Path | str], **kw: object) -> Report:
    opts = RunOptions(sources={k: str(v) for k, v in sources.items()}, out_dir=out, **kw)  # type: ignore[arg-type]
    return execute(artefact(profile), opts)


def assert_valid(xml: Path, xsd: Path) -> None:
    if xsd not in _SCHEMAS:
        _SCHEMAS[xsd] = etree.XMLSchema(etree.parse(str(xsd)))
    doc = etree.parse(str(xml))
    schema = _SCHEMAS[xsd]
    assert schema.validate(doc), schema.error_log
