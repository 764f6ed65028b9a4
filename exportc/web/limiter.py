"""Login attempts, rate-limited per user name and per client address.

Five wrong passwords for one user name in a quarter of an hour are allowed (twenty from one
address, which an office behind one router shares); every further attempt waits twice as long as
the one before (2 s, 4 s, 8 s … up to 5 minutes), counted from the last failure, whether the
password is right or not, so guessing slows to a crawl while the real user is held up only
briefly. Kept in the server's memory: one ``exportc serve`` process serves the console.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

FREE_ATTEMPTS = {"user": 5, "ip": 20}  # by the key's kind: "user:NAME", "ip:ADDRESS"
WINDOW = 15 * 60.0
MAX_WAIT = 300.0


class LoginLimiter:
    """Failures per key ("user:NAME", "ip:ADDR"); ``wait`` says how long before the next try."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.failures: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def _recent(self, key: str) -> list[float]:
        cutoff = self.clock() - WINDOW
        kept = [t for t in self.failures.get(key, []) if t > cutoff]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def wait(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: now)."""
        with self.lock:
            longest = 0.0
            for key in keys:
                recent = self._recent(key)
                extra = len(recent) - FREE_ATTEMPTS.get(key.partition(":")[0], 5)
                if extra >= 0:
                    delay = min(MAX_WAIT, 2.0 * 2 ** extra)
                    longest = max(longest, recent[-1] + delay - self.clock())
            return max(0.0, longest)

    def failed(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self._recent(key)
                self.failures.setdefault(key, []).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.failures.pop(key, None)
