"""Validation while the document is written: libxml2 reads what is written through a pipe, on
another thread, and reports errors with their document line before the document is finished."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import EXACT_PROFILE, EXACT_XSD
from helpers import artefact
from test_history import invoice, write_world

from exportc.runtime import execute as execute_module
from exportc.runtime.execute import RunOptions, execute
from exportc.runtime.validate import StreamValidation, open_document, start_validation

XSD = Path(__file__).parent / "schemas" / "orders.xsd"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<Orders>\n'
ORDER = '  <Order id="{n}">\n    <Date>2026-11-02</Date>\n  </Order>\n'


def _started() -> StreamValidation:
    validation = start_validation(XSD)
    assert validation is not None, "libxml2's schema functions or /dev/fd are missing here"
    return validation


def test_an_error_is_found_with_its_line_before_the_document_is_finished() -> None:
    validation = _started()
    validation.feed((HEAD + ORDER.format(n=1) + '  <Order id="2">\n    <Bogus/>\n  </Order>\n'
                     + "".join(ORDER.format(n=n) for n in range(3, 3000))).encode())  # it reads in blocks
    waited = 0.0
    while not validation.errors and waited < 10:  # the other thread is working on it
        time.sleep(0.01)
        waited += 0.01
    assert validation.errors and validation.errors[0][0] == 7, validation.errors
    assert "Bogus" in validation.errors[0][1]
    validation.feed(("".join(ORDER.format(n=n) for n in range(3000, 9000)) + "</Orders>\n").encode())
    result = validation.result(Path("unused.xml"))  # fed no more after the error: no wait
    assert result["valid"] is False and result["line"] == 7


def test_a_valid_document_written_through_the_tee_is_valid_and_on_disk(tmp_path: Path) -> None:
    validation = _started()
    path = tmp_path / "out.xml"
    with open_document(path, validation) as fh:
        fh.write(HEAD)
        for n in range(1, 20_000):  # several times the buffer and the pipe
            fh.write(ORDER.format(n=n))
        fh.write("</Orders>\n")
    assert validation.result(path) == {"valid": True, "schema": "orders.xsd", "error": None}
    assert path.read_text("utf-8").count("<Order ") == 19_999


def test_a_document_that_is_not_well_formed_is_worded_by_lxml(tmp_path: Path) -> None:
    validation = _started()
    path = tmp_path / "out.xml"
    with open_document(path, validation) as fh:
        fh.write(HEAD + ORDER.format(n=1) + "  <Order id='2'>\n</Orders>\n")
    result = validation.result(path)
    assert result["valid"] is False and result["line"] == 7, result


def test_a_run_validates_while_writing_and_names_the_record_of_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's validator is the streaming one (its result is what the report says), and an XSD
    error still names the document line and the record it is in."""
    started: list[StreamValidation] = []

    def spy(xsd: Path) -> StreamValidation | None:
        started.append(v := start_validation(xsd))  # type: ignore[arg-type]
        return v
    monkeypatch.setattr(execute_module, "start_validation", spy)
    strict = tmp_path / "strict.xsd"
    strict.write_text(EXACT_XSD.read_text("utf-8").replace(
        '<xsd:simpleType name="typeString255">\n\t\t<xsd:restriction base="xsd:string">\n'
        '\t\t\t<xsd:maxLength value="255"/>', '<xsd:simpleType name="typeString255">\n'
        '\t\t<xsd:restriction base="xsd:string">\n\t\t\t<xsd:maxLength value="20"/>'), "utf-8")
    a = dataclasses.replace(artefact(EXACT_PROFILE), schema_path=str(strict))
    world = write_world(tmp_path / "s", [invoice(f"S{n}", "12.10") | {"Omschrijving": "short"}
                                         for n in range(1, 40)]
                        + [invoice("S40", "24.20") | {"Omschrijving": "a description too long"}])
    report = execute(a, RunOptions(sources=world, params={"invoice_export": "true"},
                                   out_dir=tmp_path / "o"))
    [validation] = started
    assert validation is not None and validation.errors, "the streaming validator saw the error"
    [problem] = [p for p in report.errors if p.code == "E0610"]
    assert f"line {validation.errors[0][0]}:" in problem.message
    assert (problem.block, problem.record) == ("Invoices/Invoice", "Factuurnummer=S40")
    assert not list((tmp_path / "o").glob("*.xml"))  # a failed run leaves no document


def test_a_run_parses_its_xsd_once_on_another_thread_started_before_the_history_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_profile starts libxml2's parse of the XSD (validate.preload) before it opens the
    history (importing SQLAlchemy, ~0.1 s), so the parse goes on beside that; the run's validator
    takes that parse instead of parsing again."""
    from exportc import orchestrate
    from exportc.runtime import validate

    events: list[str] = []
    opened = threading.Event()
    parse, open_history = validate._parse, orchestrate.open_history

    def parse_spy(path: str) -> validate._CSchema | None:
        events.append(f"parse on {threading.current_thread().name}")
        return parse(path)

    def open_spy(*args: Any, **kw: Any) -> Any:
        events.append("history")
        opened.set()
        return open_history(*args, **kw)

    class Thread(threading.Thread):  # parses once the history is open: the order is certain
        def start(self) -> None:
            events.append(f"{self.name} started")
            super().start()

        def run(self) -> None:
            opened.wait(10)
            super().run()
    monkeypatch.setattr(validate, "_PARSES", {})  # as in a new process
    monkeypatch.setattr(validate, "_parse", parse_spy)
    monkeypatch.setattr(validate.threading, "Thread", Thread)
    monkeypatch.setattr(orchestrate, "open_history", open_spy)
    world = write_world(tmp_path / "s", [invoice("S1", "12.10")])
    opts = RunOptions(sources=world, params={"invoice_export": "true"})
    report = orchestrate.run_profile(str(EXACT_PROFILE), opts, db=str(tmp_path / "history.db")).report
    assert report is not None and report.status == "succeeded", report and report.summary()
    assert report.validation is not None and report.validation["valid"]
    assert events[:3] == ["exportc-xsd started", "history", "parse on exportc-xsd"]
    assert events.count("parse on exportc-xsd") == 1 and not [e for e in events if "MainThread" in e]
