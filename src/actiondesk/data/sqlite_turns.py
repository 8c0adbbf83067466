"""Writers to one SQLite file take turns, first come first served, within a process.

SQLite has one write lock per file, and a connection waiting for it does not queue: its busy
handler sleeps and tries again (sleeps growing to 100 ms), so whoever asks just as the lock is
released gets it. A writer that holds the lock for a long time and asks again at once — a
run's batch transaction, open while the handler works on the batch — keeps winning, and a
short writer arriving meanwhile (a small run's first batch, its run row) waits out its busy
timeout: "database is locked". Taking a ``WriteTurn`` first makes the writers of a process
queue in order (an ``asyncio.Lock`` wakes its waiters in order), so each one waits for the
writers ahead of it, not for luck. Writers of other processes still meet at the file's lock.

A turn is the task's: a task holding it passes through again (a batch's checkpoint written
after its commit, on the same file), so a turn never waits for itself.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL

from actiondesk.data.urls import is_file_url


class WriteTurn:
    """The in-process queue of the writers of one SQLite file, on one event loop."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def acquire(self) -> None:
        """Wait for this task's turn (at once when it holds it already)."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner = task
        self._depth = 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriteTurn]] = (
    weakref.WeakKeyDictionary())


def write_turn(url: URL) -> WriteTurn | None:
    """The queue of the writers of the SQLite file ``url`` names, shared by every engine of
    this process on it (the data and the state engine when they are one file); None for a
    server database or an in-memory one."""
    if not is_file_url(url):
        return None
    path = os.path.realpath(url.database or "")
    loop = asyncio.get_running_loop()
    turns = _turns.setdefault(loop, {})
    turn = turns.get(path)
    if turn is None:
        turn = turns[path] = WriteTurn()
    return turn
