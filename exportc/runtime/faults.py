"""Fault injection for the crash tests: ``EXPORTC_CRASH_AT=<point>`` SIGKILLs the process there.

The points are the steps of a production run (see ``production.py``); with the variable unset
this costs one dictionary lookup per call.
"""

from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    """Die here, without cleanup, when the crash test asks for it."""
    if os.environ.get("EXPORTC_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
