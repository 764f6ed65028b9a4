"""What ``exportc test`` prints: a line per case, the failures with their diffs, a tally; and
the same results as JUnit XML for CI."""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from exportc.diagnostics import render_all_text
from exportc.workbench.runner import CaseResult, FileResult

_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line if line else line for line in text.splitlines())


def render_text(results: list[FileResult], seconds: float | None = None) -> str:
    """Readable results: each case, then what failed and why, then the tally."""
    out: list[str] = []
    for fr in results:
        name = _rel(fr.test.path)
        if fr.diagnostics:
            sources = {str(fr.test.path): fr.test.text, **(fr.compiled.sources if fr.compiled else {})}
            out.append(f"ERROR {name}: cannot run its cases")
            out.append(_indent(render_all_text(fr.diagnostics, sources)))
            continue
        for cr in fr.cases:
            note = " (golden file updated)" if cr.updated else ""
            out.append(f"{_MARK[cr.status]:5} {name} :: {cr.case.name}{note}")
            for message in cr.messages:
                out.append(_indent(message.rstrip("\n")))
    out.append(tally(results, seconds))
    return "\n".join(out)


def counts(results: list[FileResult]) -> dict[str, int]:
    """Cases per outcome; a test file that cannot run counts as one error."""
    c = {"passed": 0, "failed": 0, "error": 0}
    for fr in results:
        if fr.diagnostics:
            c["error"] += 1
        for cr in fr.cases:
            c[cr.status] += 1
    return c


def tally(results: list[FileResult], seconds: float | None = None) -> str:
    c = counts(results)
    parts = [f"{c['passed']} passed", f"{c['failed']} failed"] + ([f"{c['error']} error(s)"] if c["error"] else [])
    return ", ".join(parts) + (f" in {seconds:.2f} s" if seconds is not None else "")


def _case_element(suite: etree._Element, classname: str, cr: CaseResult) -> None:
    tc = etree.SubElement(suite, "testcase", name=cr.case.name, classname=classname,
                          time=f"{cr.seconds:.3f}", file=cr.case.span.file, line=str(cr.case.span.line))
    if cr.status == "failed":
        el = etree.SubElement(tc, "failure", message=cr.messages[0].splitlines()[0], type="AssertionError")
        el.text = "\n\n".join(cr.messages)
    elif cr.status == "error":
        el = etree.SubElement(tc, "error", message=cr.messages[0].splitlines()[0], type="UsageError")
        el.text = "\n\n".join(cr.messages)


def junit(results: list[FileResult]) -> bytes:
    """JUnit XML: a ``testsuite`` per test file, a ``testcase`` per case."""
    root = etree.Element("testsuites", name="exportc test")
    total = {"tests": 0, "failures": 0, "errors": 0}
    for fr in results:
        name = _rel(fr.test.path)
        classname = fr.compiled.artefact.name if fr.compiled and fr.compiled.artefact else name
        failures = sum(1 for c in fr.cases if c.status == "failed")
        errors = sum(1 for c in fr.cases if c.status == "error") + (1 if fr.diagnostics else 0)
        tests = len(fr.cases) + (1 if fr.diagnostics else 0)
        suite = etree.SubElement(root, "testsuite", name=name, tests=str(tests), failures=str(failures),
                                 errors=str(errors), skipped="0",
                                 time=f"{sum(c.seconds for c in fr.cases):.3f}")
        if fr.diagnostics:
            tc = etree.SubElement(suite, "testcase", name="(test file)", classname=classname)
            el = etree.SubElement(tc, "error", message=fr.diagnostics[0].message, type="Diagnostic")
            el.text = "\n".join(f"{d.code} {d.span or ''} {d.message}" for d in fr.diagnostics)
        for cr in fr.cases:
            _case_element(suite, classname, cr)
        total["tests"] += tests
        total["failures"] += failures
        total["errors"] += errors
    for k, v in total.items():
        root.set(k, str(v))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
