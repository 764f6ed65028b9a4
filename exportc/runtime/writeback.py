"""A document's pages written to disk while it is still being written.

A run ends its document with an fsync (a production run must have the file on disk before the
history says it was delivered). Left to the kernel, a 150 MB document sits in memory until
then, and that fsync writes all of it while the run waits: 0.3 s at 100k invoices. A thread
that asks for the pages written so far every quarter of a second lets the disk work while the
run still computes, so the last fsync has only the last moments left to write.
"""

from __future__ import annotations

import os
import threading

EVERY = 0.25  # seconds between two flushes of the pages written meanwhile


class Writeback:
    """Flushes the file open at ``fd`` every ``every`` seconds, until ``stop``."""

    def __init__(self, fd: int, every: float | None = None) -> None:
        self.fd = fd
        self.every = EVERY if every is None else every
        self.error: OSError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exportc-writeback", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sync = getattr(os, "fdatasync", os.fsync)  # (macOS has no fdatasync)
        while not self._stop.wait(self.every):
            try:
                sync(self.fd)
            except OSError as exc:
                # Linux reports a failed write-back once per open file, to whichever call asks
                # first: kept, so that the document's own fsync is not the one told nothing.
                self.error = exc
                return

    def stop(self, check: bool = True) -> None:
        """Stop flushing (before the file is closed); with ``check``, raise what a flush met."""
        self._stop.set()
        self._thread.join()
        if check and self.error is not None:
            raise self.error
