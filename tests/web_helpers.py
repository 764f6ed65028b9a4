"""Helpers for the console's tests: a console over a fresh history, users, a logged-in client."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.testclient import TestClient

from exportc.runtime.accounts import Accounts
from exportc.runtime.history import HistoryStore
from exportc.web.app import Console, create_app
from exportc.web.server import build

PASSWORD = "correct horse battery staple"
EXACT = "exact_online.invoices"


def console(store: HistoryStore) -> Console:
    return build(store)


def add_users(store: HistoryStore) -> None:
    accounts = Accounts(store)
    for name, role in (("olga", "operator"), ("vera", "viewer"), ("adam", "admin")):
        accounts.add(name, role, PASSWORD)


def client(made: Console) -> TestClient:
    return TestClient(create_app(made), follow_redirects=False)


def login(c: TestClient, name: str, password: str = PASSWORD) -> Any:
    token = csrf(c.get("/login").text)  # the login form's own token (double-submit cookie)
    return c.post("/login", data={"name": name, "password": password, "next": "/", "csrf": token})


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def wait_finished(c: TestClient, run_id: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = c.get(f"/runs/{run_id}/progress").json()
        if body["finished"]:
            return body
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")
