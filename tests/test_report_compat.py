"""A report.json written by the previous release still displays.

``fixtures/report-0.1/report.json`` was written by exportc before a run's problems became
diagnostics (``{"file", "line", "source": "FILE, row N", "rule"}``), by a test run of the runtime
corpus (tests/corpus/runtime). Run stores keep such reports for good: ``show``, ``show --format
json``, ``runs`` and the console read them as today's diagnostics, rendered by the one renderer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner
from web_helpers import add_users, client, console, login

from exportc.cli import app
from exportc.diagnostics import Span
from exportc.orchestrate import open_history
from exportc.runtime.history import HistoryStore
from exportc.runtime.report import Report

FIXTURE = Path(__file__).parent / "fixtures" / "report-0.1" / "report.json"
MAP = "tests/corpus/runtime/orders.map"
DATA = "tests/corpus/runtime/orders.jsonl"


def _stored(db: str) -> tuple[HistoryStore, int]:
    """The old report as the report of a finished run in a history."""
    store = open_history(db)
    run_id = store.create_run("t.runtime", "T", "running", {}, (None, None), None)
    store.finish_run(run_id, store.finish_values("failed", FIXTURE.read_text("utf-8"), [], 7, 3, {}))
    return store, run_id


def test_an_old_report_reads_as_diagnostics_with_spans() -> None:
    report = Report.from_json(FIXTURE.read_text("utf-8"))
    negative = report.problems[0]
    assert (negative.code, negative.block, negative.record) == ("E0604", "Order", "id=o2")
    # the rule's line is the span, the rule as quoted then its text; the record's row related
    assert negative.span == Span(MAP, 28, 1, 28, 1 + len("check total >= 0"))
    assert negative.line_text == "check total >= 0"
    assert [r.span for r in negative.related] == [Span(DATA, 2, 1, 2, 2)]
    # a problem of the source itself: its row is the span
    [bad] = [p for p in report.problems if p.code == "E0502"]
    assert bad.span == Span(DATA, 10, 1, 10, 2) and bad.block == "source orders"
    assert not bad.related


def test_show_renders_an_old_report_like_a_new_one(db: str, snapshot: object) -> None:
    _, run_id = _stored(db)
    result = CliRunner().invoke(app, ["show", str(run_id), "--db", db])
    assert result.exit_code == 0, result.output
    assert "28 | check total >= 0" in result.output  # the rule's line, with a caret under it
    assert re.sub(r"history: .*", "history: <the test's history>", result.output) == snapshot


def test_show_json_and_runs_and_the_console_read_an_old_report(db: str) -> None:
    store, run_id = _stored(db)
    runner = CliRunner()
    shown = json.loads(runner.invoke(app, ["show", str(run_id), "--db", db, "--format", "json"]).output)
    problems = shown["report"]["problems"]
    assert problems and all("span" in p and "file" not in p for p in problems)  # today's schema
    assert problems[0]["span"]["line"] == 28 and problems[0]["record"] == "id=o2"
    assert [g["code"] for g in shown["report"]["groups"]] == [p["code"] for p in problems]  # none alike
    listed = runner.invoke(app, ["runs", "--db", db]).output
    assert re.search(rf"^\s*{run_id}\s+T\s+failed\s+!\s+t\.runtime", listed, re.M), listed
    add_users(store)
    with client(console(store)) as web:
        login(web, "adam")
        page = web.get(f"/runs/{run_id}").text
        assert f"--&gt; {MAP}:28:1" in page and "28 | check total &gt;= 0" in page
        assert web.get(f"/runs/{run_id}.json").json()["report"]["problems"][0]["span"]["line"] == 28
