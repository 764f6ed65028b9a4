"""Document-per-record output: one XML file per record, each validated on its own.

A profile with ``document`` blocks (UBL: an Invoice or a CreditNote per invoice) writes every
record's document into a staging folder beside the run's output folder; only when the whole run
succeeded are the files moved into place, so a failed run leaves none. Each document is checked
before it counts as delivered: its file name (a plain name, never two documents with one name),
its XSD (lxml, in memory), and the kind's Schematron stylesheets (a ``fatal`` failed assert fails
the record, a ``warning`` goes into the report).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from exportc.artefact import Artefact, DocumentSpec
from exportc.runtime.bundle import write_zip
from exportc.runtime.context import UsageError
from exportc.runtime.runstore import RunStoreError
from exportc.runtime.schematron import (
    Failure,
    Later,
    RuleQueue,
    Schematron,
    SchematronUnavailable,
    rule_workers,
    shared_pool,
)


@dataclass(frozen=True)
class Finding:
    """A problem with one document: severity, code, message and the element path it concerns
    (local names, for the profile's node map)."""

    severity: str
    code: str
    message: str
    path: str = ""


@cache
def _xsd(path: str, mtime: float) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))


def finding(f: Failure) -> Finding:
    """A failed assert as a finding: ``fatal`` fails the record, ``warning`` is reported."""
    return Finding("error" if f.flag == "fatal" else "warning", "E0651" if f.flag == "fatal" else "W0651",
                   f"{f.rule}: {f.text} (at {f.path() or f.location}; {f.stylesheet})", f.path())


class _Kind:
    """One document kind's validators: its XSD here, its business rules through the queue."""

    def __init__(self, spec: DocumentSpec, validate: bool) -> None:
        self.spec = spec
        xsd = Path(spec.schema_path)
        self.schema = _xsd(str(xsd), xsd.stat().st_mtime) if validate else None
        self.rules = spec.schematron if validate and spec.schematron else ()

    def check(self, xml: str) -> list[Finding]:
        """The XSD (the rules are asked for separately, once it holds)."""
        if self.schema is None:
            return []
        doc = etree.fromstring(xml.encode("utf-8"))
        if not self.schema.validate(doc):
            # the first error is the cause; lxml-stubs do not declare the log iterable
            err = next(iter(self.schema.error_log))  # type: ignore[call-overload,unused-ignore]
            return [Finding("error", "E0610", f"the document does not validate against "
                            f"{Path(self.spec.schema_path).name}: line {err.line}: {err.message}")]
        return []


class Pending:
    """A document's business-rule findings, asked for when it was rendered and read when its
    record is settled (``BlockSet`` settles records in the order they were read)."""

    __slots__ = ("later",)

    def __init__(self, later: Later) -> None:
        self.later = later

    def findings(self) -> list[Finding]:
        try:
            return [finding(f) for f in self.later.result()]
        except SchematronUnavailable as exc:
            raise UsageError(str(exc)) from None


class DocumentSink:
    """The documents of one run: staged, checked, and moved into the output folder at the end."""

    def __init__(self, artefact: Artefact, out_dir: Path, validate: bool,
                 zip_name: str | None = None) -> None:
        self.out_dir = out_dir
        self.stage_dir = out_dir / f".documents.{os.getpid()}.parts"
        self.kinds = {k: _Kind(spec, validate) for k, spec in artefact.documents.items()}
        rules = [k.rules for k in self.kinds.values() if k.rules]
        workers = rule_workers() if rules else 0
        self.queue = RuleQueue(shared_pool(rules, workers) if workers else None)
        for paths in rules if not workers else []:
            Schematron(paths)  # compiled now (once per process): a broken stylesheet stops the run here
        self.owners: dict[str, str | None] = {}  # file name -> the record key that wrote it
        self.names: list[str] = []
        self.zip_name = zip_name  # also publish a zip of every document under this name
        self.zipped = False

    def check(self, kind: str, name: str, xml: str, key: str | None) -> list[Finding]:
        """What is wrong with one document's name or XSD, at once; errors refuse it."""
        problem = self._bad_name(name, key)
        if problem is not None:
            return [problem]
        return self.kinds[kind].check(xml)

    def rules(self, kind: str, xml: str) -> Pending | None:
        """Ask for a (name- and XSD-valid) document's business rules; None: it has none."""
        paths = self.kinds[kind].rules
        return Pending(self.queue.ask(paths, xml)) if paths else None

    def stage(self, name: str, xml: str, key: str | None) -> None:
        """Keep a checked document for the end of the run (its record went through whole)."""
        self.stage_dir.mkdir(exist_ok=True)
        with open(self.stage_dir / name, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(xml)
        self.owners[name] = key
        self.names.append(name)

    def add(self, kind: str, name: str, xml: str, key: str | None) -> list[Finding]:
        """Check one document, its rules too, and stage it when nothing is an error."""
        found = self.check(kind, name, xml, key)
        pending = None if found else self.rules(kind, xml)
        found += pending.findings() if pending is not None else []
        if not any(f.severity == "error" for f in found):
            self.stage(name, xml, key)
        return found

    def _bad_name(self, name: str, key: str | None) -> Finding | None:
        if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
            return Finding("error", "E0650", f"the file name {name!r} is not a plain file name")
        if name in self.owners:
            other = self.owners[name]
            return Finding("error", "E0650", f"two documents have the file name {name!r}"
                           + (f" (the other is record {other})" if other and other != key else ""))
        return None

    def temp_paths(self) -> list[tuple[str, str]]:
        return [(str(self.stage_dir), "")]

    def seal(self) -> list[str]:
        """Finish the staged output (the zip, when asked for) before the run is recorded; the
        files the run delivers, the zip last."""
        if self.zip_name and not self.zipped:
            if self.zip_name in self.owners:
                raise RunStoreError(f"a document is named {self.zip_name}, like the run's zip; "
                                    "name the documents differently or run without --zip")
            write_zip(((self.stage_dir / n, n) for n in self.names), self.stage_dir / self.zip_name)
            self.zipped = True
        return self.finals()

    def _published(self) -> list[str]:
        return [*self.names, *([self.zip_name] if self.zipped and self.zip_name else [])]

    def finals(self) -> list[str]:
        return [str(self.out_dir / n) for n in self._published()]

    def staged_pairs(self) -> list[tuple[str, str]]:
        """(staged file, final file) for each, then the staging folder: what recovery moves into
        place when the run was recorded but died before ``commit`` (and removes otherwise)."""
        return [*((str(self.stage_dir / n), str(self.out_dir / n)) for n in self._published()),
                *self.temp_paths()]

    def commit(self, move: Callable[[Path, Path], object] = os.replace) -> None:
        """Move every staged document (and the zip) into the output folder (``move(tmp, final)``)."""
        for name in self._published():
            move(self.stage_dir / name, self.out_dir / name)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.stage_dir, ignore_errors=True)
