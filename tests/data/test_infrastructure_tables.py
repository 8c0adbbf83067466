"""actiondesk's own tables and its job queue's are never collections, even when the state
database is the data database; ``include=`` / ``exclude=`` take glob patterns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from actiondesk import Desk
from tests.conftest import admin_api, served
from tests.databases import BACKENDS, create_tables, scratch_database

PROCRASTINATE_TABLES = (
    "procrastinate_jobs", "procrastinate_workers", "procrastinate_events",
    "procrastinate_periodic_defers",
)

invoices = sa.Table(
    "invoices", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("total", sa.Numeric(10, 2), nullable=False),
)


async def _start_and_stop(desk: Desk) -> None:
    await desk.start(runner=True)
    await desk.stop()


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[str]:
    with scratch_database("postgresql", tmp_path) as url:
        yield url


def test_procrastinate_and_actiondesk_tables_are_not_listed_nor_readable(pg: str) -> None:
    # A first process migrates actiondesk's tables and creates Procrastinate's in the one
    # database; the desk served afterwards reflects all of them.
    asyncio.run(_start_and_stop(
        Desk(database_url=pg, state_url=pg, secret_key="k", runner="procrastinate")
    ))
    tables = set(create_tables(pg, invoices.metadata, {}))
    infrastructure = {t for t in tables if t != "invoices"}
    assert set(PROCRASTINATE_TABLES) <= infrastructure
    assert {"actiondesk_runs", "actiondesk_alembic_version"} <= infrastructure

    desk = Desk(database_url=pg, state_url=pg, secret_key="k", runner="procrastinate")
    with served(desk) as base, admin_api(base) as api:
        listed = api.get("/collections").json()["collections"]
        assert [c["name"] for c in listed] == ["invoices"]
        for table in sorted(infrastructure):
            for path in (f"/collections/{table}", f"/collections/{table}/records",
                         f"/collections/{table}/records/1"):
                response = api.get(path)
                assert response.status_code == 404, (path, response.text)
                assert "no collection" in response.json()["error"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_tables_in_the_data_database_are_not_collections(
    tmp_path: Path, backend: str
) -> None:
    with scratch_database(backend, tmp_path) as url:
        asyncio.run(_start_and_stop(Desk(database_url=url, state_url=url, secret_key="k")))
        assert "actiondesk_runs" in set(create_tables(url, invoices.metadata, {}))
        desk = Desk(database_url=url, state_url=url, secret_key="k")
        assert asyncio.run(desk.check()) == []
        assert set(desk.datasource.collections) == {"invoices"}
        # Leaving them out by hand (the workaround before they were left out) still works.
        for include, exclude in ((None, ["procrastinate_*", "actiondesk_runs"]),
                                 (["invoices", "actiondesk_*"], [])):
            desk = Desk(database_url=url, state_url=url, secret_key="k", include=include,
                        exclude=exclude)
            assert asyncio.run(desk.check()) == []
            assert set(desk.datasource.collections) == {"invoices"}


def _load(desk: Desk) -> None:
    async def load() -> None:
        try:
            await desk.datasource.connect()
        finally:
            await desk.datasource.close()

    asyncio.run(load())


def test_exclude_and_include_take_glob_patterns(sample_db: str) -> None:
    excluded = Desk(database_url=sample_db, secret_key="k", exclude=["order*"])
    _load(excluded)
    assert set(excluded.datasource.collections) == {"companies", "transactions"}
    # The relationships to the left-out collections went with them.
    assert "orders" not in excluded.datasource.collections["companies"].relationships

    included = Desk(database_url=sample_db, secret_key="k",
                    include=["compan?es", "*_lines", "[ot]rders"])
    _load(included)
    assert set(included.datasource.collections) == {"companies", "order_lines", "orders"}


def test_a_pattern_matching_no_collection_is_reported(sample_db: str, tmp_path: Path) -> None:
    desk = Desk(database_url=sample_db, state_url=f"sqlite:///{tmp_path}/state.db",
                secret_key="k", exclude=["audit_*", "Companies", "transactions"])
    problems = asyncio.run(desk.check())
    # audit_log has no primary key, and patterns are case-sensitive like table names.
    assert len(problems) == 2, problems
    assert any("'audit_*'" in p and "matches no table" in p for p in problems)
    assert any("'Companies'" in p for p in problems)
