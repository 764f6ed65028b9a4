"""Runs started in the console execute outside the request, on worker threads the server owns.

A run started "now" is stored like a scheduled run due at once, and a worker picks it up, so a
browser run, a run scheduled in the browser and a CLI ``--at`` run all go through the same path
(``orchestrate.work`` → ``execute_scheduled`` → ``run_with_history``), and closing the browser
stops nothing. The workers hook a progress record into each run's options; the run page polls it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from exportc.orchestrate import work
from exportc.runtime.context import RunOptions
from exportc.runtime.history import HistoryStore, RunRow

WORKERS = 2
POLL_SECONDS = 1.0  # how soon a scheduled run starts after it is due


@dataclass
class Progress:
    """What a running run has done so far."""

    phase: str = "starting"
    records: dict[str, int] = field(default_factory=dict)  # source -> records read
    written: dict[str, int] = field(default_factory=dict)  # block -> records written
    started: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, object]:
        return {"phase": self.phase, "records": dict(self.records), "written": dict(self.written),
                "seconds": round(time.monotonic() - self.started, 1)}


class Runner:
    """The server's worker threads and the progress of the runs they execute."""

    def __init__(self, store: HistoryStore, workers: int = WORKERS) -> None:
        self.store = store
        self.workers = workers
        self.progress: dict[int, Progress] = {}
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"exportc-worker-{n}", daemon=True)
            t.start()
            self.threads.append(t)

    def shutdown(self) -> None:
        """Stop taking runs; runs in progress finish (the threads are joined)."""
        self.stop.set()
        self.wake.set()
        for t in self.threads:
            t.join()

    def queued(self) -> None:
        """A run was stored to start now: wake a worker."""
        self.wake.set()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                work(self.store, once=False, poll=POLL_SECONDS, observe=self._observe,
                     on_run=self._done, wake=self.wake, stop=self.stop)
            except Exception:  # the database went away for a moment: keep the worker alive
                logging.getLogger("exportc.web").exception("worker: retrying in 5 s")
                self.stop.wait(5)

    def _observe(self, row: RunRow, opts: RunOptions) -> None:
        p = self.progress[row.id] = Progress()

        def records(source: str, n: int, written: dict[str, int]) -> None:
            p.records[source] = n
            p.written = written

        def phase(name: str) -> None:
            p.phase = name
        opts.progress = records
        opts.phase = phase

    def _done(self, row: RunRow, _report: object) -> None:
        self.progress.pop(row.id, None)
