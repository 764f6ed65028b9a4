"""Benchmark: how long an `exportc` command takes to start, as a user runs it. Prints wall time,
CPU time and peak RSS (median of ``--runs``) of whole processes:

    .venv/bin/python bench/bench_startup.py [--runs 7]

- ``run, warm``: ``exportc run`` of the shipped Exact profile on the bundled example
  (``examples/i-reserve``, a test run into a scratch history), with a warm user cache (goal: well
  under 0.3 s);
- ``run, cold``: the same with an empty cache folder (``EXPORTC_CACHE_DIR``): the profile is
  compiled and the schema model built first;
- ``check, warm`` / ``check, cold``: ``exportc check profiles`` (goals: <= 0.3 s warm, <= 1 s cold);
- the floor under them: a bare ``python -c pass``, and the import of the libraries a run cannot do
  without (SQLAlchemy for the history, typer, lxml, msgspec), each in a fresh process.

Commands are interleaved (each round runs every command once) so a machine whose speed drifts
affects them alike. Python writes no bytecode when ``PYTHONDONTWRITEBYTECODE`` is set: exportc's
own modules are then compiled from source in every process (an installed wheel has its bytecode);
the script compiles them first (``compileall``), as an installation does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from wholeprocess import ROOT, as_installed, timed

EXAMPLES = ROOT / "examples" / "i-reserve"
PROFILE = ROOT / "profiles" / "exact-online" / "exact-online.map"


def commands(scratch: Path) -> dict[str, tuple[list[str], dict[str, str], Path | None]]:
    """Name -> (command, environment, cache folder emptied before each run or None)."""
    py = sys.executable
    warm_env = {**os.environ, "EXPORTC_CACHE_DIR": str(scratch / "warm-cache"),
                "EXPORTC_RUN_STORE": str(scratch / "runs")}
    cold_cache = scratch / "cold-cache"
    cold_env = {**warm_env, "EXPORTC_CACHE_DIR": str(cold_cache)}
    run = [py, "-m", "exportc", "run", str(PROFILE), "--param", "invoice_export=true",
           "--source", f"customers={EXAMPLES / 'customers.jsonl'}",
           "--source", f"invoices={EXAMPLES / 'invoices.jsonl'}", "--db", str(scratch / "history.db")]
    check = [py, "-m", "exportc", "check", str(ROOT / "profiles")]
    # with the collector threshold exportc's command line sets (cli.GC_THRESHOLD)
    floor = "import gc; gc.set_threshold(20_000, 10, 10); import sqlalchemy, typer, lxml.etree, msgspec"
    return {
        "run, warm": (run, warm_env, None),
        "run, cold": (run, cold_env, cold_cache),
        "check, warm": (check, warm_env, None),
        "check, cold": (check, cold_env, cold_cache),
        "python -c pass": ([py, "-c", "pass"], warm_env, None),
        "import the libraries": ([py, "-c", floor], warm_env, None),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    as_installed()
    scratch = Path(tempfile.mkdtemp(prefix="exportc-bench-startup-"))
    try:
        cmds = commands(scratch)
        for cmd, env, _cold in cmds.values():  # warms the cache; a failing command ends the bench
            timed(cmd, env)
        figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, (cmd, env, cold) in cmds.items():
                if cold is not None:
                    shutil.rmtree(cold, ignore_errors=True)
                figures[name].append(timed(cmd, env))
        print(f"{'command':<24} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}   (median of {args.runs})")
        for name, runs in figures.items():
            wall, cpu, peak = (statistics.median(r[i] for r in runs) for i in range(3))
            print(f"{name:<24} {wall:8.3f} {cpu:8.3f} {peak:9.0f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
