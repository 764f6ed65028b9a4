"""``exportc lsp``: the language server (stdio), on pygls.

One small handler per LSP feature, each calling the same compiler the CLI uses (see
``features``/``navigation``). Diagnostics follow typing: a change schedules a re-check of the
unsaved text after a short pause (debounced), so a burst of keystrokes compiles once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from exportc.lsp import features, navigation
from exportc.lsp.document import Analysis, analyse

DEBOUNCE_SECONDS = 0.15


class ExportcServer(LanguageServer):
    """Keeps the latest analysis per open document and the pending re-check of each."""

    def __init__(self) -> None:
        super().__init__("exportc", "0.1.0", text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}  # the latest analysis whose text parsed, per document
        self.pending: dict[str, asyncio.TimerHandle] = {}

    def analysis(self, uri: str) -> Analysis:
        """The analysis of the document's current text (re-checked now if it changed since)."""
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is not None and cached.text == doc.source:
            return cached
        return self.check(uri)

    def usable(self, uri: str) -> Analysis:
        """The current analysis, or while the text does not parse (a line half typed), the
        latest one that did: hover and go-to keep working elsewhere in the file."""
        current = self.analysis(uri)
        return current if current.own is not None else self.parsed.get(uri, current)

    def check(self, uri: str) -> Analysis:
        """Compile the unsaved text and publish its diagnostics."""
        doc = self.workspace.get_text_document(uri)
        result = analyse(Path(to_fs_path(uri) or uri), doc.source)
        self.analyses[uri] = result
        if result.own is not None:
            self.parsed[uri] = result
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri, features.diagnostics(result), version=doc.version))
        return result

    def later(self, uri: str) -> None:
        """Re-check after a pause in typing; a newer change moves the re-check."""
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(DEBOUNCE_SECONDS, self._due, uri)

    def _due(self, uri: str) -> None:
        self.pending.pop(uri, None)
        self.check(uri)


server = ExportcServer()


def _at(pos: lsp.Position) -> tuple[int, int]:
    return pos.line + 1, pos.character + 1


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ExportcServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: ExportcServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.later(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: ExportcServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ExportcServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)
    ls.parsed.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(params.text_document.uri, []))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: ExportcServer, params: lsp.HoverParams) -> lsp.Hover | None:
    text = features.hover(ls.usable(params.text_document.uri), *_at(params.position))
    if text is None:
        return None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["/", "@", ">"]))
def completion(ls: ExportcServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    # While a line is half typed the text does not parse: complete from the latest parsed
    # analysis's declarations and schema, against the current text's blocks.
    a = ls.usable(uri)
    a = Analysis(a.path, doc.source, a.result)
    return lsp.CompletionList(False, features.completion(a, *_at(params.position)))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: ExportcServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    return navigation.definition(ls.usable(params.text_document.uri), *_at(params.position))


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: ExportcServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    return navigation.symbols(ls.usable(params.text_document.uri))


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: ExportcServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    return navigation.formatting(doc.source, to_fs_path(params.text_document.uri) or doc.uri)


def serve() -> None:
    """Serve on stdin/stdout until the client says exit."""
    server.start_io()
