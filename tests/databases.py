"""Real test databases: SQLite always, PostgreSQL and MariaDB from the environment.

``ACTIONDESK_TEST_POSTGRESQL_URL`` and ``ACTIONDESK_TEST_MYSQL_URL`` name a server database the
tests may create scratch databases from; the defaults fit the project's dev and CI machines.
Where a server is missing the tests that need it skip with the reason, except under
``CI=true``, where a missing server fails the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.data.urls import to_async_url

POSTGRESQL_URL = os.environ.get(
    "ACTIONDESK_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("ACTIONDESK_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
BACKENDS = ("sqlite", "postgresql", "mariadb")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip, or in CI fail, because a service the test needs is missing."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(reason)


async def _admin(url: str, statements: list[str]) -> None:
    engine = create_async_engine(to_async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A new, empty database on ``backend``; its plain URL; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / ('scratch-' + uuid.uuid4().hex[:8] + '.db')}"
        return
    name = "actiondesk_t_" + uuid.uuid4().hex[:10]
    server = POSTGRESQL_URL if backend == "postgresql" else MYSQL_URL
    try:
        asyncio.run(_admin(server, [f"CREATE DATABASE {name}"]))
    except Exception as exc:  # any failure to reach the server means "missing"
        unavailable(f"{backend} server not available at {make_url(server)!r}: {exc}")
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        drop = [f"DROP DATABASE IF EXISTS {name}"]
        if backend == "postgresql":
            drop = [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]
        asyncio.run(_admin(server, drop))


def create_tables(
    url: str, metadata: sa.MetaData, rows: Mapping[sa.Table, Sequence[Mapping[str, Any]]]
) -> list[str]:
    """Create ``metadata``'s tables in the database at ``url`` and insert ``rows`` (table by
    table, in the order given); the names of all the tables the database then has."""

    async def create() -> list[str]:
        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                for table, values in rows.items():
                    await conn.execute(table.insert(), list(values))
                return list(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(create())
