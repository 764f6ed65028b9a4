"""The contract between generated code and the runtime (``exportc.artefact``): the generated
module defines the functions the contract names, and its ``bind`` returns them in a ``Bound``."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from conftest import CORPUS, EXACT_PROFILE, ROOT, rel

from exportc import artefact
from exportc.artefact import Bound, RunValues
from exportc.compiler.pipeline import CompileResult, compile_file
from exportc.compiler.resolve import RUN_FIELDS
from exportc.runtime.execute import load_bind, load_tables

PEPPOL = ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map"
PROFILES = [EXACT_PROFILE, CORPUS / "runtime" / "orders.map", PEPPOL]


def _compiled(path: Path) -> CompileResult:
    result = compile_file(rel(path))
    assert result.artefact is not None, result.diagnostics
    return result


def _declared(c: CompileResult) -> set[str]:
    """The names the contract gives every entry point this profile needs."""
    assert c.profile is not None
    blocks = c.profile.blocks
    names = {artefact.emit_name(b.index) for b in blocks}
    names |= {artefact.where_name(b.index) for b in blocks if b.where is not None}
    names |= {artefact.set_check_name(b.index, n) for b in blocks for n in range(len(b.set_checks))}
    names |= {artefact.file_name_name(b.index) for b in blocks if b.file is not None}
    return names | ({artefact.GLOBAL_CHECKS} if c.profile.global_checks else set())


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_the_generated_module_defines_the_entry_points_the_contract_names(path: Path) -> None:
    c = _compiled(path)
    assert c.artefact is not None
    tree = ast.parse(c.artefact.python)
    [bind] = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert bind.name == artefact.BIND
    defined = {n.name for n in bind.body if isinstance(n, ast.FunctionDef)}
    assert defined == _declared(c)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_bind_returns_a_bound_with_every_block_under_its_contract_name(path: Path) -> None:
    c = _compiled(path)
    a, profile = c.artefact, c.profile
    assert a is not None and profile is not None
    wheres = {b.index for b in profile.blocks if b.where is not None}
    params = {p.name: p.default for p in a.params}  # bind only reads them
    run = RunValues(None, None, None, None, "test", dt.datetime(2026, 1, 1), a.name)
    bound = load_bind(a)(params, load_tables(a), run, lambda *_: None)
    assert isinstance(bound, Bound)
    assert set(bound.blocks) == {b.index for b in a.blocks}
    for b in a.blocks:
        entry = bound.blocks[b.index]
        assert entry.emit.__name__ == artefact.emit_name(b.index)
        assert (entry.where is not None) == (b.index in wheres)
        assert len(entry.set_checks) == len(b.set_checks)
        assert [f.__name__ for f in entry.set_checks] == [
            artefact.set_check_name(b.index, n) for n in range(len(b.set_checks))]
    assert (bound.global_checks is not None) == bool(profile.global_checks)


def test_the_run_fields_a_profile_may_read_are_the_contracts() -> None:
    assert list(RUN_FIELDS) == list(artefact.RUN_FIELDS)
    attributes = set(RunValues.__dataclass_fields__)
    assert set(artefact.RUN_FIELDS.values()) == attributes


def test_the_artefact_lists_the_run_fields_a_profile_reads() -> None:
    """The console's start form asks for a booking date only when the profile reads it: it asks
    the artefact, not the generated code's text."""
    from exportc.web.forms import uses_run_field
    exact = _compiled(EXACT_PROFILE).artefact
    orders = _compiled(CORPUS / "runtime" / "orders.map").artefact
    assert exact is not None and orders is not None
    assert exact.run_fields == ("booking_date", "description")
    assert uses_run_field(exact, "booking_date") and not uses_run_field(orders, "booking_date")
    assert "run_from" not in exact.python  # only the run fields it reads are bound
