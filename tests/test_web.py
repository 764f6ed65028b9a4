"""The operators' console through its HTTP interface (Starlette's TestClient on the real app and
a real history): logins, roles, CSRF, the start form, runs started from the browser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXACT_XSD
from helpers import assert_valid
from starlette.testclient import TestClient
from web_helpers import EXACT, PASSWORD, add_users, client, console, csrf, login, wait_finished

from exportc.orchestrate import open_history
from exportc.runtime.history import HistoryStore


@pytest.fixture
def store(db: str) -> Iterator[HistoryStore]:
    made = open_history(db)
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
                                           "param.debtors[]": "12x", "at": "2020-01-01T10:00"})
    assert response.status_code == 400
    html = response.text
    for name in ("to", "at", "param-invoice_export", "param-code_nr", "param-debtors"):
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


def test_a_login_posted_from_elsewhere_is_refused(web: TestClient) -> None:
    """Login CSRF: a login form another site posts (no token, or one not matching this browser's
    login cookie) opens no session; the console's own form does."""
    web.get("/login")  # this browser now holds a login cookie
    for data in ({}, {"csrf": "forged"}):
        refused = web.post("/login", data={**data, "name": "olga", "password": PASSWORD, "next": "/"})
        assert refused.status_code == 403 and "did not come from this console" in refused.text
        assert web.get("/runs").status_code == 303  # still sent to the login page
    assert login(web, "olga").status_code == 303
    assert web.get("/runs").status_code == 200


def test_production_asks_for_confirmation_first(web: TestClient, store: HistoryStore) -> None:
    login(web, "olga")
    first = _start(web, mode="production", **{"param.invoice_export": "true"})
    assert first.status_code == 200 and 'name="confirmed" value="yes"' in first.text
    assert store.page_runs()[1] == 0
    assert 'name="first_delivery"' in first.text and 'name="allow_deletions"' in first.text
    unguarded = web.post(f"/exports/{EXACT}/start", data={"csrf": csrf(first.text), "mode": "production",
                                                          "param.invoice_export": "true", "confirmed": "yes"})
    assert unguarded.status_code == 400 and "--all" in unguarded.text  # the guard's question, shown
    assert store.page_runs()[1] == 0
    confirmed = web.post(f"/exports/{EXACT}/start", data={"csrf": csrf(first.text), "mode": "production",
                                                          "param.invoice_export": "true", "confirmed": "yes",
                                                          "all": "yes", "first_delivery": "yes"})
    run_id = int(confirmed.headers["location"].rsplit("/", 1)[1])
    assert wait_finished(web, run_id)["status"] == "succeeded"
    assert 'mode mode-P' in web.get("/runs").text


def test_cli_runs_show_in_the_console_and_console_runs_in_exportc_runs(web: TestClient, store: HistoryStore) -> None:
    from typer.testing import CliRunner

    from exportc.cli import app
    runner = CliRunner()
    cli = runner.invoke(app, ["run", EXACT, "--param", "invoice_export=true", "--db", store.url])
    assert cli.exit_code == 0, cli.output
    login(web, "olga")
    response = _start(web, mode="test", **{"param.invoice_export": "false"})
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    wait_finished(web, run_id)
    overview = web.get("/runs").text
    assert overview.count('class="mode mode-T"') == 2 and "olga" in overview
    listed = runner.invoke(app, ["runs", "--db", store.url, "--format", "json"]).output
    assert {r["started_by"] for r in json.loads(listed)} >= {"olga"} and len(json.loads(listed)) == 2


def test_a_user_limited_to_other_profiles_sees_nothing_of_this_one(web: TestClient, store: HistoryStore) -> None:
    from exportc.runtime.accounts import Accounts
    Accounts(store).add("lisa", "operator", PASSWORD, ["acme.recreatie"])
    login(web, "olga")
    run_id = int(_start(web, mode="test", **{"param.invoice_export": "true"}).headers["location"].rsplit("/", 1)[1])
    wait_finished(web, run_id)
    web.cookies.clear()
    login(web, "lisa")
    assert EXACT not in web.get("/").text and "acme.recreatie" in web.get("/").text
    assert web.get(f"/runs/{run_id}").status_code == 404
    assert f'href="/runs/{run_id}"' not in web.get("/runs").text
    assert web.get(f"/exports/{EXACT}/start").status_code == 404


def test_a_scheduled_run_can_be_cancelled_before_it_starts(web: TestClient, store: HistoryStore) -> None:
    import datetime as dt
    login(web, "olga")
    later = (dt.datetime.now() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = _start(web, mode="test", at=later, **{"param.invoice_export": "true"})
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    page = web.get(f"/runs/{run_id}").text
    assert "scheduled" in page and 'id="cancel"' in page
    assert web.post(f"/runs/{run_id}/cancel", data={"csrf": csrf(page)}).status_code == 303
    row = store.get_run(run_id)
    assert row is not None and row.status == "cancelled"
    assert web.post(f"/runs/{run_id}/cancel", data={"csrf": csrf(page)}).status_code == 409


def test_serving_beyond_loopback_warns_about_tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from exportc.cli import app
    served: list[tuple[str, int]] = []
    monkeypatch.setattr("exportc.web.server.serve", lambda _store, host, port: served.append((host, port)))
    db = str(tmp_path / "h.db")
    outside = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "9000", "--db", db])
    assert "without TLS" in outside.output and served == [("0.0.0.0", 9000)]
    local = CliRunner().invoke(app, ["serve", "--db", db])
    assert "without TLS" not in local.output and "exportc users add" in local.output


def test_start_is_disabled_with_the_reason_while_a_production_run_is_in_progress(web: TestClient,
                                                                                  store: HistoryStore) -> None:
    run_id = store.create_run(EXACT, "P", "running", {}, (None, None), None)
    login(web, "olga")
    page = web.get("/").text
    assert "A production run of this profile is in progress." in page
    assert web.get(f"/exports/{EXACT}/start").status_code == 409
    store.finish_run(run_id, store.finish_values("succeeded", "{}", [], 0, 0, {}))
    assert web.get(f"/exports/{EXACT}/start").status_code == 200


def test_a_profile_that_does_not_compile_shows_its_diagnostics(tmp_path: Path) -> None:
    import shutil

    from conftest import EXACT_PROFILE, SHARED

    from exportc.web.server import build
    project = tmp_path / "project"
    shutil.copytree(EXACT_PROFILE.parent, project / "profiles" / "exact")
    (project / "profiles" / "broken.map").write_text(
        'profile broken "Broken"\ntarget "eExact-XML.xsd" root eExact\nAccounts/Acount for x { 1 > @code }\n',
        "utf-8")
    (project / "exportc.toml").write_text(f'[exportc]\nschemas = ["{SHARED / "reference" / "exact-online"}"]\n',
                                          "utf-8")
    store = open_history(f"sqlite:///{tmp_path / 'h.db'}")
    add_users(store)
    with client(build(store, project)) as c:
        login(c, "olga")
        page = c.get("/").text
    assert "The profile does not compile." in page and "broken.map" in page
    assert "Source not bound in exportc.toml: customers, invoices." in page


def test_only_an_admin_manages_users_in_the_browser(web: TestClient, store: HistoryStore) -> None:
    from exportc.runtime.accounts import Accounts
    login(web, "olga")
    assert web.get("/users").status_code == 403
    web.cookies.clear()
    login(web, "adam")
    page = web.get("/users")
    assert page.status_code == 200 and "vera" in page.text
    token = csrf(page.text)
    added = web.post("/users/add", data={"csrf": token, "name": "nina", "role": "viewer", "password": "pw",
                                         "profiles": "acme.recreatie"})
    assert added.status_code == 303
    nina = Accounts(store).get("nina")
    assert nina is not None and nina.role == "viewer" and nina.profiles == ("acme.recreatie",)
    assert web.post("/users/add", data={"csrf": token, "name": "nina", "role": "viewer",
                                        "password": "pw"}).status_code == 400
    assert web.post("/users/nina/remove", data={"csrf": token}).status_code == 303
    assert web.post("/users/adam/remove", data={"csrf": token}).status_code == 400
    assert web.post("/users/vera/remove", data={}).status_code == 403  # no CSRF token
    assert Accounts(store).get("nina") is None and Accounts(store).get("vera") is not None


def test_the_run_page_renders_the_first_groups_of_a_code_and_counts_the_rest() -> None:
    """A failed run with a message per value has thousands of groups of one code: the page
    renders the first SHOWN_GROUPS of them and says how many more report.json holds."""
    from exportc.diagnostics import render_text
    from exportc.runtime.report import problem
    from exportc.web.runpages import SHOWN_GROUPS, grouped

    problems = [problem("error", "E0605", f"value {n} is wrong") for n in range(SHOWN_GROUPS + 50)]
    [(severity, code, count, items, more)] = grouped(problems)
    assert (severity, code, count, len(items), more) == ("error", "E0605", SHOWN_GROUPS + 50, SHOWN_GROUPS, 50)
    assert items == [render_text(p, {}) for p in problems[:SHOWN_GROUPS]]
    [(*_, shown, none_more)] = grouped(problems[:3])
    assert (len(shown), none_more) == (3, 0)
