"""A run keeps each written element's record key only when it validates the document (an XSD
error's line is mapped back to its record through them); a ``--no-validate`` run holds no key per
element, so its memory does not grow by one pointer per record for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXACT_PROFILE
from helpers import artefact
from test_history import invoice, write_world

from exportc.runtime import blocks
from exportc.runtime.execute import RunOptions, execute


def _keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validate: bool) -> list[list[str | None] | None]:
    """Each block run's written keys after a run of two invoices (read back from the key log
    just before the run lets go of it)."""
    seen: list[list[str | None] | None] = []
    forget = blocks.BlockSet.forget_keys

    def spy(self: blocks.BlockSet) -> None:
        for br in self.runs:
            if br.counts.written:
                log = br.written_keys
                seen.append(None if log is None else [log.at(n) for n in range(len(log))])
        forget(self)
    monkeypatch.setattr(blocks.BlockSet, "forget_keys", spy)
    world = write_world(tmp_path / "s", [invoice("K1", "12.10"), invoice("K2", "24.20")])
    report = execute(artefact(EXACT_PROFILE), RunOptions(
        sources=world, params={"invoice_export": "true"}, out_dir=tmp_path / "o", validate=validate))
    assert report.status == "succeeded", report.summary()
    return seen


def test_a_validated_run_knows_the_record_of_each_element(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = _keys(tmp_path, monkeypatch, validate=True)
    assert ["Factuurnummer=K1", "Factuurnummer=K2"] in keys


def test_a_run_without_validation_holds_no_key_per_element(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = _keys(tmp_path, monkeypatch, validate=False)
    assert keys and all(k is None for k in keys)
