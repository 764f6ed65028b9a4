"""Is the process that holds a lock (or runs a run) still there?

A lock row names its holder by host, PID, the process's start time and a heartbeat. A PID alone
is no proof of life: after a reboot or a container restart PIDs are handed out again from the
start, and a stranger with the old holder's PID would keep the lock forever. So the heartbeat
decides (no beat for ``STALE_AFTER``: dead, whatever the PID), and on the holder's own host a
PID that is gone, or that now belongs to a process started at another moment, is dead at once.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

HOST = socket.gethostname()
STALE_AFTER = dt.timedelta(seconds=60)  # heartbeats come every 10 s (production.HEARTBEAT_SECONDS)


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def process_start(pid: int) -> str | None:
    """A token for when process ``pid`` started (boot id + start tick), where the OS gives it.

    Linux only (``/proc``); None elsewhere, or when there is no such process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    # Field 22 (starttime) counts from the end of the command name, which may hold spaces.
    fields = stat[stat.rfind(")") + 2:].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def my_start() -> str | None:
    """This process's start token (looked up each time: a forked child is another process)."""
    return process_start(os.getpid())


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Holder:
    """Who holds a lock or runs a run, as its row says."""

    pid: int
    host: str
    heartbeat: dt.datetime | None
    started: str | None = None  # ``process_start`` of the holder when it took the lock
    run_id: int | None = None

    def alive(self) -> bool:
        """Heartbeat fresh, and on this host the same process still running under its PID."""
        if self.heartbeat is None or now() - self.heartbeat >= STALE_AFTER:
            return False
        if self.host != HOST:
            return True  # another machine: its heartbeat is all there is to see
        if not _pid_exists(self.pid):
            return False
        current = process_start(self.pid)
        return self.started is None or current is None or current == self.started

    def describe(self) -> str:
        """``run 12: pid 4711 on host web1, last heartbeat 4s ago``, for messages."""
        beat = "no heartbeat" if self.heartbeat is None else (
            f"last heartbeat {int((now() - self.heartbeat).total_seconds())}s ago")
        run = f"run {self.run_id}: " if self.run_id is not None else ""
        return f"{run}pid {self.pid} on host {self.host}, {beat}"
