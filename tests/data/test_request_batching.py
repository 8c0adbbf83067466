"""Shared round trips: every caller still sees fresh data, and only its own errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.request_batching import FreshRead, GroupCommit
from actiondesk.data.state import StateStore, meta_table


async def test_callers_arriving_during_a_read_get_a_read_that_began_after_them() -> None:
    started: list[int] = []
    reading = asyncio.Event()
    release = asyncio.Event()
    value = 0

    async def read() -> int:
        seen = value  # what a read sees is fixed when it starts
        started.append(seen)
        reading.set()
        await release.wait()
        return seen

    fresh = FreshRead(read)
    first = asyncio.create_task(fresh())
    await reading.wait()
    value = 1  # a change committed while the first read is in flight
    late = [asyncio.create_task(fresh()) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 0
    assert [await t for t in late] == [1] * 5
    assert started == [0, 1]  # six callers, two reads


async def test_a_failed_read_fails_its_callers_and_the_next_read_works() -> None:
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("connection refused")
        return calls

    fresh = FreshRead(read)
    with pytest.raises(OSError, match="connection refused"):
        await fresh()
    assert await fresh() == 2


async def test_a_caller_giving_up_does_not_cancel_the_read_of_the_others() -> None:
    release = asyncio.Event()

    async def read() -> str:
        await release.wait()
        return "ok"

    fresh = FreshRead(read)
    impatient = asyncio.create_task(fresh())
    patient = asyncio.create_task(fresh())
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert await patient == "ok"
    with pytest.raises(asyncio.CancelledError):
        await impatient


def _put(key: str, value: str) -> Callable[[AsyncConnection], Awaitable[str]]:
    async def write(conn: AsyncConnection) -> str:
        await conn.execute(sa.insert(meta_table).values(key=key, value=value))
        return key

    return write


async def _keys(store: StateStore) -> set[str]:
    async with store.read() as conn:
        return set((await conn.scalars(sa.select(meta_table.c.key))).all())


async def test_concurrent_writes_commit_together_and_each_error_stays_with_its_caller(
    store: StateStore,
) -> None:
    group = GroupCommit(store.write)
    before = await _keys(store)
    writes = [_put(f"k{i}", "v") for i in range(10)]
    writes.append(_put("k3", "duplicate"))  # violates the primary key: only this one fails
    results = await asyncio.gather(*(group.run(w) for w in writes),
                                   return_exceptions=True)
    assert results[:10] == [f"k{i}" for i in range(10)]
    assert isinstance(results[10], IntegrityError)
    assert await _keys(store) - before == {f"k{i}" for i in range(10)}
    async with store.read() as conn:
        assert await conn.scalar(
            sa.select(meta_table.c.value).where(meta_table.c.key == "k3")
        ) == "v"


async def test_a_write_is_committed_when_its_caller_is_answered(store: StateStore) -> None:
    group = GroupCommit(store.write)
    assert await group.run(_put("alone", "1")) == "alone"
    assert "alone" in await _keys(store)
