"""The state database (migrations) and the runs audit, on every backend."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from actiondesk.data.state import (
    VERSION_TABLE,
    StateStore,
    head_revision,
    runs_table,
    state_metadata,
)
from actiondesk.errors import BadRequestError, ConfigurationError, NotFoundError
from actiondesk.runs.records import RunRecord
from actiondesk.runs.store import IdempotencyConflict, RunsService

ALICE = {"id": "u-1", "email": "alice@example.com", "firstName": "Alice", "role": "ops"}
BOB = {"id": "u-2", "email": "bob@example.com", "firstName": "Bob", "role": "admin"}
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def runs(store: StateStore) -> RunsService:
    return RunsService(store)


async def begin(runs: RunsService, slug: str = "mark-live", **options: Any) -> str | RunRecord:
    arguments: dict[str, Any] = {
        "action_slug": slug,
        "action_name": slug.replace("-", " ").capitalize(),
        "collection": "companies",
        "scope": "bulk",
        "caller": ALICE,
        "selection": {"ids": ["1", "2"]},
        "values": {"reason": "audit"},
        "record_count": 2,
    }
    arguments.update(options)
    return await runs.begin(**arguments)


async def new_run(runs: RunsService, slug: str = "mark-live", **options: Any) -> str:
    run_id = await begin(runs, slug, **options)
    assert isinstance(run_id, str)
    return run_id


async def succeed(runs: RunsService, run_id: str, message: str = "done") -> None:
    await runs.finish(
        run_id, status="succeeded", status_code=200, result_kind="success", message=message,
        result={"success": message},
    )


async def set_started(store: StateStore, run_id: str, started: dt.datetime) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.update(runs_table).where(runs_table.c.id == run_id).values(started_at=started)
        )


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE, "compare_type": False}
    )
    return compare_metadata(context, state_metadata)


async def test_start_migrates_to_head_and_again_is_a_no_op(state_url: str) -> None:
    first = StateStore(state_url)
    assert await first.revision() is None
    await first.start()
    await first.start()
    try:
        async with first.engine.connect() as conn:
            tables = await conn.run_sync(_tables)
            # The migration and the table definitions the code uses describe the same schema.
            assert await conn.run_sync(_schema_diff) == []
        assert {"actiondesk_runs", "actiondesk_meta", VERSION_TABLE} <= tables
        assert await first.revision() == head_revision() == "run_partitions"
        run_id = await new_run(RunsService(first))
    finally:
        await first.close()

    again = StateStore(state_url)
    try:
        await again.start()
        assert await again.revision() == "run_partitions"
        assert (await RunsService(again).get(run_id)).action_slug == "mark-live"
    finally:
        await again.close()


async def test_concurrent_starts_on_a_new_database_both_succeed(state_url: str) -> None:
    stores = [StateStore(state_url) for _ in range(3)]
    try:
        await asyncio.gather(*(s.start() for s in stores))
        assert [await s.revision() for s in stores] == ["run_partitions"] * 3
    finally:
        for s in stores:
            await s.close()


async def test_unreachable_state_database_is_a_configuration_error() -> None:
    store = StateStore("postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError) as caught:
        await store.start()
    assert "state database" in str(caught.value) and "secret" not in str(caught.value)


async def test_begin_finish_and_get(runs: RunsService) -> None:
    before = dt.datetime.now(dt.UTC)
    run_id = await new_run(
        runs, values={"amount": Decimal("12.50"), "day": dt.date(2026, 1, 31), "note": "é✓"}
    )
    running = await runs.get(run_id)
    assert running.status == "running" and not running.finished
    assert running.finished_at is None and running.duration_ms is None
    assert running.caller == ALICE and running.selection == {"ids": ["1", "2"]}
    assert running.values == {"amount": "12.50", "day": "2026-01-31", "note": "é✓"}
    assert running.started_at.tzinfo is not None
    assert before - dt.timedelta(seconds=1) <= running.started_at <= dt.datetime.now(dt.UTC)

    await succeed(runs, run_id, "2 companies are live")
    done = await runs.get(run_id)
    assert done.status == "succeeded" and done.status_code == 200
    assert done.result_kind == "success" and done.result == {"success": "2 companies are live"}
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert done.finished_at.utcoffset() == dt.timedelta(0)
    assert done.duration_ms is not None and done.duration_ms >= 0
    assert not done.has_file and await runs.get_file(run_id) is None

    body = done.to_json()
    assert body["started_at"] == done.started_at.isoformat() and "result_file" not in body
    assert body["has_file"] is False and body["collection"] == "companies"
    assert body["record_count"] == 2


async def test_finish_rules(runs: RunsService) -> None:
    run_id = await new_run(runs)
    await succeed(runs, run_id)
    with pytest.raises(ValueError, match="already finished"):
        await succeed(runs, run_id)
    with pytest.raises(NotFoundError):
        await succeed(runs, "0" * 32)
    with pytest.raises(ValueError, match="finishes with"):
        await runs.finish(
            run_id, status="running", status_code=200, result_kind=None, message=None
        )


async def test_error_result_and_null_result(runs: RunsService) -> None:
    run_id = await new_run(runs)
    await runs.finish(
        run_id, status="error", status_code=400, result_kind="error", message="no stock",
        result={"error": "no stock"},
    )
    other = await new_run(runs)
    await runs.finish(other, status="succeeded", status_code=204, result_kind="none",
                      message=None)
    assert (await runs.get(run_id)).result == {"error": "no stock"}
    assert (await runs.get(other)).result is None


async def test_get_unknown_run(runs: RunsService) -> None:
    with pytest.raises(NotFoundError, match="no run"):
        await runs.get("nope")
    with pytest.raises(NotFoundError):
        await runs.get_file("nope")


async def test_file_is_stored_and_returned(runs: RunsService) -> None:
    # Larger than 64 KiB: a plain BLOB on MySQL/MariaDB would not hold it.
    content = bytes(range(256)) * 1024
    run_id = await new_run(runs, "export")
    await runs.finish(
        run_id, status="succeeded", status_code=200, result_kind="file", message=None,
        result_file=content, result_filename="rapport é.csv", result_mime="text/csv",
    )
    assert (await runs.get(run_id)).has_file
    assert await runs.get_file(run_id) == (content, "rapport é.csv", "text/csv")


async def test_refusal_is_recorded(runs: RunsService) -> None:
    run_id = await runs.record_refusal(
        action_slug="charge", action_name="Charge", collection="companies", scope="single",
        caller=BOB, selection={"ids": ["7"]}, status_code=403,
        message="this action is not allowed for role admin",
    )
    run = await runs.get(run_id)
    assert run.status == "refused" and run.status_code == 403
    assert run.started_at == run.finished_at and run.duration_ms == 0
    assert run.message == "this action is not allowed for role admin"
    assert run.caller == BOB and run.values == {}
    listed, count = await runs.list(status="refused")
    assert count == 1 and listed[0].id == run_id


async def test_list_filters_paging_and_order(store: StateStore, runs: RunsService) -> None:
    ids = []
    specs: list[tuple[str, str | None, dict[str, str], bool]] = [
        ("mark-live", "companies", ALICE, True),
        ("mark-live", "companies", BOB, True),
        ("refund", "transactions", ALICE, False),
        ("refund", "transactions", BOB, True),
        ("reindex", None, ALICE, True),
    ]
    for minutes, (slug, collection, caller, finish) in enumerate(specs):
        run_id = await new_run(runs, slug, collection=collection, caller=caller,
                               scope="global" if collection is None else "bulk")
        if finish:
            await succeed(runs, run_id)
        await set_started(store, run_id, T0 + dt.timedelta(minutes=minutes))
        ids.append(run_id)

    everything, count = await runs.list()
    assert count == 5 and [r.id for r in everything] == ids[::-1]
    assert everything[0].collection is None and everything[0].scope == "global"

    by_action, count = await runs.list(action="refund")
    assert count == 2 and {r.id for r in by_action} == {ids[2], ids[3]}
    by_collection, count = await runs.list(collection="companies")
    assert count == 2 and {r.id for r in by_collection} == {ids[0], ids[1]}
    by_id, count = await runs.list(caller="u-2")
    by_email, _ = await runs.list(caller="bob@example.com")
    assert count == 2 and by_id == by_email and {r.id for r in by_id} == {ids[1], ids[3]}
    assert (await runs.list(caller="BOB@example.com"))[1] == 0
    running, count = await runs.list(status="running")
    assert count == 1 and running[0].id == ids[2]
    combined, count = await runs.list(action="refund", caller="u-2", status="succeeded")
    assert count == 1 and combined[0].id == ids[3]

    window, count = await runs.list(
        since=T0 + dt.timedelta(minutes=1), until=T0 + dt.timedelta(minutes=3)
    )
    assert count == 2 and [r.id for r in window] == [ids[2], ids[1]]
    # A naive datetime is taken as UTC; another offset is converted.
    naive, _ = await runs.list(since=(T0 + dt.timedelta(minutes=4)).replace(tzinfo=None))
    paris = dt.timezone(dt.timedelta(hours=1))
    shifted, _ = await runs.list(since=(T0 + dt.timedelta(minutes=4)).astimezone(paris))
    assert [r.id for r in naive] == [r.id for r in shifted] == [ids[4]]

    page1, count = await runs.list(page=1, page_size=2)
    page2, _ = await runs.list(page=2, page_size=2)
    page3, _ = await runs.list(page=3, page_size=2)
    page4, count4 = await runs.list(page=4, page_size=2)
    assert count == count4 == 5 and page4 == []
    assert [r.id for r in page1 + page2 + page3] == ids[::-1]


async def test_list_rejects_bad_filters(runs: RunsService) -> None:
    with pytest.raises(BadRequestError) as caught:
        await runs.list(status="done")
    assert caught.value.fields is not None and "status" in caught.value.fields
    assert "succeeded" in caught.value.fields["status"]
    with pytest.raises(BadRequestError) as caught:
        await runs.list(page=0)
    assert caught.value.fields == {"page": "must be >= 1"}
    with pytest.raises(BadRequestError):
        await runs.list(page_size=0)
    assert await runs.list(page_size=10_000) == ([], 0)


async def test_idempotency_key_replays_the_finished_run(runs: RunsService) -> None:
    run_id = await new_run(runs, idempotency_key="req-1")
    with pytest.raises(IdempotencyConflict) as caught:
        await begin(runs, idempotency_key="req-1")
    assert caught.value.status == 409 and caught.value.detail == {"run_id": run_id}
    assert "still running" in caught.value.message

    await succeed(runs, run_id, "once")
    replay = await begin(runs, idempotency_key="req-1")
    assert isinstance(replay, RunRecord)
    assert replay.id == run_id and replay.result == {"success": "once"}

    # The key belongs to one caller, action and collection.
    assert isinstance(await begin(runs, idempotency_key="req-1", caller=BOB), str)
    assert isinstance(await begin(runs, "refund", idempotency_key="req-1"), str)
    assert isinstance(await begin(runs, idempotency_key="req-1", collection="orders"), str)
    assert isinstance(await begin(runs, idempotency_key="REQ-1"), str)
    # Without a key nothing collides.
    assert isinstance(await begin(runs), str) and isinstance(await begin(runs), str)


async def test_idempotency_key_of_a_global_action(runs: RunsService) -> None:
    run_id = await new_run(runs, "reindex", collection=None, scope="global",
                           idempotency_key="g-1")
    with pytest.raises(IdempotencyConflict):
        await begin(runs, "reindex", collection=None, scope="global", idempotency_key="g-1")
    await succeed(runs, run_id)
    replay = await begin(runs, "reindex", collection=None, scope="global",
                         idempotency_key="g-1")
    assert isinstance(replay, RunRecord) and replay.id == run_id and replay.collection is None


async def test_idempotency_key_length_is_checked(runs: RunsService) -> None:
    for key in ("", "k" * 201):
        with pytest.raises(BadRequestError) as caught:
            await begin(runs, idempotency_key=key)
        assert caught.value.fields is not None and "idempotency_key" in caught.value.fields
    assert isinstance(await begin(runs, idempotency_key="k" * 200), str)


async def test_concurrent_begins_with_one_key_make_one_run(runs: RunsService) -> None:
    async def attempt() -> str | RunRecord | IdempotencyConflict:
        try:
            return await begin(runs, idempotency_key="double-click")
        except IdempotencyConflict as exc:
            return exc

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))
    created = [o for o in outcomes if isinstance(o, str)]
    conflicts = [o for o in outcomes if isinstance(o, IdempotencyConflict)]
    assert len(created) == 1 and len(conflicts) == 19
    assert all(c.detail == {"run_id": created[0]} for c in conflicts)

    await succeed(runs, created[0])
    replays = await asyncio.gather(*(attempt() for _ in range(20)))
    assert all(isinstance(r, RunRecord) and r.id == created[0] for r in replays)
    assert (await runs.list())[1] == 1


async def test_awkward_text_never_breaks_the_audit(runs: RunsService) -> None:
    run_id = await new_run(runs, values={"nul": "a\x00b", "lone": "\ud800", "emoji": "😀"})
    await runs.finish(run_id, status="failed", status_code=500, result_kind="error",
                      message="bad\x00byte", result_filename="a\x00.txt", result_file=b"x",
                      result_mime="text/plain")
    run = await runs.get(run_id)
    assert run.values == {"nul": "a\x00b", "lone": "?", "emoji": "😀"}
    assert run.message == "badbyte" and run.result_filename == "a.txt"
    for name in ("action", "collection", "caller"):
        with pytest.raises(BadRequestError) as caught:
            await runs.list(**{name: "x\x00"})
        assert caught.value.fields is not None and name in caught.value.fields
    with pytest.raises(BadRequestError):
        await begin(runs, idempotency_key="k\x00")
    for bad_id in ("\x00", "x" * 33, "é" * 32):
        with pytest.raises(NotFoundError):
            await runs.get(bad_id)


async def test_an_abandoned_inline_run_is_swept_and_its_own_process_still_finishes_it(
    store: StateStore,
) -> None:
    """An inline run whose process stops renewing its lease is marked failed (outcome
    unknown) by another process's sweep; the real outcome, if its process writes it after
    all, replaces that. A run whose lease is renewed is left alone."""
    from actiondesk.runs.store import ABANDONED, ABANDONED_MESSAGE

    lease = dt.timedelta(seconds=1)
    dead, alive, sweeper = (RunsService(store, lease=lease) for _ in range(3))
    lost = await new_run(dead)
    await dead.close()  # it renews nothing any more, like a process that died
    kept = await new_run(alive)
    expired = (await dead.get(lost)).started_at + 2 * lease
    await asyncio.sleep((expired - dt.datetime.now(dt.UTC)).total_seconds())
    assert await sweeper.sweep_abandoned() == [lost]
    swept = await sweeper.get(lost)
    assert (swept.status, swept.result_kind, swept.message) == (
        "failed", ABANDONED, ABANDONED_MESSAGE)
    assert swept.finished_at is not None
    assert (await alive.get(kept)).status == "running"  # its lease was renewed meanwhile
    assert await sweeper.sweep_abandoned() == []
    with pytest.raises(ValueError, match="already finished"):
        await succeed(sweeper, lost)  # the abandoned mark gives way only to the run's owner
    await succeed(dead, lost, "late but real")
    finished = await sweeper.get(lost)
    assert (finished.status, finished.message) == ("succeeded", "late but real")
    await succeed(alive, kept)
    await alive.close()
