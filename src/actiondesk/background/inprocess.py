"""The embedded runner: background runs as asyncio tasks in the server process.

Each process looks for runs that wait for a runner — queued, or running with an expired
lease (the process that ran them died) — every ``poll_interval`` seconds, and at once when it
queued one itself, and executes up to ``concurrency`` of them. The claim in
``BackgroundRuns.execute`` decides between processes, so several servers on one state
database share the work and never run one run twice. On start-up it finds what was left
queued or interrupted; on shutdown it stops its runs after their current statement and hands
their leases back, so the next process resumes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from actiondesk.background.runner import RunHost

log = logging.getLogger("actiondesk.background")


class InProcessRunner:
    name = "inprocess"

    def __init__(self, background: RunHost) -> None:
        self.background = background
        self.concurrency = background.config.concurrency
        self.poll_interval = background.config.poll_interval
        self._tasks: dict[str, asyncio.Task[bool]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    async def enqueue(self, conn: AsyncConnection, run_id: str) -> None:
        # The queued row is the queue: nothing else to write.
        return

    async def enqueue_partition(self, conn: AsyncConnection, key: str, slot: str) -> None:
        # The partition rows are the queue; ``due`` keeps to max_parallel.
        return

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        if self._loop is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.create_task(self._run(), name="actiondesk-runner")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop = None
        self._tasks.clear()

    async def drain(self) -> None:
        """Wait until this process runs nothing (for the CLI and tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self) -> None:
        assert self._wake is not None  # noqa: S101 - set by start
        while True:
            try:
                await self._fill()
            except Exception:
                log.exception("the background runner could not look for runs; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def _fill(self) -> None:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return
        for run_id in await self.background.due(self.name, free, set(self._tasks)):
            task = asyncio.create_task(self._execute(run_id), name=f"actiondesk-run-{run_id}")
            self._tasks[run_id] = task

    async def _execute(self, run_id: str) -> bool:
        try:
            return await self.background.execute(run_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background run %s stopped with an error", run_id)
            return False
        finally:
            self._tasks.pop(run_id, None)
            self.wake()
