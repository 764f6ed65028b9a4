"""The run's closed word sets are enums that still read and write their words."""

from __future__ import annotations

import json

import pytest

from exportc.runtime.context import RunOptions
from exportc.runtime.kinds import ChangeKind, HistoryKind, RunMode
from exportc.runtime.report import Report


def test_run_options_take_the_word_and_refuse_another() -> None:
    assert RunOptions(sources={}, mode="production").mode is RunMode.PRODUCTION  # type: ignore[arg-type]
    assert RunOptions(sources={}).mode is RunMode.TEST
    with pytest.raises(ValueError):
        RunOptions(sources={}, mode="prod")  # type: ignore[arg-type]


def test_kinds_are_their_words_in_reports_and_generated_code() -> None:
    report = Report("p", RunMode.PRODUCTION)
    report.records["invoices"] = {ChangeKind.CHANGED: 2}
    data = json.loads(report.to_json())
    assert data["mode"] == "production" and data["records"] == {"invoices": {"changed": 2}}
    assert ChangeKind.DELETED in ("changed", "deleted")  # what a generated `where` tests
    assert HistoryKind("mutations") is HistoryKind.MUTATIONS
    assert RunMode.PRODUCTION.letter == "P" and RunMode.TEST.letter == "T"
