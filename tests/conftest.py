from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actiondesk import Desk
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata


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
def sample_server(sample_db: str) -> Iterator[str]:
    desk = Desk(database_url=sample_db, secret_key="test-secret", models=[metadata])
    with live_server(desk) as base_url:
        yield base_url


@pytest.fixture
def api(sample_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sample_server + "/api", timeout=30) as client:
        yield client


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path
