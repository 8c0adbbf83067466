"""A SQLite state database in WAL mode, and the short statements run on the event loop's
thread (``data.inline_sqlite``): never waiting for a lock, taking the usual path then, and
writing exactly what the usual path writes (issue 15)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from actiondesk import Desk
from actiondesk.data.inline_sqlite import Busy, InlineSqlite
from actiondesk.data.state import StateStore
from actiondesk.permissions.service import PermissionsService, RoleSpec
from actiondesk.runs.store import RunsService
from tests.doc_blocks import blocks, section

ALICE = {"id": "1", "email": "alice@example.com"}


async def pragmas(store: StateStore) -> tuple[str, int]:
    async with store.read() as conn:
        mode = await conn.scalar(sa.text("PRAGMA journal_mode"))
        synchronous = await conn.scalar(sa.text("PRAGMA synchronous"))
    return str(mode), int(synchronous)


async def test_the_state_file_runs_in_wal_with_the_chosen_synchronous(tmp_path: Path) -> None:
    for setting, level in (("NORMAL", 1), ("FULL", 2)):
        store = StateStore(f"sqlite:///{tmp_path / setting}.db", sqlite_synchronous=setting)
        await store.start()
        try:
            assert await pragmas(store) == ("wal", level)
            inline = store.inline
            assert inline is not None
            assert inline.read(lambda c: c.scalar(sa.text("PRAGMA synchronous"))) == level
            # FULL syncs at every commit: its writes stay off the event loop.
            assert (store.inline_writes is not None) is (setting == "NORMAL")
        finally:
            await store.close()


def test_the_readme_example_chooses_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (example,) = blocks(section("### The state database on SQLite"), "sh")
    export, assignment = example.text.split()[:2]
    assert export == "export"
    name, value = assignment.split("=")
    monkeypatch.setenv(name, value)
    desk = Desk(database_url=f"sqlite:///{tmp_path / 'data.db'}",
                state_url=f"sqlite:///{tmp_path / 'state.db'}", allow_weak_secret_key=True,
                secret_key="x" * 32)
    assert desk.settings.state_sqlite_synchronous == "FULL"

    async def check() -> None:
        await desk.state.start()
        try:
            assert await pragmas(desk.state) == ("wal", 2)
        finally:
            await desk.state.close()

    asyncio.run(check())


def test_a_bad_synchronous_setting_is_named(tmp_path: Path) -> None:
    from actiondesk import ConfigurationError

    with pytest.raises(ConfigurationError, match="state_sqlite_synchronous"):
        Desk(state_url=f"sqlite:///{tmp_path / 's.db'}", state_sqlite_synchronous="OFF",
             secret_key="x" * 32)


async def test_in_memory_databases_take_the_usual_path() -> None:
    store = StateStore("sqlite://")
    await store.start()
    try:
        assert store.inline is None  # another connection would be another database
    finally:
        await store.close()


@pytest.fixture
async def store(tmp_path: Path) -> StateStore:
    made = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    await made.start()
    yield made  # type: ignore[misc]
    await made.close()


def lock_held_by_another_process(path: str) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_an_inline_write_never_waits_and_writes_nothing_when_the_lock_is_taken(
    store: StateStore,
) -> None:
    inline = store.inline_writes
    assert inline is not None
    path = store.url.database or ""
    other = lock_held_by_another_process(path)
    try:
        with pytest.raises(Busy):
            inline.write(lambda c: c.execute(sa.text(
                "INSERT INTO actiondesk_meta (key, value) VALUES ('probe', '1')")))
        # A reader is never held up by the writer in WAL mode.
        assert inline.read(lambda c: c.scalar(sa.text("SELECT count(*) FROM actiondesk_runs"))
                           ) == 0
    finally:
        other.rollback()
        other.close()
    assert inline.read(lambda c: c.scalar(sa.text(
        "SELECT count(*) FROM actiondesk_meta WHERE key = 'probe'"))) == 0


async def test_runs_are_recorded_while_another_process_holds_the_lock(
    store: StateStore,
) -> None:
    """The run row waits for the lock on the usual path (the busy timeout) instead of
    failing, and is then written exactly once."""
    runs = RunsService(store)
    path = store.url.database or ""
    other = lock_held_by_another_process(path)

    async def release_soon() -> None:
        await asyncio.sleep(0.3)
        other.rollback()

    releasing = asyncio.create_task(release_soon())
    run_id = await runs.begin(action_slug="touch", action_name="Touch", collection="companies",
                              scope="single", caller=ALICE, selection={"ids": ["1"]},
                              values={"note": "é"})
    await releasing
    other.close()
    assert isinstance(run_id, str)
    await runs.finish(run_id, status="succeeded", status_code=200, result_kind="success",
                      message="done", result={"success": "done"})
    run = await runs.get(run_id)
    assert run.status == "succeeded" and run.values == {"note": "é"}
    assert run.duration_ms is not None and run.finished_at is not None
    await runs.close()


async def test_a_permission_change_by_another_process_is_seen_at_the_next_snapshot(
    store: StateStore, tmp_path: Path
) -> None:
    permissions = PermissionsService(store)
    first = await permissions.snapshot()
    other = StateStore(str(store.url).replace("+aiosqlite", ""))
    await other.start()
    try:
        await PermissionsService(other).put_role(RoleSpec("support", read_all=True))
    finally:
        await other.close()
    changed = await permissions.snapshot()
    assert changed.version > first.version and changed.role("support") is not None


def test_an_inline_connection_to_a_missing_directory_fails_loudly(tmp_path: Path) -> None:
    inline = InlineSqlite(sa.make_url(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"))
    with pytest.raises(sa.exc.OperationalError):
        inline.read(lambda c: c.scalar(sa.text("SELECT 1")))
    assert not os.path.exists(tmp_path / "nowhere")
