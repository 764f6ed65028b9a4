"""``exportc serve``: build the console over the project's history and run it with uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from exportc.project import project_at
from exportc.runtime.history import HistoryStore
from exportc.web.app import Console, create_app
from exportc.web.catalog import Catalog
from exportc.web.runner import Runner


def build(store: HistoryStore, start: Path | None = None, workers: int = 2,
          secure_cookies: bool = False) -> Console:
    """The console of the project found from ``start`` (the working directory by default)."""
    config = project_at(start or Path.cwd())
    return Console(store, Catalog(config.profiles), Runner(store, workers), secure_cookies=secure_cookies)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(store: HistoryStore, host: str, port: int) -> None:
    """Serve until interrupted; runs in progress finish before the server stops."""
    import uvicorn

    # Behind a TLS proxy on another host the cookie must be marked secure; on loopback it cannot be.
    console = build(store, secure_cookies=not is_loopback(host))
    uvicorn.run(create_app(console), host=host, port=port, log_level="warning",
                proxy_headers=False)
