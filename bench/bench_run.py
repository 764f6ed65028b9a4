"""Benchmark, end to end, as a user runs it: a subprocess ``exportc run`` on JSON Lines files on
disk against the hand-written script it replaces. Prints wall time, CPU time, ratio to the
hand-written script and peak RSS.

    .venv/bin/python bench/bench_run.py [--sizes 20000 100000] [--big] [--runs 3] [--data DIR]

Data: i-Reserve customers and invoices (``bench/gen_ireserve.py``: ~2.5 lines an invoice, one
customer per ten invoices), generated once into ``--data`` (default: the system temp folder).
``--big`` adds 1M invoices. Commands, each a fresh process:

- ``hand-written``: ``bench/handwritten_lxml.py``, lxml ``etree.xmlfile`` + ``SubElement``, the way
  an integrator writes it (reads the JSON Lines with ``json``; no validation, no history): 1.00x;
- ``f-string``: ``bench/handwritten_fstring.py``, the floor for CPython;
- ``test run``: ``exportc run`` of the shipped Exact profile (invoice mode), validated;
- ``--no-validate``: the same without validation;
- ``production, first``: ``--production --all --first-delivery`` into an empty history;
- ``production, 1% changed``: ``--production --all`` over the same data with 1% of the invoices
  changed, into a copy of the history the first run wrote (copied before the timed process).

Runs are interleaved (each round runs every command once, in turn) and the median of ``--runs``
rounds is printed; the ratio is the median of each round's ratio to that round's hand-written
run, so a machine whose speed drifts still compares like with like. Before timing, the script
checks that the hand-written, f-string and exportc documents are the same XML (c14n, insignificant
whitespace removed). A warm exportc cache is part of "as a user runs it": one untimed run first.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from wholeprocess import ROOT, as_installed, timed

PROFILE = ROOT / "profiles" / "exact-online" / "exact-online.map"
BENCH = ROOT / "bench"


def data(folder: Path, invoices: int, changed: float = 0.0) -> Path:
    """Generated source files (kept: generating 1M invoices takes a while)."""
    out = folder / (f"ireserve-{invoices}" + (f"-changed{changed:g}" if changed else ""))
    if not (out / "invoices.jsonl").is_file():
        subprocess.run([sys.executable, str(BENCH / "gen_ireserve.py"), str(out), "--invoices", str(invoices),
                        "--customers", str(max(invoices // 10, 1)), "--changed-percent", str(changed)],
                       check=True)
    return out


class Size:
    """The commands for one data size, with their scratch folder."""

    def __init__(self, invoices: int, folder: Path, scratch: Path) -> None:
        self.invoices = invoices
        self.folder = folder
        self.plain = data(folder, invoices)
        self.scratch = scratch
        self.env = {**os.environ, "EXPORTC_RUN_STORE": str(scratch / "runs")}
        self.counter = 0

    @functools.cached_property
    def changed(self) -> Path:
        """The data with 1% of the invoices changed (generated when first asked for)."""
        return data(self.folder, self.invoices, 1.0)

    def _fresh(self, name: str) -> Path:
        self.counter += 1
        return self.scratch / f"{name}-{self.counter}"

    def hand(self, script: str) -> list[str]:
        return [sys.executable, str(BENCH / script), str(self.plain / "customers.jsonl"),
                str(self.plain / "invoices.jsonl"), str(self._fresh("out")) + ".xml"]

    def exportc(self, source: Path, db: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "exportc", "run", str(PROFILE), "--param", "invoice_export=true",
                "--source", f"customers={source / 'customers.jsonl'}",
                "--source", f"invoices={source / 'invoices.jsonl'}", "--db", str(db), *extra]

    def history(self) -> Path:
        """A history holding a production run over the unchanged data (made once)."""
        db = self.scratch / "delivered.db"
        if not db.exists():
            timed(self.exportc(self.plain, db, "--production", "--all", "--first-delivery"), self.env)
        return db

    def copy_history(self, dest: Path) -> None:
        """A copy of the delivered history (``history``) at ``dest``, for a rerun to start from."""
        delivered = self.history()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{delivered}{suffix}").exists():
                shutil.copy(f"{delivered}{suffix}", f"{dest}{suffix}")
        os.sync()  # the copy's pages on disk now, not flushed by the timed run's first commit

    def commands(self) -> dict[str, tuple[list[str], Path | None]]:
        """name -> (command, history file to copy the delivered history to first, or None)."""
        rerun = self._fresh("rerun").with_suffix(".db")
        return {
            "hand-written lxml": (self.hand("handwritten_lxml.py"), None),
            "f-string": (self.hand("handwritten_fstring.py"), None),
            "exportc test run": (self.exportc(self.plain, self._fresh("test").with_suffix(".db")), None),
            "exportc --no-validate": (self.exportc(self.plain, self._fresh("nv").with_suffix(".db"),
                                                   "--no-validate"), None),
            "exportc --production, first": (self.exportc(self.plain, self._fresh("first").with_suffix(".db"),
                                                         "--production", "--all", "--first-delivery"), None),
            "exportc --production, 1% changed": (self.exportc(self.changed, rerun, "--production", "--all"), rerun),
        }

    def clean_outputs(self) -> None:
        for p in self.scratch.glob("out-*.xml"):
            p.unlink()
        shutil.rmtree(self.scratch / "runs", ignore_errors=True)


# Canonicalising a 124 MB document takes ~1.5 GB; done in this process, that memory would be
# counted in every later child's peak RSS (Linux carries a parent's RSS at fork into the
# child's ru_maxrss), so each document is canonicalised in a child of its own.
_C14N = """
import hashlib, sys
from lxml import etree
tree = etree.parse(sys.argv[1], etree.XMLParser(remove_blank_text=True, huge_tree=True))
doc = etree.tostring(tree, method="c14n")
print(hashlib.sha256(doc).hexdigest(), len(doc))
"""


def c14n(path: Path) -> tuple[str, int]:
    """The SHA-256 and length of a document's canonical form, computed in a child process."""
    out = subprocess.run([sys.executable, "-c", _C14N, str(path)], check=True, capture_output=True,
                         text=True).stdout.split()
    return out[0], int(out[1])


def same_xml(size: Size) -> None:
    """The hand-written, f-string and exportc documents canonicalise equal."""
    outs = []
    for script in ("handwritten_lxml.py", "handwritten_fstring.py"):
        cmd = size.hand(script)
        timed(cmd)
        outs.append(Path(cmd[-1]))
    timed(size.exportc(size.plain, size.scratch / "check.db"), size.env)
    outs += sorted((size.scratch / "runs").rglob("*.xml"))
    docs = [c14n(p) for p in outs]
    if len(docs) != 3 or len(set(docs)) != 1:
        sys.exit(f"the documents differ (c14n): {[str(p) for p in outs]}")
    print(f"  same XML (c14n) from the hand-written script, the f-string script and exportc: "
          f"{docs[0][1] / 1e6:.0f} MB")
    size.clean_outputs()


def bench(size: Size, runs: int) -> None:
    same_xml(size)
    size.history()  # made once, before the timed rounds
    results: dict[str, list[tuple[float, float, int]]] = {}
    for _ in range(runs):
        for name, (cmd, history) in size.commands().items():
            if history is not None:
                size.copy_history(history)
            results.setdefault(name, []).append(timed(cmd, size.env))
        size.clean_outputs()
    base = results["hand-written lxml"]
    print(f"  {'command':34} {'wall s':>7} {'ratio':>6} {'cpu s':>7} {'cpu ratio':>9} {'peak MiB':>9}")
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        ratio = statistics.median(r[0] / b[0] for r, b in zip(rows, base, strict=True))
        cpu_ratio = statistics.median(r[1] / b[1] for r, b in zip(rows, base, strict=True))
        peak = max(r[2] for r in rows)
        print(f"  {name:34} {wall:7.2f} {ratio:5.2f}x {cpu:7.2f} {cpu_ratio:8.2f}x {peak:9d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--big", action="store_true", help="also 1M invoices")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "exportc-bench")
    a = ap.parse_args()
    as_installed()
    sizes = [*a.sizes, *([1_000_000] if a.big else [])]
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="exportc-bench-") as tmp:
            print(f"{n:,} invoices, {max(n // 10, 1):,} customers (median of {a.runs}, interleaved):")
            bench(Size(n, a.data, Path(tmp)), a.runs)


if __name__ == "__main__":
    main()
