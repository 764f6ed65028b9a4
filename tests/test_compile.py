"""The compiler: names, types and target checks (diagnostic snapshots), and generated code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import CORPUS, EXACT_PROFILE, ROOT, rel

from exportc import codes
from exportc.compiler.pipeline import compile_file
from exportc.compiler.schema import load_model, missing_children
from exportc.diagnostics import render_all_text

BROKEN = (sorted((CORPUS / "compile").glob("*.map")) + sorted((CORPUS / "compile-exact").glob("*.map"))
          + sorted((CORPUS / "compile-ubl").glob("*.map"))
          + [p for p in sorted((CORPUS / "inherit").glob("*.map"))
             if p.name not in ("base.map", "child-ok.map", "cycle-b.map")])


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_broken_profile_diagnostics(path: Path, snapshot: object) -> None:
    result = compile_file(rel(path))
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors, "a broken profile must produce an error"
    assert result.artefact is None
    for d in errors:
        assert d.span is not None, d
    assert render_all_text(result.diagnostics, result.sources) == snapshot


def test_every_code_has_a_golden_case() -> None:
    """Every compile-time code in the catalogue appears in a snapshot (runtime codes in test_run)."""
    snapshots = "".join(p.read_text("utf-8") for p in (ROOT / "tests" / "__snapshots__").rglob("*.ambr"))
    found = set(re.findall(r"\[(E\d{4})\]", snapshots))
    wanted = {c for c in codes.CODES if c[:3] in ("E01", "E02", "E03", "E04")}
    assert wanted - found == set()


@pytest.mark.parametrize("path", [EXACT_PROFILE, CORPUS / "inherit" / "child-ok.map"],
                         ids=lambda p: p.stem)
def test_generated_python(path: Path, snapshot: object) -> None:
    result = compile_file(rel(path))
    assert result.diagnostics == []
    assert result.artefact is not None
    assert result.artefact.python == snapshot
    compile(result.artefact.python, "<test>", "exec")


def test_override_is_applied_and_listed() -> None:
    result = compile_file(rel(CORPUS / "inherit" / "child-ok.map"))
    assert result.ok and result.artefact is not None
    assert "fn_upper(r0['id'])" in result.artefact.python
    assert "r0['alt']" in result.artefact.python
    targets = sorted(o.target for o in result.overrides)
    assert targets == ["Order/Customer/Name", "Order/Note"]
    params = {p.name: p.default for p in result.artefact.params}
    assert params["limit"] == 20
    table = next(t for t in result.artefact.tables if t.name == "status")
    assert table.entries == {"open": "OPEN"}


def test_children_are_emitted_in_schema_order_whatever_the_rule_order() -> None:
    result = compile_file(rel(EXACT_PROFILE))
    assert result.artefact is not None
    src = result.artefact.python
    order = ["<Name>", "<Phone>", "<Contact>", "<Address>", "<BankAccount", "<SalesPaymentCondition"]
    positions = [src.index(tag) for tag in order]
    assert positions == sorted(positions)


def test_schema_model_cache_is_warm_after_first_load() -> None:
    xsd = ROOT.parent / "shared" / "reference" / "exact-online" / "eExact-XML.xsd"
    first = load_model(xsd)
    second = load_model(xsd)
    assert first.digest == second.digest
    invoice = first.types[first.type_of(first.roots["Invoices"]).child("Invoice").type_id]  # type: ignore[union-attr]
    missing, _ = missing_children(invoice.content, {"Journal"})  # type: ignore[union-attr]
    assert missing == ["OrderedBy", "InvoiceTo", "InvoiceLine"]


def _ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the passes that run from here on."""
    from exportc.compiler import pipeline
    ran: list[str] = []

    def watched(p: pipeline.Pass) -> pipeline.Pass:
        def run(c: object) -> bool:
            ran.append(p.name)
            return p.run(c)  # type: ignore[arg-type]
        return pipeline.Pass(p.name, run)
    monkeypatch.setattr(pipeline, "PASSES", tuple(watched(p) for p in pipeline.PASSES))
    return ran


def test_compile_file_runs_the_declared_passes_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _ran(monkeypatch)
    assert compile_file(rel(EXACT_PROFILE)).ok
    assert ran == ["read_config", "parse", "declare", "load_schema", "plan_targets",
                   "generate_python", "lower_artefact"]


def test_a_pass_that_fails_stops_the_compile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ran = _ran(monkeypatch)
    (tmp_path / "bad.map").write_text("profile p\nparam x: \n", "utf-8")
    assert compile_file(tmp_path / "bad.map").artefact is None
    assert ran == ["read_config", "parse"]
    ran.clear()
    assert compile_file(rel(EXACT_PROFILE), emit=False).artefact is None  # checks only
    assert ran[-1] == "plan_targets"
