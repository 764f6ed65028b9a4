"""Benchmark of memory as a run grows: the peak RSS of a whole ``exportc run`` process per mode of
``bench_run.py`` at a small and a big size, and their ratio (the goal: flat memory, the big
peak at most 1.25x the small one).

    .venv/bin/python bench/bench_memory.py [--sizes 20000 1000000] [--data DIR] [--modes ...]

Modes, each a fresh process on the data ``bench_run.py`` generates (``gen_ireserve.py``):
``test`` (validated), ``no-validate``, ``first`` (``--production --all --first-delivery`` into
an empty history) and ``rerun`` (``--production --all`` over the data with 1% of the invoices
changed, into a copy of the history a first run wrote). Peak RSS is the process's own (rule
workers, when a profile has business rules, are processes of their own; the Exact profile has
none). Data that is missing is generated into ``--data`` like ``bench_run.py`` does.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_run import Size
from wholeprocess import as_installed, timed

MODES = ("test", "no-validate", "first", "rerun")


def peaks(size: Size, modes: list[str]) -> dict[str, tuple[int, float]]:
    """Mode -> (peak RSS in MiB, wall seconds) of one process each."""
    out: dict[str, tuple[int, float]] = {}
    scratch = size.scratch
    commands = {
        "test": lambda: size.exportc(size.plain, scratch / "test.db"),
        "no-validate": lambda: size.exportc(size.plain, scratch / "nv.db", "--no-validate"),
        "first": lambda: size.exportc(size.plain, scratch / "first.db", "--production", "--all",
                                      "--first-delivery"),
        "rerun": lambda: size.exportc(size.changed, scratch / "rerun.db", "--production", "--all"),
    }
    if "rerun" in modes:
        size.copy_history(scratch / "rerun.db")  # untimed: the history the rerun starts from
    for mode in modes:
        wall, _cpu, peak = timed(commands[mode](), size.env)
        out[mode] = (peak, wall)
        print(f"  {size.invoices:>9,} {mode:12} {peak:6d} MiB {wall:7.1f} s", flush=True)
        size.clean_outputs()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 1_000_000])
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "exportc-bench")
    a = ap.parse_args()
    as_installed()
    results: dict[int, dict[str, tuple[int, float]]] = {}
    for n in a.sizes:
        with tempfile.TemporaryDirectory(prefix="exportc-bench-mem-") as tmp:
            results[n] = peaks(Size(n, a.data, Path(tmp)), a.modes)
    small, big = a.sizes[0], a.sizes[-1]
    print(f"  {'mode':12} {f'{small:,}':>10} {f'{big:,}':>10} {'ratio':>6}")
    for mode in a.modes:
        lo, hi = results[small][mode][0], results[big][mode][0]
        print(f"  {mode:12} {lo:6d} MiB {hi:6d} MiB {hi / lo:5.2f}x")


if __name__ == "__main__":
    main()
