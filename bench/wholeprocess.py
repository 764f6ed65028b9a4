"""Timing one whole process from outside, for the end-to-end benches (``bench_run.py``,
``bench_peppol.py``): wall time, CPU time and peak RSS as the operating system accounts them."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, with the children it waited for) and peak RSS in
    MiB of one process run in the project root; a failed command ends the bench with its output."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def as_installed() -> None:
    """Compile exportc's modules to bytecode, as installing the package does. An editable
    checkout run with ``PYTHONDONTWRITEBYTECODE`` set (this machine sets it) would otherwise
    compile them from source in every timed process (~50-80 ms), which no installed exportc does."""
    compileall.compile_dir(ROOT / "exportc", quiet=1)
