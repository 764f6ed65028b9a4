"""Golden tests for the runtime diagnostics: each kind of bad record, named with its key, its
profile line and its source row."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS
from helpers import run

from exportc.runtime.execute import UsageError

PROFILE = CORPUS / "runtime" / "orders.map"
DATA = CORPUS / "runtime" / "orders.jsonl"


def _render(report: object) -> str:
    return "\n".join(p.render() for p in report.problems)


def test_every_kind_of_bad_record(tmp_path: Path, snapshot: object) -> None:
    report = run(PROFILE, tmp_path, {"orders": DATA})
    assert report.status == "failed"
    text = _render(report).replace(str(DATA), "orders.jsonl")
    for code in ("E0502", "E0503", "E0604", "E0605", "E0607", "E0608", "W0601", "W0608"):
        assert f"[{code}]" in text, code
    assert text == snapshot
    assert "no file was written: 7 record(s) failed" in report.summary()
    assert "--skip-invalid" in report.summary()


def test_skip_invalid_keeps_the_good_records(tmp_path: Path) -> None:
    report = run(PROFILE, tmp_path, {"orders": DATA}, skip_invalid=True)
    assert report.status == "succeeded" and "no file was written" not in report.summary()
    counts = report.blocks["Order"]
    assert (counts.written, counts.skipped) == (4, 7)
    xml = (tmp_path / "t.runtime.xml").read_text("utf-8")
    assert all(f'id="{k}"' in xml for k in ("o1", "o4", "o5", "o6"))


def test_division_by_zero_names_the_line(tmp_path: Path) -> None:
    report = run(PROFILE, tmp_path, {"orders": DATA}, params={"divisor": "0"})
    zero = [p for p in report.errors if p.code == "E0606"]
    assert zero and zero[0].span and zero[0].span.line == 25 and zero[0].record == "id=o1"


def test_unbound_source_and_bad_table_file_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="source `orders` is not bound"):
        run(PROFILE, tmp_path, {})
    profile = tmp_path / "p.map"
    profile.write_text(PROFILE.read_text("utf-8").replace(
        'target "../../schemas/orders.xsd"', f'target "{CORPUS.parent / "schemas" / "orders.xsd"}"').replace(
        'table status: text -> text { "open" -> "O"  "closed" -> "C" }', 'table status: text -> text from "s.csv"'),
        "utf-8")
    (tmp_path / "s.csv").write_text("state,code\nopen,O\n", "utf-8")
    from helpers import artefact
    art = artefact(profile)
    (tmp_path / "s.csv").write_text("state,code\nopen,O,extra\n", "utf-8")  # broken after compiling
    from exportc.runtime.execute import RunOptions, execute
    with pytest.raises(UsageError, match="expected 2 columns"):
        execute(art, RunOptions(sources={"orders": str(DATA)}, out_dir=tmp_path / "o"))


def test_output_the_schema_rejects_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    """The last line of defence (E0610): the schema changed after the profile was compiled, so
    the compile-time guarantees no longer hold; lxml's validation catches it before any file lands."""
    schema = tmp_path / "orders.xsd"
    schema.write_text((CORPUS.parent / "schemas" / "orders.xsd").read_text("utf-8"), "utf-8")
    profile = tmp_path / "p.map"
    profile.write_text(PROFILE.read_text("utf-8").replace('"../../schemas/orders.xsd"', '"orders.xsd"'), "utf-8")
    from helpers import artefact

    from exportc.runtime.execute import RunOptions, execute
    art = artefact(profile)
    good = CORPUS / "runtime" / "orders.jsonl"
    opts = {"sources": {"orders": str(good)}, "skip_invalid": True}
    assert execute(art, RunOptions(out_dir=tmp_path / "before", **opts)).status == "succeeded"  # type: ignore[arg-type]
    schema.write_text(schema.read_text("utf-8").replace('<xs:element name="Date"', '<xs:element name="Dated"'), "utf-8")
    report = execute(art, RunOptions(out_dir=tmp_path / "after", **opts))  # type: ignore[arg-type]
    assert report.status == "failed"
    invalid = [p for p in report.errors if p.code == "E0610"]
    assert invalid and "does not validate against orders.xsd" in invalid[0].message
    assert "Date" in invalid[0].message
    assert not list((tmp_path / "after").glob("*.xml"))
