"""Source bindings: where a profile's runs read their inputs, declared in ``exportc.toml``.

An operator who clicks Start in the console cannot type file paths, so the project says once
where each profile's sources are (and, if wanted, fixed params)::

    [bind."exact_online.invoices".sources]
    customers = "examples/i-reserve/customers.jsonl"          # a file, relative to exportc.toml
    invoices = { url = "postgresql+psycopg://…/ireserve", query = "SELECT …" }   # a database

    [bind."exact_online.invoices".params]
    invoice_export = "true"

A database URL may take its password from the environment, ``postgresql+psycopg://user:${DB_PASSWORD}@…``
(``runtime.secrets``): the reference is what is stored, the value is read when the run opens it.
A run (CLI or console) starts from the binding; what the command line gives (``--source``,
``--query``, ``--param``) wins over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from exportc.config import ConfigError, read_toml

if TYPE_CHECKING:
    from exportc.runtime.context import RunOptions


@dataclass(frozen=True)
class Binding:
    """One profile's bound sources (absolute paths or URLs), their queries, and fixed params."""

    sources: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def load_bindings(config_file: Path | None) -> dict[str, Binding]:
    """Every ``[bind."<profile>"]`` table of the given exportc.toml (none without one)."""
    if config_file is None or not config_file.is_file():
        return {}
    section = read_toml(config_file).get("bind", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{config_file}: [bind] must be a table of profiles")
    return {name: _binding(name, raw, config_file) for name, raw in section.items()}


def _binding(profile: str, raw: object, file: Path) -> Binding:
    where = f'{file}: [bind."{profile}"]'
    if not isinstance(raw, dict) or set(raw) - {"sources", "params"}:
        raise ConfigError(f"{where} holds `sources` and `params` tables")
    sources: dict[str, str] = {}
    queries: dict[str, str] = {}
    for name, value in _table(raw.get("sources", {}), f"{where}.sources").items():
        if isinstance(value, str):
            sources[name] = _location(value, file.parent)
        elif isinstance(value, dict) and isinstance(value.get("url"), str) and set(value) <= {"url", "query"}:
            sources[name] = value["url"]
            if isinstance(value.get("query"), str):
                queries[name] = value["query"]
        else:
            raise ConfigError(f"{where}.sources.{name} is a path, or {{ url = \"…\", query = \"…\" }}")
    params = {}
    for name, value in _table(raw.get("params", {}), f"{where}.params").items():
        if isinstance(value, bool):  # TOML true/false, as the command line would spell it
            params[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            params[name] = str(value)
        elif isinstance(value, list):
            params[name] = ",".join(str(v) for v in value)
        else:
            raise ConfigError(f"{where}.params.{name}: give a text, number, true/false or a list")
    return Binding(sources, queries, params)


def _table(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    return raw


def _location(value: str, root: Path) -> str:
    """A URL as given; a path made absolute against the folder of exportc.toml."""
    return value if "://" in value else str((root / value).resolve())


def apply_binding(binding: Binding | None, opts: RunOptions) -> None:
    """Fill ``opts`` from the binding; what the command line gave wins."""
    if binding is None:
        return
    # A source the command line rebinds does not keep the bound query.
    bound_queries = {k: v for k, v in binding.queries.items() if k not in opts.sources}
    opts.queries = {**bound_queries, **opts.queries}
    opts.sources = {**binding.sources, **opts.sources}
    opts.params = {**binding.params, **opts.params}
