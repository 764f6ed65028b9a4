"""The run store: every run writes into its own, new folder, and never into another run's.

``<store>/<profile>/run-<id>-<P|T>-<moment>/`` holds a run's XML, ``report.json`` and
``report.txt``, under absolute paths that the history records. A production run's files are
written once: the folder is created exclusively, and a file is moved into place with a hard
link that fails rather than replace an existing file. ``--out`` is only a copy target, filled
after the run; a later run can therefore never replace a delivered file that ``exportc files``
still points at. Test runs beyond the newest ``keep_test_runs`` of a profile are pruned;
production runs never are.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from exportc.runtime.context import UsageError

REPORTS = ("report.json", "report.txt")


class RunStoreError(UsageError):
    """The run store or a copy target cannot be used; the message names the folder."""


def safe_name(name: str) -> str:
    """A profile's name as a file or folder name."""
    return re.sub(r"[^\w.-]+", "_", name) or "profile"


def new_run_folder(store: Path, profile: str, run_id: int, mode: str) -> Path:
    """A new, empty folder for one run (created here; an existing folder is never reused)."""
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    parent = store / safe_name(profile)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            folder = parent / (f"run-{run_id}-{mode}-{stamp}" + (f".{n}" if n else ""))
            try:
                folder.mkdir()
            except FileExistsError:
                continue  # another history's run with this id, this second: take the next name
            return folder.resolve()
    except OSError as exc:
        raise RunStoreError(f"cannot use the run store {store}: {exc.strerror or exc}") from None
    raise RunStoreError(f"cannot make a new run folder in {parent}")


def publish(tmp: Path, final: Path) -> None:
    """Move a finished temporary file to its final name, never replacing an existing file."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise RunStoreError(f"{final} exists already; a run's files are never overwritten") from None
    except OSError:  # a file system without hard links: check, then rename
        if final.exists():
            raise RunStoreError(f"{final} exists already; a run's files are never overwritten") from None
        os.replace(tmp, final)
        return
    os.unlink(tmp)


def run_files(files: Iterable[str], out_dir: str | None) -> list[Path]:
    """A run's files as the history lists them, with its reports beside them."""
    listed = [Path(f) for f in files]
    if out_dir:
        listed += [Path(out_dir) / name for name in REPORTS]
    return listed


def check_writable(dest: Path) -> None:
    """Make sure files can be copied into ``dest`` (made if missing) before a run starts, so a
    wrong ``--out`` stops the command with nothing recorded instead of after a delivery."""
    probe = dest / f".exportc-probe.{os.getpid()}"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunStoreError(f"cannot write the run's files to {dest}: {exc.strerror or exc}") from None


def copy_files(files: Iterable[Path], dest: Path, stale: Iterable[str] = (),
               crash: Callable[[str], None] | None = None) -> list[Path]:
    """Copy files into ``dest`` (each atomically); remove ``stale`` names there that this copy
    does not bring, so a copy target never shows an earlier run's export beside this run's report."""
    files = list(files)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        copied = []
        for f in files:
            tmp = dest / f".{f.name}.{os.getpid()}.copy"
            shutil.copyfile(f, tmp)
            os.replace(tmp, dest / f.name)
            copied.append((dest / f.name).resolve())
            if crash is not None:
                crash("mid-copy")
        brought = {f.name for f in files}
        for name in stale:
            if name not in brought:
                (dest / name).unlink(missing_ok=True)
    except OSError as exc:
        raise RunStoreError(f"cannot copy the run's files to {dest}: {exc.strerror or exc}") from None
    return copied


def prune(folders: list[str], store: Path) -> list[str]:
    """Remove the given run folders when they lie inside the run store (never anything else);
    the ones removed. The history lists a pruned test run's folder at every later run's end, so
    a folder that is gone costs one stat, not a path resolved part by part."""
    removed = []
    root = store.resolve()
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        path = Path(folder).resolve()
        if root in path.parents:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed
