"""Language-server re-check latency on the shipped Exact profile, through a real client over stdio.

Cold: from didOpen to the first published diagnostics (the server's first compile: schema model
from the disk cache, parser tables). Warm: from an edit to its diagnostics, less the debounce
pause, over 20 edits. Also the in-process cost of one re-check (compile without codegen).

    .venv/bin/python bench/bench_lsp.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "exact-online" / "exact-online.map"


async def main() -> None:
    from exportc.lsp.server import DEBOUNCE_SECONDS

    client = LanguageClient("bench", "1")
    arrived: asyncio.Queue[float] = asyncio.Queue()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: lsp.PublishDiagnosticsParams) -> None:
        arrived.put_nowait(time.perf_counter())

    await client.start_io(sys.executable, "-m", "exportc", "lsp", cwd=str(ROOT))
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    uri = PROFILE.as_uri()
    text = PROFILE.read_text("utf-8")
    started = time.perf_counter()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="exportc", version=1, text=text)))
    cold = await arrived.get() - started
    warm = []
    for n in range(20):
        started = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=n + 2, uri=uri),
            [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(0, 1), lsp.Position(0, 1)),
                                                  text=" ")]))
        warm.append(await arrived.get() - started - DEBOUNCE_SECONDS)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    print(f"cold (open -> diagnostics): {cold * 1000:.0f} ms")
    print(f"warm (edit -> diagnostics, less the {DEBOUNCE_SECONDS * 1000:.0f} ms debounce): median "
          f"{statistics.median(warm) * 1000:.0f} ms, min {min(warm) * 1000:.0f}, max {max(warm) * 1000:.0f}")


def in_process() -> None:
    from exportc.lsp.document import analyse
    from exportc.lsp.features import diagnostics

    text = PROFILE.read_text("utf-8")
    diagnostics(analyse(PROFILE, text))
    times = []
    for n in range(20):
        t = time.perf_counter()
        diagnostics(analyse(PROFILE, text + " " * n))
        times.append(time.perf_counter() - t)
    print(f"in process, one re-check: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
    in_process()
