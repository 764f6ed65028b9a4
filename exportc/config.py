"""The project configuration, ``exportc.toml``: what it says (where it is found: ``project.py``).

```toml
[exportc]
profiles = ["profiles"]                     # folders searched for profiles by name
schemas = ["schemas", "../shared/reference/exact-online"]   # folders searched for XSDs
history = ".exportc/history.db"             # SQLite file, or a SQLAlchemy URL
runs = ".exportc/runs"                      # the run store: each run's own folder
keep_test_runs = 50                         # test runs kept per profile (production: all)
max_deletions = "10%"                       # deletion guard: a share of what was delivered, or a count

[exportc.max_deletions_per_profile]         # the guard per profile
"exact_online.invoices" = 25
```

Relative paths are relative to the folder holding ``exportc.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "exportc.toml"
KNOWN = {"profiles", "schemas", "history", "runs", "keep_test_runs", "max_deletions",
         "max_deletions_per_profile"}
DEFAULT_MAX_DELETIONS = "10%"


class ConfigError(Exception):
    """exportc.toml exists but cannot be used."""


@dataclass(frozen=True)
class Config:
    """Where profiles, schemas, the history and the run store live."""

    root: Path
    profiles: tuple[Path, ...] = ()
    schemas: tuple[Path, ...] = ()
    history: str = ".exportc/history.db"
    file: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
    runs_folder: str = ".exportc/runs"
    keep_test_runs: int = 50
    max_deletions: str = DEFAULT_MAX_DELETIONS
    max_deletions_per_profile: dict[str, str] = field(default_factory=dict)

    def deletion_guard(self, profile: str) -> str:
        """The deletion guard of a profile: its own setting, else the project's."""
        return self.max_deletions_per_profile.get(profile, self.max_deletions)

    @property
    def history_url(self) -> str:
        """A SQLAlchemy URL for the history store."""
        if "://" in self.history:
            return self.history
        path = Path(self.history)
        if not path.is_absolute():
            path = self.root / path
        return f"sqlite:///{path}"

    @property
    def runs(self) -> Path:
        """The run store folder (absolute)."""
        path = Path(self.runs_folder)
        return path if path.is_absolute() else (self.root / path).resolve()


def _paths(root: Path, raw: object, key: str, file: Path) -> tuple[Path, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ConfigError(f"{file}: `{key}` must be a list of folder names")
    # Absolute, but symlinks not followed: a folder is shown as the user wrote it (a `../shared`
    # that is a symlink stays `../shared` in hints), and is found through the link all the same.
    return tuple(Path(os.path.normpath(root / p)) for p in raw)


def _extra_schemas() -> tuple[Path, ...]:
    """``EXPORTC_SCHEMA_PATH`` (os.pathsep-separated) adds schema folders, for machines where
    the reference schemas live elsewhere."""
    return tuple(Path(p).resolve() for p in
                 os.environ.get("EXPORTC_SCHEMA_PATH", "").split(os.pathsep) if p)


def read_toml(file: Path) -> dict[str, Any]:
    """The tables of an exportc.toml; a file that cannot be read or parsed is a ConfigError
    naming it (shared by the [exportc] settings and the [bind] tables)."""
    try:
        return tomllib.loads(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: {exc}") from exc


def read_config(file: Path | None, root: Path) -> Config:
    """The configuration in ``file``; without one, ``root`` is the project root."""
    if file is None:
        return Config(root, (root / "profiles",), (root, *_extra_schemas()))
    section = read_toml(file).get("exportc", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: [exportc] must be a table")
    root = file.parent
    history = section.get("history", ".exportc/history.db")
    if not isinstance(history, str):
        raise ConfigError(f"{file}: `history` must be a path or a URL")
    runs = section.get("runs", ".exportc/runs")
    if not isinstance(runs, str):
        raise ConfigError(f"{file}: `runs` must be a folder")
    keep = section.get("keep_test_runs", 50)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise ConfigError(f"{file}: `keep_test_runs` must be a whole number, 0 or more")
    guard = _guard(section.get("max_deletions", DEFAULT_MAX_DELETIONS), "max_deletions", file)
    per_profile = section.get("max_deletions_per_profile", {})
    if not isinstance(per_profile, dict):
        raise ConfigError(f"{file}: `max_deletions_per_profile` must be a table of profile = limit")
    return Config(
        root=root,
        profiles=_paths(root, section.get("profiles", ["profiles"]), "profiles", file),
        schemas=_paths(root, section.get("schemas", ["."]), "schemas", file) + _extra_schemas(),
        history=history,
        file=file,
        extra={k: v for k, v in section.items() if k not in KNOWN},
        runs_folder=runs,
        keep_test_runs=keep,
        max_deletions=guard,
        max_deletions_per_profile={str(k): _guard(v, f"max_deletions_per_profile.{k}", file)
                                   for k, v in per_profile.items()},
    )


def _guard(raw: object, key: str, file: Path) -> str:
    """A deletion guard: a whole number of records, or a share of what was delivered ("10%")."""
    text = str(raw).strip() if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    number = text[:-1] if text.endswith("%") else text
    if not number.isdigit() or (text.endswith("%") and int(number) > 100):
        raise ConfigError(f"{file}: `{key}` must be a number of records (25) or a share of what "
                          f"was delivered in the run's window (\"10%\"), got {raw!r}")
    return text
