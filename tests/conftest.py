"""Shared fixtures: where the real reference schemas are, and an isolated schema cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXACT_XSD = SHARED / "reference" / "exact-online" / "eExact-XML.xsd"
EXACT_XSD_2014 = SHARED / "reference" / "exact-online" / "eExact-XML-2014.xsd"
CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = ROOT / "examples" / "i-reserve"
EXACT_PROFILE = ROOT / "profiles" / "exact-online" / "exact-online.map"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["EXPORTC_CACHE_DIR"] = str(tmp_path_factory.mktemp("schema-cache"))
    # Runs keep their files in a run store; the tests' runs go to one outside the checkout.
    os.environ["EXPORTC_RUN_STORE"] = str(tmp_path_factory.mktemp("run-store"))


@pytest.fixture(autouse=True)
def _project_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run from the project root, where exportc.toml lives."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True)
def _close_histories() -> object:
    """Each test's history connections are closed when it ends (no leaked connections)."""
    yield
    from exportc.orchestrate import close_histories
    close_histories()


BACKENDS = ["sqlite", "postgres"]


def _reset(url: str) -> None:
    """An empty history database: every exportc table dropped (the next store makes them anew)."""
    from exportc.runtime.history import HistoryStore, meta
    store = HistoryStore(url)
    with store.engine.begin() as conn:
        meta.drop_all(conn)
    store.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history database URL, once per backend: a SQLite file, and the PostgreSQL test database
    (emptied) where EXPORTC_TEST_POSTGRES_URL names one (.ci/run does; it requires it there)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    url = os.environ.get("EXPORTC_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("EXPORTC_REQUIRE_POSTGRES"):
            pytest.fail("EXPORTC_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set EXPORTC_TEST_POSTGRES_URL; .ci/run does)")
    _reset(url)
    return url


def rel(path: Path | str) -> str:
    """A path relative to the project root, so snapshots do not depend on the checkout."""
    return os.path.relpath(path, ROOT)
