from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from actiondesk import Desk
from actiondesk.data.state import StateStore
from tests.auth_support import client, token_for
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata

# Test desks use short throwaway keys ("k"); a real desk refuses them (tests/test_secret_key.py
# checks that, with an environment that does not say this). Subprocesses inherit it.
os.environ["ACTIONDESK_ALLOW_WEAK_SECRET_KEY"] = "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings",
                            "ignore::actiondesk.settings.WeakSecretKeyWarning")


# Sets the ACTIONDESK_* settings variables of the environment (the ``environ`` fixture).
Environ = Callable[[Mapping[str, str]], None]
# A secret key a real desk accepts, for tests whose environment does not allow weak keys.
STRONG_KEY = "Zq3vN8kR2mX7pL4tW9yB6cH1jF5gD0sAeUoIiP"

# The bearer token of the admin of each running test server, by base URL.
TOKENS: dict[str, str] = {}


@contextmanager
def served(desk: Desk) -> Iterator[str]:
    """``desk`` over HTTP (its base URL), its admin's bearer token in TOKENS."""
    token = token_for(desk)
    with live_server(desk) as base_url:
        TOKENS[base_url] = token
        yield base_url


def admin_api(base_url: str) -> httpx.Client:
    """An API client of the server at ``base_url`` (see ``served``), as its admin."""
    return client(base_url + "/api", TOKENS[base_url])


@pytest.fixture(scope="session", params=BACKENDS)
def sample_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of each backend holding the sample schema and data (read-only for tests)."""
    backend: str = request.param
    with scratch_database(backend, tmp_path_factory.mktemp(backend)) as url:
        asyncio.run(create_and_seed(url))
        yield url


@pytest.fixture(scope="session")
def sample_server(sample_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("state") / "state.db"
    desk = Desk(
        database_url=sample_db,
        state_url=f"sqlite:///{state}",
        secret_key="test-secret",
        models=[metadata],
    )
    with served(desk) as base_url:
        yield base_url


@pytest.fixture
def api(sample_server: str) -> Iterator[httpx.Client]:
    with admin_api(sample_server) as api_client:
        yield api_client


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Environ:
    """Sets the environment's ``ACTIONDESK_*`` settings to exactly the ones given (the suite's
    ACTIONDESK_ALLOW_WEAK_SECRET_KEY goes too; the test run's ``ACTIONDESK_TEST_*`` stay);
    undone after the test."""

    def set_environ(values: Mapping[str, str]) -> None:
        for key in list(os.environ):
            if key.startswith("ACTIONDESK_") and not key.startswith("ACTIONDESK_TEST_"):
                monkeypatch.delenv(key)
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_environ


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session", params=BACKENDS)
def actions_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of each backend with the sample schema, which action tests may change."""
    backend: str = request.param
    with scratch_database(backend, tmp_path_factory.mktemp("actions-" + backend)) as url:
        asyncio.run(create_and_seed(url))
        yield url


@pytest.fixture(scope="session")
def actions_server(
    actions_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    from tests.actions_app import build_desk, state_url_in

    desk = build_desk(actions_db, state_url_in(tmp_path_factory.mktemp("state")))
    with served(desk) as base_url:
        yield base_url


@pytest.fixture
def actions_api(actions_server: str) -> Iterator[httpx.Client]:
    with admin_api(actions_server) as api_client:
        yield api_client


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each backend to hold the state tables."""
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(state_url: str) -> AsyncIterator[StateStore]:
    """The state store on ``state_url``, migrated."""
    state = StateStore(state_url)
    await state.start()
    try:
        yield state
    finally:
        await state.close()
