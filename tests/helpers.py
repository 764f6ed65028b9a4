"""Helpers shared by runtime tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lxml import etree

from exportc.artefact import Artefact, Emit, RunValues
from exportc.compiler.pipeline import compile_file
from exportc.runtime.execute import RunOptions, execute, load_bind, load_tables
from exportc.runtime.history import HistoryStore
from exportc.runtime.report import Report

_SCHEMAS: dict[Path, etree.XMLSchema] = {}


def artefact(path: Path | str) -> Artefact:
    from conftest import rel
    result = compile_file(rel(path))
    assert result.ok and result.artefact is not None, result.diagnostics
    return result.artefact


def first_block(path: Path, profile: str) -> tuple[str, Emit]:
    """Compile ``profile`` (written to ``path``) and bind it for a test run: the generated module's
    source and its first block's emitter, to call on hand-made records."""
    path.write_text(profile, "utf-8")
    result = compile_file(path)
    assert result.artefact is not None, result.diagnostics
    a = result.artefact
    run = RunValues(None, None, None, None, "test", dt.datetime(2026, 1, 1), a.name)
    return a.python, load_bind(a)({}, load_tables(a), run, lambda *_: None).blocks[0].emit


def delivered_keys(store: HistoryStore, profile: str, source: str) -> list[str]:
    """The keys of the records currently delivered (not deleted) from a source."""
    return [key for rows in store.delivered_state(profile, source) for key, *_ in rows]


def run(profile: Path | str, out: Path, sources: dict[str, Path | str], **kw: object) -> Report:
    opts = RunOptions(sources={k: str(v) for k, v in sources.items()}, out_dir=out, **kw)  # type: ignore[arg-type]
    return execute(artefact(profile), opts)


def assert_valid(xml: Path, xsd: Path) -> None:
    if xsd not in _SCHEMAS:
        _SCHEMAS[xsd] = etree.XMLSchema(etree.parse(str(xsd)))
    doc = etree.parse(str(xml))
    schema = _SCHEMAS[xsd]
    assert schema.validate(doc), schema.error_log
