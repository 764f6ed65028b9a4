"""The operators' console through its HTTP interface (Starlette's TestClient on the real app and
a real history): logins, roles, CSRF, the start form, runs started from the browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXACT_XSD
from helpers import assert_valid
from starlette.testclient import TestClient
from web_helpers import EXACT, PASSWORD, add_users, client, console, csrf, login, wait_finished

from exportc.orchestrate import open_history
from exportc.runtime.history import HistoryStore, meta


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.db'}"
    else:
        url = os.environ.get("EXPORTC_TEST_POSTGRES_URL", "")
        if not url:
            if os.environ.get("EXPORTC_REQUIRE_POSTGRES"):
                pytest.fail("EXPORTC_TEST_POSTGRES_URL is not set")
            pytest.skip("no PostgreSQL server (set EXPORTC_TEST_POSTGRES_URL; .ci/run does)")
        first = HistoryStore(url)
        with first.engine.begin() as conn:
            meta.drop_all(conn)
        first.dispose()
    made = open_history(url)
    add_users(made)
    yield made


@pytest.fixture
def web(store: HistoryStore) -> Iterator[TestClient]:
    with client(console(store)) as c:
        yield c


def _start(c: TestClient, **fields: str) -> object:
    token = csrf(c.get(f"/exports/{EXACT}/start").text)
    return c.post(f"/exports/{EXACT}/start", data={"csrf": token, **fields})


def test_every_page_needs_a_login(web: TestClient) -> None:
    for path in ("/", "/runs", f"/exports/{EXACT}/start", "/runs/1"):
        response = web.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_wrong_password_is_refused_and_right_one_lets_in(web: TestClient) -> None:
    assert login(web, "olga", "wrong").status_code == 401
    assert login(web, "nobody", PASSWORD).status_code == 401
    assert login(web, "olga").status_code == 303
    page = web.get("/")
    assert page.status_code == 200 and "Exact Online" in page.text and "Start export" in page.text


def test_operator_starts_a_test_run_that_runs_outside_the_request(web: TestClient, store: HistoryStore) -> None:
    login(web, "olga")
    response = _start(web, mode="test", **{"param.invoice_export": "true"})
    assert response.status_code == 303
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert wait_finished(web, run_id)["status"] == "succeeded"
    row = store.get_run(run_id)
    assert row is not None and row.mode == "T" and row.status == "succeeded"
    xml = web.get(f"/runs/{run_id}/files/0?download=1")
    assert xml.status_code == 200 and "attachment" in xml.headers["content-disposition"]
    path = Path(row.files[0])
    assert xml.content == path.read_bytes()
    assert_valid(path, EXACT_XSD)


def test_bad_values_are_shown_next_to_their_field_and_nothing_starts(web: TestClient, store: HistoryStore) -> None:
    login(web, "olga")
    response = _start(web, mode="test", **{"from": "2026-12-01", "to": "2026-11-01",
                                           "param.invoice_export": "", "param.code_nr": "seventy",
                                           "param.debtors[]": "12x"})
    assert response.status_code == 400
    html = response.text
    for name in ("to", "param-invoice_export", "param-code_nr", "param-debtors"):
        assert f'id="field-{name}"' in html
        part = html.split(f'id="field-{name}"', 1)[1].split('class="field', 1)[0]
        assert 'class="error"' in part, f"no error shown at {name}"
    assert store.page_runs()[1] == 0


def test_a_viewer_sees_the_overview_but_may_not_start(web: TestClient, store: HistoryStore) -> None:
    login(web, "vera")
    page = web.get("/").text
    assert 'class="button primary start"' not in page and "Your role may not start exports." in page
    token = csrf(web.get("/runs").text)
    refused = web.post(f"/exports/{EXACT}/start", data={"csrf": token, "mode": "test",
                                                        "param.invoice_export": "true"})
    assert refused.status_code == 403
    assert store.page_runs()[1] == 0


def test_a_post_without_the_csrf_token_is_refused(web: TestClient, store: HistoryStore) -> None:
    login(web, "olga")
    for data in ({}, {"csrf": "forged"}):
        refused = web.post(f"/exports/{EXACT}/start",
                           data={**data, "mode": "test", "param.invoice_export": "true"})
        assert refused.status_code == 403
    assert store.page_runs()[1] == 0


def test_production_asks_for_confirmation_first(web: TestClient, store: HistoryStore) -> None:
    login(web, "olga")
    first = _start(web, mode="production", **{"param.invoice_export": "true"})
    assert first.status_code == 200 and 'name="confirmed" value="yes"' in first.text
    assert store.page_runs()[1] == 0
    confirmed = web.post(f"/exports/{EXACT}/start", data={"csrf": csrf(first.text), "mode": "production",
                                                          "param.invoice_export": "true", "confirmed": "yes"})
    run_id = int(confirmed.headers["location"].rsplit("/", 1)[1])
    assert wait_finished(web, run_id)["status"] == "succeeded"
    assert 'mode mode-P' in web.get("/runs").text
