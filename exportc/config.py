"""The project configuration, ``exportc.toml``, found by walking up from the working directory.

```toml
[exportc]
profiles = ["profiles"]                     # folders searched for profiles by name
schemas = ["schemas", "../shared/reference/exact-online"]   # folders searched for XSDs
history = ".exportc/history.db"             # SQLite file, or a SQLAlchemy URL
```

Relative paths are relative to the folder holding ``exportc.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_NAME = "exportc.toml"


class ConfigError(Exception):
    """exportc.toml exists but cannot be used."""


@dataclass(frozen=True)
class Config:
    """Where profiles, schemas and the history live."""

    root: Path
    profiles: tuple[Path, ...] = ()
    schemas: tuple[Path, ...] = ()
    history: str = ".exportc/history.db"
    file: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def history_url(self) -> str:
        """A SQLAlchemy URL for the history store."""
        if "://" in self.history:
            return self.history
        path = Path(self.history)
        if not path.is_absolute():
            path = self.root / path
        return f"sqlite:///{path}"


def find_config_file(start: Path | None = None) -> Path | None:
    """The nearest exportc.toml at or above ``start`` (the working directory by default)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _paths(root: Path, raw: object, key: str, file: Path) -> tuple[Path, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ConfigError(f"{file}: `{key}` must be a list of folder names")
    return tuple((root / p).resolve() for p in raw)


def load_config(start: Path | None = None) -> Config:
    """Load the nearest exportc.toml; without one, the working directory is the root.

    ``EXPORTC_SCHEMA_PATH`` (os.pathsep-separated) adds schema folders, for machines where the
    reference schemas live elsewhere.
    """
    file = find_config_file(start)
    extra_schemas = tuple(Path(p).resolve() for p in
                          os.environ.get("EXPORTC_SCHEMA_PATH", "").split(os.pathsep) if p)
    if file is None:
        root = (start or Path.cwd()).resolve()
        return Config(root, (root / "profiles",), (root, *extra_schemas))
    try:
        data = tomllib.loads(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    section = data.get("exportc", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: [exportc] must be a table")
    root = file.parent
    history = section.get("history", ".exportc/history.db")
    if not isinstance(history, str):
        raise ConfigError(f"{file}: `history` must be a path or a URL")
    return Config(
        root=root,
        profiles=_paths(root, section.get("profiles", ["profiles"]), "profiles", file),
        schemas=_paths(root, section.get("schemas", ["."]), "schemas", file) + extra_schemas,
        history=history,
        file=file,
        extra={k: v for k, v in section.items() if k not in {"profiles", "schemas", "history"}},
    )
