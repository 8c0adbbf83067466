"""Statements compiled once and sent through the driver (``data.driver_statements``) and the
aiosqlite driver with one hand-off per statement and a write queue per file
(``data.sqlite_driver``): what they write is what SQLAlchemy's own path writes, their errors
are SQLAlchemy's, on SQLite, PostgreSQL and MariaDB (issue 15)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.data.asyncpg_direct import AsyncpgDirect
from actiondesk.data.driver_statements import (
    DriverStatement,
    prepared,
    sqlite_execute,
    sqlite_scalar,
)
from actiondesk.data.sqlite_driver import engine_options
from actiondesk.data.state import StateStore, runs_table
from actiondesk.data.urls import direct_connections, pool_options
from actiondesk.errors import lost_database
from actiondesk.runs.store import _FINISH, _INSERT, RunsService
from tests.databases import POSTGRESQL_URL

ALICE = {"id": "1", "email": "alice@example.com"}


def run_row(run_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": run_id, "action_slug": "mark", "action_name": "Mark", "collection": "orders",
        "scope": "single", "caller_id": "1", "caller_email": "alice@example.com",
        "caller": dict(ALICE), "selection": {"ids": ["7"], "note": "é ✓"},
        "values": {"amount": 12.5, "when": "2026-12-04"}, "status": "running",
        "record_count": 1, "started_at": dt.datetime(2026, 12, 4, 5, 6, 7, 891011, dt.UTC),
        **extra,
    }


async def write_one(store: StateStore, statement: Any, values: dict[str, Any]) -> int:
    """One statement the way the audit's hot path writes it on this database: inline on a
    SQLite file, on PostgreSQL's own asyncpg pool, through SQLAlchemy on MariaDB."""
    inline = store.inline_writes
    if inline is not None:
        return int(inline.write(lambda conn: sqlite_execute(conn, statement, values).rowcount,
                                one_statement=True))
    if store.direct is not None:
        return await store.direct.execute(statement, values)
    async with store.autocommit() as conn:
        return int((await conn.execute(statement, values)).rowcount)


async def read_run(store: StateStore, run_id: str) -> dict[str, Any]:
    async with store.read() as conn:
        row = (await conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id))).one()
    return dict(row._mapping)


async def test_a_run_row_written_through_the_driver_reads_back_as_sqlalchemy_wrote_it(
    store: StateStore,
) -> None:
    """The same row, once through SQLAlchemy and once compiled once and sent to the driver
    (asyncpg, or the SQLite file's inline connection): identical when read back."""
    async with store.write() as conn:
        await conn.execute(_INSERT, run_row("a" * 32))
    assert await write_one(store, _INSERT, run_row("b" * 32)) == 1
    first, second = await read_run(store, "a" * 32), await read_run(store, "b" * 32)
    assert {**second, "id": "a" * 32} == first
    assert second["started_at"] == dt.datetime(2026, 12, 4, 5, 6, 7, 891011, dt.UTC)
    assert second["selection"] == {"ids": ["7"], "note": "é ✓"}


async def test_finishing_through_the_driver_counts_the_rows_it_changed(
    store: StateStore,
) -> None:
    async with store.write() as conn:
        await conn.execute(_INSERT, run_row("c" * 32))
    outcome = {"running_id": "c" * 32, "owner_id": "me", "status": "succeeded",
               "result": {"success": "done"},
               "finished_at": dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.UTC)}
    assert await write_one(store, _FINISH, outcome) == 1
    # Finished already: the statement's condition leaves it alone.
    assert await write_one(store, _FINISH, outcome) == 0
    run = await read_run(store, "c" * 32)
    assert (run["status"], run["result"]) == ("succeeded", {"success": "done"})
    assert run["finished_at"] == dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.UTC)


async def test_a_duplicate_key_is_sqlalchemys_integrity_error(store: StateStore) -> None:
    row = run_row("d" * 32)
    await write_one(store, _INSERT, row)
    with pytest.raises(sa.exc.IntegrityError):
        await write_one(store, _INSERT, row)
    # The connections are still good: the next statements go through.
    assert await write_one(store, _INSERT, run_row("f" * 32)) == 1
    status = sa.select(runs_table.c.status).where(runs_table.c.id == sa.bindparam("run_id"))
    if store.direct is not None:
        assert await store.direct.first(status, {"run_id": "d" * 32}) == ("running",)
    assert (await read_run(store, "d" * 32))["status"] == "running"


async def test_a_lost_postgresql_is_an_operational_error() -> None:
    """Refused connections on the asyncpg pool come out as SQLAlchemy's OperationalError, which
    the executor reports as an unavailable database (503), not a bug (500)."""
    url = sa.make_url(POSTGRESQL_URL).set(drivername="postgresql+asyncpg", port=1)  # no one
    direct = AsyncpgDirect(url, create_async_engine(url))
    with pytest.raises(sa.exc.OperationalError) as raised:
        await direct.first(sa.select(sa.literal(1)))
    assert lost_database(raised.value)
    await direct.close()


async def test_runs_begun_and_finished_by_the_service_take_the_driver_path(
    store: StateStore,
) -> None:
    runs = RunsService(store)
    run_id = await runs.begin(action_slug="mark", action_name="Mark", collection="orders",
                              scope="single", caller=ALICE, selection={"ids": ["7"]},
                              values={}, record_count=1)
    assert isinstance(run_id, str)
    await runs.finish(run_id, status="succeeded", status_code=200, result_kind="success",
                      message="Done", result={"success": "Done"})
    with pytest.raises(ValueError, match="already finished"):
        await runs.finish(run_id, status="failed", status_code=500, result_kind=None,
                          message="again")
    run = await read_run(store, run_id)
    assert (run["status"], run["message"], run["duration_ms"] >= 0) == ("succeeded", "Done",
                                                                        True)


def test_a_statement_rendered_per_execution_is_refused() -> None:
    table = sa.table("t", sa.column("id"))
    statement = sa.select(table.c.id).where(table.c.id.in_([1, 2]))
    with pytest.raises(ValueError, match="expanding IN"):
        DriverStatement(statement, sa.create_engine("sqlite://").dialect)


def test_a_statement_is_compiled_once_per_dialect_and_parameter_names() -> None:
    dialect = sa.create_engine("sqlite://").dialect
    keys = tuple(sorted(run_row("e" * 32)))
    assert prepared(_INSERT, dialect, keys) is prepared(_INSERT, dialect, keys)
    assert prepared(_INSERT, dialect, keys[:-1]) is not prepared(_INSERT, dialect, keys)


# ---------------------------------------------------------------------------------------------
# The aiosqlite driver


async def _items_engine(path: Path, busy_timeout_s: float = 5) -> Any:
    url = sa.make_url(f"sqlite+aiosqlite:///{path}")
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout_s},
                                 **engine_options(url))
    async with engine.begin() as conn:
        await conn.execute(sa.text("PRAGMA journal_mode = WAL"))
        await conn.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS items (id integer primary key, n integer not null)"))
        await conn.execute(sa.text("INSERT INTO items (id, n) VALUES (1, 0), (2, 0)"))
    return engine


async def test_one_hand_off_per_statement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    """A statement (cursor, execute, rows, close) is one call on aiosqlite's thread, and
    reads, writes and row counts come back as before."""
    engine = await _items_engine(tmp_path / "one.db")
    calls: Counter[str] = Counter()
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls[getattr(fn, "__name__", "call")] += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    try:
        async with engine.begin() as conn:
            changed = await conn.execute(sa.text("UPDATE items SET n = n + 1 WHERE id = 1"))
            assert changed.rowcount == 1
            rows = (await conn.execute(sa.text("SELECT id, n FROM items ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, 1), (2, 0)]
        # Two statements, two calls (SQLAlchemy's adapter made four per statement).
        assert (calls["run"], calls["commit"], calls["cursor"]) == (2, 1, 0)
        async with engine.connect() as conn:  # server-side cursors keep their own path
            streamed = await conn.stream(sa.text("SELECT n FROM items ORDER BY id"))
            assert [r[0] async for r in streamed] == [1, 0]
    finally:
        await engine.dispose()


async def test_concurrent_write_transactions_queue_instead_of_sleeping(tmp_path: Path) -> None:
    """Thirty transactions on their own connections, each holding the write lock across an
    await, with a busy timeout of 0.3 s: all commit. In SQLite's busy handler, writers sleep
    in growing steps and retry in whatever order, and some ran out of their 0.3 s; queued,
    each waits only for the ones before it (30 x ~3 ms)."""
    engine = await _items_engine(tmp_path / "queue.db", busy_timeout_s=0.3)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE log (seq integer primary key, who integer)"))

    async def write(who: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE items SET n = n + 1 WHERE id = 1"))
            await asyncio.sleep(0.003)
            await conn.execute(sa.text("INSERT INTO log (who) VALUES (:who)"), {"who": who})

    try:
        await asyncio.gather(*(write(who) for who in range(30)))
        async with engine.connect() as conn:
            order = (await conn.execute(sa.text("SELECT who FROM log ORDER BY seq"))).all()
            count = await conn.scalar(sa.text("SELECT n FROM items WHERE id = 1"))
        assert sorted(r[0] for r in order) == list(range(30))
        assert count == 30
    finally:
        await engine.dispose()


async def test_a_failed_transaction_leaves_the_queue(tmp_path: Path) -> None:
    engine = await _items_engine(tmp_path / "failed.db")
    try:
        with pytest.raises(sa.exc.IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(sa.text("UPDATE items SET n = 5 WHERE id = 1"))
                await conn.execute(sa.text("INSERT INTO items (id, n) VALUES (2, 0)"))
        async with engine.begin() as conn:  # the next writer is not stuck behind it
            await conn.execute(sa.text("UPDATE items SET n = 7 WHERE id = 2"))
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT n FROM items ORDER BY id"))).all()
        assert [r[0] for r in rows] == [0, 7]  # the failed one rolled back
    finally:
        await engine.dispose()


async def test_a_writer_held_past_the_busy_timeout_is_still_refused(tmp_path: Path) -> None:
    """The queue never waits forever: a transaction that holds the lock longer than the busy
    timeout makes the next writer fail as SQLite would ("database is locked")."""
    engine = await _items_engine(tmp_path / "held.db", busy_timeout_s=0.2)
    try:
        async with engine.begin() as holder:
            await holder.execute(sa.text("UPDATE items SET n = 1 WHERE id = 1"))
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                async with engine.begin() as other:
                    await other.execute(sa.text("UPDATE items SET n = 2 WHERE id = 2"))
    finally:
        await engine.dispose()


async def test_the_inline_connection_reads_the_stamp_through_the_driver(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    await store.start()
    try:
        inline = store.inline
        assert inline is not None
        value = inline.read(lambda conn: sqlite_scalar(conn, sa.select(sa.literal(41) + 1)))
        assert value == 42
    finally:
        await store.close()


@pytest.mark.parametrize("limit", [2, 8, 30])
def test_a_process_opens_at_most_db_max_connections_per_server_database(limit: int) -> None:
    for url, direct in (("postgresql+asyncpg://h/db", True), ("mysql+asyncmy://h/db", False)):
        options = pool_options(sa.make_url(url), limit)
        pooled = options["pool_size"] + options["max_overflow"]
        assert pooled + (direct_connections(limit) if direct else 0) == limit
        assert options["pool_size"] <= 10


async def test_requests_beyond_the_limit_wait_for_a_connection() -> None:
    """With 2 connections for a process, 20 concurrent reads all succeed: they wait for the
    pool (the direct one included) instead of asking PostgreSQL for more."""
    store = StateStore(POSTGRESQL_URL, max_connections=2)
    await store.start()
    try:
        assert store.direct is not None and store.direct.max_connections == 1

        async def both() -> None:
            assert store.direct is not None
            assert await store.direct.first(sa.select(sa.literal(1))) == (1,)
            async with store.read() as conn:
                assert await conn.scalar(sa.select(sa.literal(2))) == 2

        await asyncio.gather(*(both() for _ in range(20)))
    finally:
        await store.close()
