"""``exportc lsp``: driven over stdio by pygls's LanguageClient, as an editor would."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from conftest import EXACT_PROFILE, ROOT
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from exportc.lsp import features, navigation
from exportc.lsp.document import Analysis, analyse

ACME = ROOT / "profiles" / "examples" / "acme-recreatie.map"


def _line(text: str, needle: str) -> int:
    """0-based line of the first line containing ``needle``."""
    return next(n for n, line in enumerate(text.splitlines()) if needle in line)


def _rule(text: str, source: str, target: str) -> str:
    """The first line of the rule ``source > target`` as written, whatever its alignment (the
    formatter re-aligns a block when one of its rules grows)."""
    pattern = re.compile(rf"^\s*{re.escape(source)}\s+> {re.escape(target)}\b.*$", re.M)
    found = pattern.search(text)
    assert found is not None, (source, target)
    return found.group()


class Session:
    """A running ``exportc lsp`` and what it published."""

    def __init__(self) -> None:
        self.client = LanguageClient("exportc-tests", "1")
        self.published: dict[str, list[lsp.PublishDiagnosticsParams]] = {}
        self.event = asyncio.Event()

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _published(params: lsp.PublishDiagnosticsParams) -> None:
            self.published.setdefault(params.uri, []).append(params)
            self.event.set()

    async def start(self) -> None:
        await self.client.start_io(sys.executable, "-m", "exportc", "lsp", cwd=str(ROOT))
        await self.client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), root_uri=ROOT.as_uri()))
        self.client.initialized(lsp.InitializedParams())

    async def diagnostics(self, uri: str, count: int) -> list[lsp.Diagnostic]:
        """The ``count``-th publication for ``uri`` (waits for it)."""
        while len(self.published.get(uri, [])) < count:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), 30)
        return self.published[uri][count - 1].diagnostics

    def open(self, path: Path, text: str) -> str:
        uri = path.resolve().as_uri()
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="exportc", version=1, text=text)))
        return uri

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def _run(body: Callable[[Session], Awaitable[None]]) -> None:
    async def main() -> None:
        session = Session()
        await session.start()
        try:
            await body(session)
        finally:
            await session.stop()
    asyncio.run(main())


def test_an_editor_session_over_stdio() -> None:
    """Diagnostics on unsaved text, completion from the XSD, hover with the schema's
    documentation, and the base rule of an override, through a real client."""
    text = EXACT_PROFILE.read_text("utf-8")
    order_date = _rule(text, "Factuurdatum", "OrderDate")
    broken = text.replace(order_date, order_date.replace("> OrderDate", "> OrderDat"))
    invoice_line = _line(broken, order_date.replace("> OrderDate", "> OrderDat"))
    end = len(broken.splitlines()[invoice_line])

    async def body(s: Session) -> None:
        uri = s.open(EXACT_PROFILE, broken)
        (diag,) = await s.diagnostics(uri, 1)
        assert diag.code == "E0301" and "OrderDat" in diag.message
        assert diag.range.start.line == invoice_line
        assert diag.range.start.character == broken.splitlines()[invoice_line].index("OrderDat")

        # the user fixes it, typing: the debounced re-check publishes no diagnostics
        s.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=2, uri=uri), [lsp.TextDocumentContentChangePartial(
                lsp.Range(lsp.Position(invoice_line, end), lsp.Position(invoice_line, end)), "e")]))
        assert list(await s.diagnostics(uri, 2)) == []

        # completion on a new line inside `Invoices/Invoice { … }`, after the `>`
        line = _line(text, _rule(text, "Kenmerk", "YourRef"))
        s.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=3, uri=uri), [lsp.TextDocumentContentChangePartial(
                lsp.Range(lsp.Position(line + 1, 0), lsp.Position(line + 1, 0)), "  Kenmerk > \n")]))
        done = await s.client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(line + 1, 12)))
        assert isinstance(done, lsp.CompletionList)
        labels = [i.label for i in done.items]
        assert {"OrderDate", "YourRef", "InvoiceLine", "@ordernumber"} <= set(labels)
        assert labels.index("OrderDate") < labels.index("YourRef") < labels.index("InvoiceLine")
        assert "Name" not in labels and "Contact" in labels  # Account's Name is not Invoice's
        assert "BankAccount" not in labels
        required = {i.label for i in done.items if i.label_details and i.label_details.detail}
        assert "InvoiceLine" in required and "OrderDate" not in required

        # hover on a target: XSD type, occurrence, the schema's documentation
        line = _line(text, order_date)
        hover = await s.client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(line, order_date.index("OrderDate") + 2)))
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert "eExact/Invoices/Invoice/OrderDate" in hover.contents.value
        assert "date" in hover.contents.value and "occurs 0..1" in hover.contents.value
        assert "YYYY-MM-DD" in hover.contents.value

        # go to the base rule from an override in the customer profile
        acme_text = ACME.read_text("utf-8")
        acme = s.open(ACME, acme_text)
        await s.diagnostics(acme, 1)
        line = _line(acme_text, "upper(Bedrijfsnaam)")
        found = await s.client.text_document_definition_async(lsp.DefinitionParams(
            lsp.TextDocumentIdentifier(acme), lsp.Position(line, 4)))
        assert isinstance(found, lsp.Location)
        assert found.uri == EXACT_PROFILE.resolve().as_uri()
        assert found.range.start.line == _line(text, _rule(text, "Bedrijfsnaam", "Name"))
    _run(body)


def test_outline_and_formatting_over_stdio() -> None:
    text = EXACT_PROFILE.read_text("utf-8")

    async def body(s: Session) -> None:
        your_ref = _rule(text, "Kenmerk", "YourRef")
        uri = s.open(EXACT_PROFILE, text.replace(your_ref, "  " + " ".join(your_ref.split())))
        await s.diagnostics(uri, 1)
        symbols = await s.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
            lsp.TextDocumentIdentifier(uri)))
        assert symbols is not None
        names = [sym.name for sym in symbols]
        assert "Accounts/Account" in names and "invoice_export" in names and "vat" in names
        account = next(sym for sym in symbols if isinstance(sym, lsp.DocumentSymbol) and sym.name == "Accounts/Account")
        assert [c.name for c in account.children or []] == ["Contact", "Address", "BankAccount"]
        edits = await s.client.text_document_formatting_async(lsp.DocumentFormattingParams(
            lsp.TextDocumentIdentifier(uri), lsp.FormattingOptions(2, True)))
        assert edits is not None and len(edits) == 1 and edits[0].new_text == text
    _run(body)


def _analysis(path: Path, text: str | None = None) -> Analysis:
    return analyse(path.resolve(), text if text is not None else path.read_text("utf-8"))


def test_an_error_in_the_base_profile_shows_at_extends(tmp_path: Path) -> None:
    base = tmp_path / "base.map"
    base.write_text(EXACT_PROFILE.read_text("utf-8").replace("> OrderDate", "> OrderDat")
                    .replace('from "articles.csv"', "{ }").replace('from "vat_accounts.csv"', "{ }")
                    .replace('"eExact-XML.xsd"', f'"{ROOT.parent / "shared/reference/exact-online/eExact-XML.xsd"}"'),
                    "utf-8")
    child = tmp_path / "child.map"
    child.write_text('profile child extends "base.map"\n', "utf-8")
    a = _analysis(child)
    diags = features.diagnostics(a)
    assert diags and all(d.range.start.line == 0 for d in diags)
    assert any("base.map" in d.message and "OrderDat" in d.message for d in diags)
    assert any(r.location.uri == base.resolve().as_uri() for d in diags for r in d.related_information or [])


def test_hover_on_names_and_functions() -> None:
    text = EXACT_PROFILE.read_text("utf-8")
    a = _analysis(EXACT_PROFILE)
    line = _line(text, "let customer_code") + 1
    param = features.hover(a, line, text.splitlines()[line - 1].index("cust_id_prefix") + 2)
    assert param is not None and "param `cust_id_prefix`" in param and "Optional prefix" in param
    pad = features.hover(a, line, text.splitlines()[line - 1].index("pad(") + 2)
    assert pad is not None and "pad(value, length[, fill])" in pad
    line = _line(text, "article[Grootboekrekening] > Item/@code") + 1
    table = features.hover(a, line, 6)
    assert table is not None and "table `article`" in table and "text -> text" in table
    let = features.hover(a, _line(text, _rule(text, "customer_code", "OrderedBy")) + 1, 5)
    assert let is not None and "let `customer_code`" in let and "= cust_id_prefix + pad(cust_id, cust_id_length)" in let
    field = features.hover(a, line, 14)
    assert field is not None and "field `Grootboekrekening`" in field and "field of `Regels`" in field


def test_completion_offers_fields_in_scope_params_and_functions() -> None:
    text = EXACT_PROFILE.read_text("utf-8")
    a = _analysis(EXACT_PROFILE)
    line = _line(text, _rule(text, "Regelomschrijving", "Description")) + 1
    typed = Analysis(a.path, "\n".join([*text.splitlines()[:line], "    ", *text.splitlines()[line:]]), a.result)
    labels = [i.label for i in features.completion(typed, line + 1, 5)]
    assert {"Regel_sub", "BTW_code", "Factuurnummer", "code_nr", "vat", "customer_code", "pad"} <= set(labels)
    assert "Bedrijfsnaam" not in labels  # a customers field, not in scope in an invoice block
    assert "Description" in labels and "Quantity" in labels  # InvoiceLine's children: nested targets


def test_definition_of_names_extends_and_table_files() -> None:
    a = _analysis(ACME)
    found = navigation.definition(a, 3, 30)
    assert found is not None and found.uri.endswith("exact-online/exact-online.map")
    text = EXACT_PROFILE.read_text("utf-8")
    b = _analysis(EXACT_PROFILE)
    table = navigation.definition(b, _line(text, "table article") + 1, 5)
    assert table is not None and table.uri.endswith("exact-online/articles.csv")
    line = _line(text, "let customer_code") + 1
    param = navigation.definition(b, line, text.splitlines()[line - 1].index("cust_id_length") + 2)
    assert param is not None and param.range.start.line == _line(text, "param cust_id_length")


def test_recheck_after_an_edit_is_fast_warm() -> None:
    text = EXACT_PROFILE.read_text("utf-8")
    _analysis(EXACT_PROFILE, text)  # warm: schema model in memory
    times = []
    for n in range(5):
        started = time.perf_counter()
        features.diagnostics(_analysis(EXACT_PROFILE, text + "\n" * n))
        times.append(time.perf_counter() - started)
    assert min(times) < 0.25  # measured ~70 ms on the dev machine; generous for a loaded CI box


def test_completion_after_run_and_previous() -> None:
    text = EXACT_PROFILE.read_text("utf-8")
    a = _analysis(EXACT_PROFILE)
    line = _line(text, "Kenmerk                 > YourRef") + 1
    lines = text.splitlines()
    typed = Analysis(a.path, "\n".join([*lines[:line], "  coalesce(run.", *lines[line:]]), a.result)
    assert {"booking_date", "description", "from", "to", "mode"} <= {
        i.label for i in features.completion(typed, line + 1, len("  coalesce(run.") + 1)}
    typed = Analysis(a.path, "\n".join([*lines[:line], "  previous.Fa", *lines[line:]]), a.result)
    labels = {i.label for i in features.completion(typed, line + 1, len("  previous.Fa") + 1)}
    assert {"Factuurbedrag", "Factuurdatum", "Regels"} <= labels and "pad" not in labels


def test_document_blocks_complete_from_their_own_root() -> None:
    """`document Root for … file … {}` (one document per record): the block's elements are
    those of that document kind's root, not of a container under the first target's root."""
    from exportc.lsp.document import element_paths, frames_at

    text = 'document CreditNote for invoices file "c.xml" {\n  AccountingSupplierParty {\n    x > '
    frames = frames_at(text, 3, 9)
    assert [f.root for f in frames] == ["CreditNote", None]
    assert element_paths(frames) == ["AccountingSupplierParty"]
    a = _analysis(EXACT_PROFILE)
    assert a.schema_for(None) is a.model and a.schema_for("eExact") is a.model
    assert a.schema_for("CreditNote") is None  # no such document kind in this profile


def test_a_document_kind_completes_and_hovers_from_its_own_schema() -> None:
    """Peppol: `document CreditNote` blocks use the CreditNote schema, names without prefix."""
    peppol = ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map"
    text = peppol.read_text("utf-8")
    a = _analysis(peppol)
    lines = text.splitlines()
    start = _line(text, "document CreditNote")
    line = next(n for n in range(start, len(lines)) if "> IssueDate" in lines[n]) + 1
    hover = features.hover(a, line, lines[line - 1].index("IssueDate") + 2)
    assert hover is not None and "CreditNote/cbc:IssueDate" in hover and "UBL-CreditNote-2.1.xsd" in hover
    typed = Analysis(a.path, "\n".join([*lines[:line], "  x > ", *lines[line:]]), a.result)
    labels = [i.label for i in features.completion(typed, line + 1, 7)]
    assert "CreditNoteTypeCode" in labels and "InvoiceTypeCode" not in labels
