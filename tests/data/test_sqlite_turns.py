"""The writers of one SQLite file take turns in the order they asked; a task holding the
turn passes through again; other files and server databases have no queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url

from actiondesk.data.sqlite_turns import write_turn


async def test_writers_of_a_file_take_turns_in_order(tmp_path: Path) -> None:
    turn = write_turn(make_url(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    assert turn is not None
    order: list[str] = []

    async def writer(name: str, hold: float) -> None:
        async with turn.held():
            order.append(name)
            await asyncio.sleep(hold)

    first = asyncio.create_task(writer("long", 0.05))
    await asyncio.sleep(0)
    # The long writer asks again at once each time, but the others asked before.
    others = [asyncio.create_task(writer(n, 0)) for n in ("small-1", "small-2")]
    await asyncio.sleep(0)
    again = asyncio.create_task(writer("long-again", 0))
    await asyncio.gather(first, *others, again)
    assert order == ["long", "small-1", "small-2", "long-again"]
    assert not turn.busy


async def test_a_task_holding_the_turn_passes_through(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path / 'b.db'}")
    turn = write_turn(url)
    assert turn is not None and write_turn(url.set(drivername="sqlite+aiosqlite")) is turn
    async with turn.held():
        async with asyncio.timeout(1), turn.held():
            assert turn.busy
        assert turn.busy
    assert not turn.busy


async def test_other_files_and_servers_have_their_own_or_none(tmp_path: Path) -> None:
    one = write_turn(make_url(f"sqlite:///{tmp_path / 'c.db'}"))
    other = write_turn(make_url(f"sqlite:///{tmp_path / 'd.db'}"))
    assert one is not None and other is not None and one is not other
    assert write_turn(make_url("sqlite://")) is None
    assert write_turn(make_url("postgresql+asyncpg://u@h/db")) is None
