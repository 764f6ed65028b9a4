"""The optional zip of a run's documents (``exportc run --zip``), for a receiver that wants one
upload instead of one file per invoice.

The zip is written beside the documents' temporary copies, before the run is recorded, and moved
into place with them: it is part of what a run publishes, never half-written, and lists exactly
the documents that were delivered, in the run's order, byte for byte.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from exportc.runtime.runstore import safe_name

# A fixed time stamp for every member: the same documents give the same zip (a rerun's zip can be
# compared with a hash); the run's own time is in its report.
_STAMP = (1980, 1, 1, 0, 0, 0)


def zip_name(profile: str, run_id: int | None) -> str:
    """``<profile>-run-<id>.zip`` (``<profile>.zip`` for a run outside a history)."""
    safe = safe_name(profile)
    return f"{safe}-run-{run_id}.zip" if run_id is not None else f"{safe}.zip"


def write_zip(members: Iterable[tuple[Path, str]], dest: Path) -> None:
    """Write ``dest``: each (file, name in the zip), deflated; flushed to disk before it counts."""
    with open(dest, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, name in members:
                info = zipfile.ZipInfo(name, _STAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(path, "rb") as src, zf.open(info, "w") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
