"""Business rules beyond the XSD: compiled Schematron (XSLT 2.0) run with Saxon-HE (``saxonche``).

The EN 16931 and Peppol rules are published only as XSLT 2.0, which lxml/libxslt cannot run, so
this needs the optional dependency ``saxonche`` (``pip install 'exportc[peppol]'``). Each
stylesheet is compiled once per process and reused for every document; the SVRL it produces is
read for ``failed-assert`` elements (rule id, flag fatal/warning, location, message).

The rules take ~90% of a Peppol run. Documents are queued for them in batches (``RuleQueue``)
and read back in the order they were asked for, so the report is the same however they ran:
on one worker process per core (``RulePool``, the default on a machine with two or more cores;
each compiles the stylesheets once and lives as long as the process that started it) while this
process goes on rendering, or in this process (``EXPORTC_RULE_WORKERS=0``, or a single core).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import re
import struct
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from typing import IO, Any

from lxml import etree

_SVRL = "{http://purl.oclc.org/dsdl/svrl}"
_STEP = re.compile(r"\*:([A-Za-z_][\w.\-]*)|@([A-Za-z_][\w.\-]*)|([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)\[")


class SchematronUnavailable(Exception):
    """saxonche is not installed, or a stylesheet cannot be compiled."""


@dataclass(frozen=True)
class Failure:
    """A failed assert: its rule id, ``fatal`` or ``warning``, the node's XPath, the message."""

    rule: str
    flag: str
    location: str
    text: str
    stylesheet: str

    def path(self) -> str:
        """The location as local element names (``Invoice/LegalMonetaryTotal``), predicates gone."""
        return "/".join(m.group(1) or (m.group(2) and "@" + m.group(2)) or m.group(4)
                        for m in _STEP.finditer(self.location))


@cache
def _saxon() -> Any:
    """saxonche's processor class; a clear error when it is not installed."""
    try:
        from saxonche import PySaxonProcessor  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise SchematronUnavailable(
            "Schematron validation needs saxonche: pip install 'exportc[peppol]' "
            "(or run with --no-validate)") from exc
    return PySaxonProcessor


@cache
def _processor() -> Any:
    return _saxon()(license=False)


@cache
def _compiled(path: str) -> Any:
    proc = _processor()
    try:
        return proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=path)
    except Exception as exc:  # saxonche raises PySaxonApiError, not importable without it
        raise SchematronUnavailable(f"cannot compile the schematron stylesheet {path}: {exc}") from exc


class Schematron:
    """Several stylesheets applied to each document; compiled once (cached per process).

    One instance per thread: its XPath processor keeps a context item."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        self.executables = [(p.rsplit("/", 1)[-1], _compiled(p)) for p in paths]
        self.xpath = _processor().new_xpath_processor()
        self.xpath.declare_namespace("svrl", _SVRL[1:-1])

    def check(self, xml: str) -> list[Failure]:
        """Every failed assert of every stylesheet, in document order per stylesheet."""
        if not self.executables:
            return []
        node = _processor().parse_xml(xml_text=xml)
        out: list[Failure] = []
        for name, executable in self.executables:
            svrl = executable.transform_to_value(xdm_node=node).head
            # Most documents fail no assert: asking Saxon costs ~0.02 ms, serialising the SVRL
            # (some 15 kB of fired rules) and parsing it again ~0.3 ms.
            self.xpath.set_context(xdm_item=svrl)
            if not self.xpath.effective_boolean_value("exists(/*/svrl:failed-assert)"):
                continue
            root = etree.fromstring(str(svrl).encode("utf-8"))
            for fa in root.iter(f"{_SVRL}failed-assert"):
                rule = fa.get("id") or ""
                text = " ".join((fa.findtext(f"{_SVRL}text") or "").split())
                text = text.removeprefix(f"[{rule}]-").removeprefix(f"[{rule}] ")  # said once
                out.append(Failure(rule, fa.get("flag") or "fatal", fa.get("location") or "", text,
                                   name))
        return out


# ---- worker processes -------------------------------------------------------------------------

def rule_workers() -> int:
    """Worker processes for the rules: ``EXPORTC_RULE_WORKERS`` when set (0: in this process),
    else one per core this process may use, or none on a single core.

    Measured with bench/bench_peppol.py on an idle 2-core machine, 1,000 invoices: 238 documents/s
    with 2 workers against 150 in process (1.6x); on the bundled 4-invoice example the workers cost
    5% (0.07 s). On a machine whose cores are busy with other work they only add their cost
    (+24% wall at 10,000 invoices on the shared machine, docs/peppol-bis3.md): set it to 0 there."""
    given = os.environ.get("EXPORTC_RULE_WORKERS", "").strip()
    if given.isdigit():
        return int(given)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores >= 2 else 0


def send(fh: IO[bytes], value: object) -> None:
    """One message on a pipe: its length, then the pickle."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(struct.pack("!I", len(data)) + data)
    fh.flush()


def receive(fh: IO[bytes]) -> Any:
    """The next message on a pipe (EOFError when the other side is gone)."""
    head = fh.read(4)
    if len(head) < 4:
        raise EOFError
    (size,) = struct.unpack("!I", head)
    data = fh.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class _Worker:
    """One ``python -m exportc.runtime.ruleworker`` process: batches in over stdin, in order;
    their results out over stdout. A writer thread feeds it (so a full pipe to one busy worker
    never keeps the run from feeding the other) and a reader thread completes the futures in
    the order the batches went in.

    A plain subprocess rather than ``multiprocessing``: spawning re-imports the parent's main
    module, which breaks any script without a ``__main__`` guard; forking would share this
    process's Saxon VM."""

    def __init__(self, kinds: list[tuple[str, ...]]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "exportc.runtime.ruleworker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.waiting: deque[Future[list[list[Failure]]]] = deque()
        self.lock = threading.Lock()
        self.outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.outbox.put(kinds)
        self.writer = threading.Thread(target=self._write, args=(self.proc.stdin,), daemon=True)
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.writer.start()
        self.reader.start()

    def submit(self, paths: tuple[str, ...], xmls: list[str]) -> Future[list[list[Failure]]]:
        future: Future[list[list[Failure]]] = Future()
        with self.lock:
            self.waiting.append(future)
        self.outbox.put((paths, xmls))
        return future

    def _write(self, into: IO[bytes]) -> None:
        try:
            while (item := self.outbox.get()) is not _CLOSE:
                send(into, item)
        except OSError:
            pass  # the worker is gone; the reader tells whoever waits
        finally:
            with contextlib.suppress(OSError):
                into.close()

    def _read(self, out: IO[bytes]) -> None:
        while True:
            try:
                ok, value = receive(out)
            except (EOFError, OSError):
                break
            with self.lock:
                future = self.waiting.popleft()
            if ok:
                future.set_result(value)
            else:
                future.set_exception(SchematronUnavailable(value))
        with self.lock:  # the worker is gone: whoever still waits is told so
            while self.waiting:
                self.waiting.popleft().set_exception(
                    SchematronUnavailable("the Schematron worker stopped"))

    def load(self) -> int:
        return len(self.waiting)

    def close(self) -> None:
        self.outbox.put(_CLOSE)  # the writer closes its input: the worker ends
        self.writer.join(timeout=5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


_CLOSE = object()


class RulePool:
    """Schematron checks on up to ``workers`` worker processes, each compiling the stylesheets
    once; a batch goes to the least busy one. A second worker starts only when the first has
    batches queued (a small run pays one worker's start, not two compiles)."""

    def __init__(self, kinds: list[tuple[str, ...]], workers: int) -> None:
        _saxon()  # saxonche missing: say so now, not from inside a worker (which alone starts Saxon)
        for paths in kinds:
            for p in paths:
                if not os.path.exists(p):
                    raise SchematronUnavailable(f"cannot compile the schematron stylesheet {p}: "
                                                "no such file")
        self.kinds, self.most = kinds, workers
        self.workers = [_Worker(kinds)]
        self.lock = threading.Lock()

    def submit(self, paths: tuple[str, ...], xmls: list[str]) -> Future[list[list[Failure]]]:
        with self.lock:
            worker = min(self.workers, key=_Worker.load)
            if worker.load() >= 2 and len(self.workers) < self.most:
                worker = _Worker(self.kinds)
                self.workers.append(worker)
        return worker.submit(paths, xmls)

    def close(self) -> None:
        for w in self.workers:
            w.close()


_POOLS: dict[tuple[tuple[tuple[str, ...], ...], int], RulePool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(kinds: list[tuple[str, ...]], workers: int) -> RulePool:
    """The process's pool for these stylesheets (started at first use, closed at exit)."""
    key = (tuple(sorted(set(kinds))), workers)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = RulePool(list(key[0]), workers)
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.close()


# ---- asking now, reading later ----------------------------------------------------------------

class _Batch:
    """Documents of one stylesheet set, checked together (one task for a worker)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        self.xmls: list[str] = []
        self.future: Future[list[list[Failure]]] | None = None
        self.results: list[list[Failure]] | None = None


class Later:
    """The failed asserts of one document: asked for now, read (in the order asked) later."""

    __slots__ = ("batch", "index", "queue")

    def __init__(self, queue: RuleQueue, batch: _Batch, index: int) -> None:
        self.queue, self.batch, self.index = queue, batch, index

    def result(self) -> list[Failure]:
        return self.queue.result(self.batch, self.index)


class RuleQueue:
    """Documents waiting for their business rules: sent to the pool ``size`` at a time (one task
    per batch keeps the hand-over cheap next to ~10 ms of rules per document), or, without a
    pool, checked in this process when first read. The results are the same either way."""

    def __init__(self, pool: RulePool | None, size: int = 8) -> None:
        self.pool, self.size = pool, size
        self.open: dict[tuple[str, ...], _Batch] = {}

    def ask(self, paths: tuple[str, ...], xml: str) -> Later:
        batch = self.open.get(paths)
        if batch is None:
            batch = self.open[paths] = _Batch(paths)
        batch.xmls.append(xml)
        later = Later(self, batch, len(batch.xmls) - 1)
        if len(batch.xmls) >= self.size:
            self._send(batch)
        return later

    def _send(self, batch: _Batch) -> None:
        if self.open.get(batch.paths) is batch:
            del self.open[batch.paths]
        if self.pool is not None:
            batch.future = self.pool.submit(batch.paths, batch.xmls)

    def result(self, batch: _Batch, index: int) -> list[Failure]:
        if batch.results is None:
            if batch.future is None:
                self._send(batch)
            if batch.future is not None:
                # (a worker's failure comes as SchematronUnavailable: see _Worker._read)
                batch.results = batch.future.result()
            else:
                rules = Schematron(batch.paths)
                batch.results = [rules.check(x) for x in batch.xmls]
        return batch.results[index]
