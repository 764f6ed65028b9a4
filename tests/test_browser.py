"""The console in a real browser: Debian's chromium driven by selenium against a real
`exportc serve` on a free loopback port with a real SQLite history.

Screenshots of the overview and of a run page are saved in ``tests/artefacts/`` (CI keeps them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXACT_PROFILE, EXACT_XSD, EXAMPLES, ROOT, SHARED
from helpers import assert_valid

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTEFACTS = ROOT / "tests" / "artefacts"
PASSWORD = "correct horse battery staple"

if not (CHROMIUM.exists() and DRIVER.exists()):
    if os.environ.get("EXPORTC_REQUIRE_BROWSER"):
        raise RuntimeError("chromium and chromium-driver are required (.ci/run installs them)")
    pytest.skip("no chromium / chromedriver (apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _project(folder: Path) -> Path:
    """A project with the Exact profile bound to the example, and Acme's profile (extends it)
    bound to an example whose first invoice has a VAT code the profile's table lacks."""
    shutil.copytree(EXACT_PROFILE.parent, folder / "profiles" / "exact-online")
    shutil.copy(ROOT / "profiles" / "examples" / "acme-recreatie.map", folder / "profiles" / "acme.map")
    lines = (EXAMPLES / "invoices.jsonl").read_text("utf-8").splitlines()
    bad = json.loads(lines[0])
    bad["Regels"][0]["BTW_code"] = 99
    (folder / "bad-invoices.jsonl").write_text("\n".join([json.dumps(bad), *lines[1:]]) + "\n", "utf-8")
    (folder / "exportc.toml").write_text(f'''[exportc]
schemas = ["{SHARED / "reference" / "exact-online"}"]
history = "history.db"

[bind."exact_online.invoices".sources]
customers = "{EXAMPLES / "customers.jsonl"}"
invoices = "{EXAMPLES / "invoices.jsonl"}"

[bind."acme.recreatie".sources]
customers = "{EXAMPLES / "customers.jsonl"}"
invoices = "bad-invoices.jsonl"
''', "utf-8")
    return folder


def _exportc(folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exportc", *args], cwd=folder, input=stdin,
                          capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = _project(tmp_path_factory.mktemp("console"))
    for name, role in (("olga", "operator"), ("vera", "viewer")):
        _exportc(folder, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    port = _free_port()
    log = (folder / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "exportc", "serve", "--port", str(port)], cwd=folder,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/login", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                log.close()
                raise AssertionError("exportc serve did not start: " + (folder / "serve.log").read_text()) from None
            time.sleep(0.2)
    yield url, folder
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "intl.accept_languages": "en"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


def _wait(driver: WebDriver, condition: Any, timeout: float = 30) -> Any:
    # The run page reloads itself when the run ends: an element may go stale between looks, and
    # chromedriver words a node that went away mid-read as a plain WebDriverException ("Node with
    # given id does not belong to the document"), so any driver error is a look to repeat.
    return WebDriverWait(driver, timeout, poll_frequency=0.2,
                         ignored_exceptions=(WebDriverException,)).until(condition)


def _login(driver: WebDriver, url: str, name: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    _wait(driver, lambda d: not d.current_url.endswith("/login") or d.find_elements(By.CSS_SELECTOR, ".alert"))


def _status(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, "h1 .status").text)


def _run_finishes(driver: WebDriver, timeout: float = 60) -> str:
    _wait(driver, lambda d: _status(d) in ("succeeded", "failed", "cancelled"), timeout)
    return _status(driver)


def _open_start_form(driver: WebDriver, url: str, profile: str) -> None:
    driver.get(url + "/")
    driver.find_element(By.CSS_SELECTOR, f"[id='profile-{profile}'] a.start").click()
    _wait(driver, lambda d: d.find_elements(By.ID, "start-form"))


def _fetch_status(driver: WebDriver, path: str, form: dict[str, str]) -> int:
    """POST a form from the page with fetch(): what a crafted request gets back."""
    script = """const [path, form, done] = arguments;
      fetch(path, {method: 'POST', body: new URLSearchParams(form), redirect: 'manual'})
        .then(r => done(r.status)).catch(e => done(-1));"""
    return int(driver.execute_async_script(script, path, form))


def test_operator_runs_a_test_then_a_production_export(server: tuple[str, Path], browser: WebDriver,
                                                       downloads: Path) -> None:
    url, folder = server
    _login(browser, url, "olga")
    ARTEFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "exports.png"))
    _open_start_form(browser, url, "exact_online.invoices")
    assert browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=test]").is_selected()
    Select(browser.find_element(By.ID, "in-param.invoice_export")).select_by_value("true")
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: "/runs/" in d.current_url)
    assert _run_finishes(browser) == "succeeded"
    xml_link = browser.find_element(By.CSS_SELECTOR, "a[data-file='exact_online.invoices.xml']")
    xml_link.click()
    target = downloads / "exact_online.invoices.xml"
    _wait(browser, lambda d: target.exists() and not list(downloads.glob("*.crdownload")))
    assert_valid(target, EXACT_XSD)
    ARTEFACTS.mkdir(exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(ARTEFACTS / "run-page-succeeded.png"))

    _open_start_form(browser, url, "exact_online.invoices")
    Select(browser.find_element(By.ID, "in-param.invoice_export")).select_by_value("true")
    browser.find_element(By.ID, "mode-production").click()
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "confirm"))
    assert "records" in browser.find_element(By.CSS_SELECTOR, ".confirm").text
    # No window and no delivery yet in this history: both are asked for explicitly.
    browser.find_element(By.ID, "guard-all").click()
    browser.find_element(By.ID, "guard-first").click()
    browser.find_element(By.ID, "confirm").click()
    _wait(browser, lambda d: "/runs/" in d.current_url)
    assert _run_finishes(browser) == "succeeded"
    browser.get(url + "/runs")
    first = browser.find_element(By.CSS_SELECTOR, "table.runs tbody tr")
    assert first.find_element(By.CSS_SELECTOR, ".mode").text == "P"
    assert "olga" in first.text
    runs = _exportc(folder, "runs").stdout  # the CLI sees the browser's runs in the same history
    assert "olga" in runs and " P " in runs


def test_a_bad_record_shows_the_red_triangle_and_its_report(server: tuple[str, Path], browser: WebDriver) -> None:
    url, _folder = server
    _login(browser, url, "olga")
    _open_start_form(browser, url, "acme.recreatie")
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: "/runs/" in d.current_url)
    assert _run_finishes(browser) == "failed"
    problems = browser.find_element(By.ID, "problems").text
    vat_lines = [n for n, line in enumerate(EXACT_PROFILE.read_text("utf-8").splitlines(), 1)
                 if "vat[BTW_code]" in line and "NetPrice" in line]
    assert "2026001" in problems and "E0605" in problems and "table `vat` has no entry for '99'" in problems
    assert any(f"exact-online.map:{n}" in problems for n in vat_lines)
    browser.execute_script("document.getElementById('problems').scrollIntoView()")
    browser.save_screenshot(str(ARTEFACTS / "run-page-with-errors.png"))
    browser.get(url + "/runs")
    row = browser.find_element(By.CSS_SELECTOR, "table.runs tbody tr")
    triangle = row.find_element(By.CSS_SELECTOR, "svg.warn")
    assert "errors" in triangle.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    browser.save_screenshot(str(ARTEFACTS / "overview.png"))


def _schedule(browser: WebDriver, url: str, seconds: int) -> None:
    _open_start_form(browser, url, "exact_online.invoices")
    Select(browser.find_element(By.ID, "in-param.invoice_export")).select_by_value("true")
    at = (dt.datetime.now() + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    browser.execute_script("document.getElementById('in-at').value = arguments[0]", at)
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: "/runs/" in d.current_url)


def test_a_scheduled_run_runs_by_itself_and_another_is_cancelled(server: tuple[str, Path],
                                                                  browser: WebDriver) -> None:
    url, _folder = server
    _login(browser, url, "olga")
    _schedule(browser, url, 4)
    assert _status(browser) == "scheduled"
    assert _run_finishes(browser, 40) == "succeeded"
    _schedule(browser, url, 600)
    browser.find_element(By.ID, "cancel").click()
    browser.switch_to.alert.accept()
    _wait(browser, lambda d: _status(d) == "cancelled")


def test_a_viewer_sees_the_overview_but_cannot_start(server: tuple[str, Path], browser: WebDriver) -> None:
    url, _folder = server
    _login(browser, url, "vera")
    assert not browser.find_elements(By.CSS_SELECTOR, "a.start")
    assert "Your role may not start exports." in browser.find_element(By.CSS_SELECTOR, ".why").text
    browser.get(url + "/runs")
    assert browser.find_elements(By.CSS_SELECTOR, "table.runs tbody tr .mode")
    csrf = browser.find_element(By.NAME, "csrf").get_attribute("value")
    status = _fetch_status(browser, "/exports/exact_online.invoices/start",
                           {"csrf": csrf or "", "mode": "test", "param.invoice_export": "true"})
    assert status == 403


def test_a_post_without_the_csrf_token_is_refused(server: tuple[str, Path], browser: WebDriver) -> None:
    url, _folder = server
    _login(browser, url, "olga")
    assert _fetch_status(browser, "/exports/exact_online.invoices/start",
                         {"mode": "test", "param.invoice_export": "true"}) == 403


def test_the_pages_fit_a_phone_and_speak_dutch(server: tuple[str, Path], browser: WebDriver) -> None:
    url, _folder = server
    browser.set_window_size(375, 812)
    try:
        _login(browser, url, "olga")
        for path in ("/login", "/", "/exports/exact_online.invoices/start"):
            browser.get(url + path)
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} is wider than a phone"
        browser.find_element(By.CSS_SELECTOR, "a[hreflang=nl]").click()
        assert browser.find_element(By.ID, "start").text == "Export starten"
        browser.save_screenshot(str(ARTEFACTS / "start-form-phone-nl.png"))
        browser.find_element(By.CSS_SELECTOR, "a[hreflang=en]").click()
    finally:
        browser.set_window_size(1280, 900)


def test_five_wrong_passwords_slow_the_next_try(server: tuple[str, Path], browser: WebDriver) -> None:
    url, _folder = server
    for _ in range(5):
        _login(browser, url, "olga", "wrong")
        assert "Wrong user name or password." in browser.find_element(By.CSS_SELECTOR, ".alert").text
    _login(browser, url, "olga")  # even the right password waits now
    assert "Too many wrong passwords" in browser.find_element(By.CSS_SELECTOR, ".alert").text
