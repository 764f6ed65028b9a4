"""Where things are: every lookup of a file, in one place.

A profile belongs to its project, wherever a command is started from:

- the **project** of a profile is the nearest ``exportc.toml`` at or above the profile's own
  folder (without one, the profile's folder itself); the working directory decides only for
  commands that name no profile file (``runs``, ``show``, ``files``, ``worker``, a profile
  given by name);
- a **base profile** given by path is found relative to the profile that extends it; given by
  name, in the profile folders of the extending profile's project;
- a **schema** is found beside the profile that declares the ``target``, then in the schema
  folders of *that profile's* project, so a base keeps its schemas when a customer profile in
  another folder or repository extends it;
- a **table file** is relative to the profile that declares the table;
- the **history** is ``--db`` (a path on the command line is relative to the working
  directory, like any path a user types) or the project's ``history``;
- the **run store** (each run's own folder) is the project's ``runs`` folder;
  ``EXPORTC_RUN_STORE`` overrides it (CI, tests, a read-only checkout).

Nothing here reads a profile beyond its ``profile`` line, and nothing imports the runtime.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from exportc.config import CONFIG_NAME, Config, read_config


def find_config_file(folder: Path) -> Path | None:
    """The nearest exportc.toml at or above ``folder``."""
    here = folder.resolve()
    for candidate_folder in (here, *here.parents):
        candidate = candidate_folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def project_at(folder: Path) -> Config:
    """The project a folder belongs to (raises ``ConfigError`` for a broken exportc.toml)."""
    return read_config(find_config_file(folder), folder.resolve())


def project_of(file: Path | str) -> Config:
    """The project a profile (or any file of it) belongs to: found from the file's location."""
    return project_at(Path(file).resolve().parent)


def cwd_project() -> Config:
    """The project of the working directory: only for commands that name no profile file."""
    return project_at(Path.cwd())


# ---- profiles ---------------------------------------------------------------------------------

def find_profile(name: str, project: Config | None = None) -> Path | None:
    """A profile by path, or by the name in its ``profile`` line (in the profile folders of
    ``project``, the working directory's by default)."""
    path = Path(name)
    if path.is_file():
        return path
    found = _by_name(name, (project or cwd_project()).profiles)
    return display_path(found) if found else None


def find_base(name: str, is_path: bool, child_file: str) -> Path | None:
    """The file of a base profile: by path relative to the child, or by profile name in the
    profile folders of the child's own project."""
    if is_path:
        if "\0" in name:
            return None
        candidate = (Path(child_file).parent / name).resolve()
        return candidate if candidate.is_file() else None
    return _by_name(name, project_of(child_file).profiles)


def _by_name(name: str, folders: tuple[Path, ...]) -> Path | None:
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.map")):
            if declared_name(path) == name:
                return path.resolve()
    return None


def declared_name(path: Path) -> str | None:
    """The name in a file's ``profile`` line, read without a full parse."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = re.match(r"\s*profile\s+([A-Za-z_][\w.]*)", line)
                if m:
                    return m.group(1)
    except OSError:
        return None
    return None


# ---- schemas and tables -----------------------------------------------------------------------

def schema_folders(declaring_file: str) -> list[Path]:
    """Where a ``target`` schema is looked for, in order: beside the declaring profile, then
    the schema folders of the declaring profile's own project."""
    return list(dict.fromkeys([Path(declaring_file).resolve().parent,
                               *project_of(declaring_file).schemas]))


def find_schema(name: str, declaring_file: str) -> Path | None:
    """A target XSD named in ``declaring_file``: directly in each folder, then by file name
    anywhere below one (the reference folders nest the schemas)."""
    folders = schema_folders(declaring_file)
    for folder in folders:
        candidate = folder / name
        if candidate.is_file():
            return candidate.resolve()
    for folder in folders[1:]:
        if folder.is_dir():
            for hit in sorted(folder.rglob(Path(name).name)):
                return hit.resolve()
    return None


def table_path(file: str, declaring_file: str) -> Path:
    """A table's CSV file, relative to the profile that declares the table."""
    return (Path(declaring_file).resolve().parent / file).resolve()


# ---- history and run store --------------------------------------------------------------------

def history_url(project: Config, db: str | None = None) -> str:
    """A SQLAlchemy URL: ``--db`` (a SQLite path or a URL) or the project's history."""
    if db:
        return db if "://" in db else f"sqlite:///{Path(db).resolve()}"
    return project.history_url


def run_store(project: Config) -> Path:
    """The folder that holds each run's own folder."""
    override = os.environ.get("EXPORTC_RUN_STORE")
    return Path(override).resolve() if override else project.runs


# ---- showing paths ----------------------------------------------------------------------------

def display_path(path: Path) -> Path:
    """Relative to the working directory when the two share a folder (`../shared/...` rather than
    an absolute path that differs per machine), so diagnostics read like the user's and stay stable."""
    cwd = Path.cwd()
    try:
        return path.relative_to(cwd)
    except ValueError:
        pass
    if path.is_absolute() and os.path.commonpath([path, cwd]) != path.anchor:
        return Path(os.path.relpath(path, cwd))
    return path
