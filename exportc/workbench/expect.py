"""A case's expectations checked against a run: golden XML, XPath assertions, expected problems.

A run writes one document (a whole export) or, for document-per-record profiles, one file per
document. ``expect.golden`` is then a file, or a folder (written ``"golden/name/"``) holding one
golden file per document by name. XPath assertions see the one document, or all of them under
``<documents><document file="…">…</document></documents>``; namespace prefixes are those the
documents declare plus the test file's ``namespaces``.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from exportc.diagnostics import Diagnostic, render_text
from exportc.runtime.report import Report
from exportc.workbench.canonical import BadXml, check_xpath, unified_diff
from exportc.workbench.canonical import canonical as canonical_xml
from exportc.workbench.casefile import Case, ExpectedProblem

Outputs = dict[str, bytes]  # file name -> the document, as written


def outputs_of(report: Report) -> Outputs | None:
    """The documents a succeeded run wrote (None when it failed)."""
    if report.status != "succeeded":
        return None
    return {Path(f).name: Path(f).read_bytes() for f in report.files if f.endswith(".xml")}


def _failed_run(report: Report) -> str:
    errors = "\n".join(render_text(p, {}) for p in report.errors) or "no problem reported"
    return f"the run failed, so there is no output: {errors}"


def _compare(golden: Path, actual: str, update: bool) -> tuple[list[str], bool]:
    """Messages for one golden file, and whether ``update`` rewrote it."""
    try:
        expected = canonical_xml(golden.read_bytes()) if golden.is_file() else None
    except BadXml as exc:
        if not update:
            return [f"the golden file {golden} is not well-formed XML: {exc}"], False
        expected = None
    if update:
        if expected != actual:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(actual, "utf-8")
            return [], True
        return [], False
    if expected is None:
        return [f"the golden file {golden} does not exist; run `exportc test --update` to write it"], False
    if expected == actual:
        return [], False
    return [f"the output differs from {golden.name}:\n" + unified_diff(expected, actual, golden.name)], False


def golden(case: Case, outputs: Outputs | None, report: Report, update: bool) -> tuple[list[str], bool]:
    """Messages for ``expect.golden``, and whether ``update`` rewrote a golden file."""
    assert case.golden is not None
    if outputs is None:
        return [_failed_run(report)], False
    if not case.golden_folder and len(outputs) == 1:
        return _compare(case.golden, canonical_xml(next(iter(outputs.values()))), update)
    if not case.golden_folder:
        return [f"the run wrote {len(outputs)} documents; give `expect.golden` a folder "
                f"(\"{case.golden.name}/\") for one golden file per document"], False
    messages, updated = [], False
    for name, data in sorted(outputs.items()):
        found, wrote = _compare(case.golden / name, canonical_xml(data), update)
        messages += found
        updated |= wrote
    extra = sorted(p.name for p in case.golden.glob("*.xml") if p.name not in outputs) if case.golden.is_dir() else []
    for name in extra:
        if update:
            (case.golden / name).unlink()
            updated = True
        else:
            messages.append(f"the golden document {name} was not written by the run")
    return messages, updated


def _combined(outputs: Outputs) -> etree._Element:
    if len(outputs) == 1:
        return etree.fromstring(next(iter(outputs.values())))
    root = etree.Element("documents")
    for name, data in sorted(outputs.items()):
        etree.SubElement(root, "document", file=name).append(etree.fromstring(data))
    return root


def _namespaces(doc: etree._Element, given: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for el in doc.iter():
        for prefix, uri in el.nsmap.items():
            if prefix and prefix not in found:
                found[prefix] = uri
    return {**found, **given}


def xpaths(case: Case, outputs: Outputs | None, report: Report) -> list[str]:
    """Messages for the XPath assertions that do not hold."""
    if outputs is None:
        return [_failed_run(report)]
    if not outputs:
        return ["the run wrote no document to evaluate XPath assertions on"]
    doc = _combined(outputs)
    ns = _namespaces(doc, case.namespaces)
    return [m for m in (check_xpath(doc, e, ns) for e in case.xpath) if m is not None]


def _matches(want: ExpectedProblem, got: Diagnostic) -> bool:
    if want.code != got.code:
        return False
    if want.severity is not None and want.severity != got.severity:
        return False
    if want.message is not None and want.message not in got.message:
        return False
    if want.key is not None:
        record = got.record or ""
        values = [part.partition("=")[2] for part in record.split(", ")]
        return want.key == record or want.key == ", ".join(values)
    return True


def problems(expected: list[ExpectedProblem], report: Report) -> list[str]:
    """Every expected problem must be reported, and every reported warning or error expected."""
    actual = [p for p in report.problems if p.severity in ("error", "warning")]
    missing = []
    for want in expected:
        hit = next((p for p in actual if _matches(want, p)), None)
        if hit is None:
            missing.append(want)
        else:
            actual.remove(hit)
    out = [f"expected problem {w} was not reported" for w in missing]
    out += [f"unexpected problem: {render_text(p, {})}" for p in actual]
    return out
