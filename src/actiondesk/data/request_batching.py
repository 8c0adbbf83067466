"""Share database round trips between concurrent requests without weakening what each sees.

``FreshRead`` runs a read for every caller that asks while it is idle, and makes callers who
arrive while a read is in flight wait for the *next* read, which starts after they arrived:
each caller gets a value at least as new as the moment it asked (a change committed before a
request arrives is always seen), while N concurrent callers cost about two reads, not N.

``GroupCommit`` runs the writes of concurrent callers in one transaction (one BEGIN/COMMIT,
one connection) and answers each caller only once that transaction has committed. When the
shared transaction fails, each write is retried alone, so one caller's error (a unique
violation, say) is that caller's only. A write of a single statement that finds nobody to
share with runs on its own connection in autocommit: one round trip instead of three.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
Write = Callable[[AsyncConnection], Awaitable[Any]]


class _Batcher:
    """The leader loop both classes share: one task serves everything queued before it runs."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self._task = loop.create_task(self._drain())

    async def _drain(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class FreshRead(_Batcher, Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        super().__init__()
        self._read = read
        self._next: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        if self._next is None or self._next.get_loop() is not loop:
            self._next = loop.create_future()
        waiting = self._next
        self._ensure_running()
        # shield: one caller giving up must not cancel the read the others wait for.
        return await asyncio.shield(waiting)

    async def _drain(self) -> None:
        while (waiting := self._next) is not None:
            self._next = None
            try:
                value = await self._read()
            except Exception as exc:
                if not waiting.done():
                    waiting.set_exception(exc)
            else:
                if not waiting.done():
                    waiting.set_result(value)


class GroupCommit(_Batcher):
    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        autocommit: Callable[[], AbstractAsyncContextManager[AsyncConnection]] | None = None,
    ) -> None:
        super().__init__()
        self._transaction = transaction
        self._autocommit = autocommit or transaction
        self._queue: list[tuple[Write, bool, asyncio.Future[Any]]] = []

    async def run(self, write: Write, *, one_statement: bool = False) -> Any:
        """Run ``write(conn)`` in a transaction; return its value once committed.
        ``one_statement``: it executes a single statement, which needs no transaction alone."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((write, one_statement, done))
        self._ensure_running()
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            if len(batch) == 1 or not await self._together(batch):
                for write, one_statement, done in batch:
                    await self._alone(write, one_statement, done)

    async def _together(self, batch: list[tuple[Write, bool, asyncio.Future[Any]]]) -> bool:
        try:
            values = []
            async with self._transaction() as conn:
                for write, _, _ in batch:
                    values.append(await write(conn))
        except Exception:
            return False
        for (_, _, done), value in zip(batch, values, strict=True):
            if not done.done():
                done.set_result(value)
        return True

    async def _alone(self, write: Write, one_statement: bool, done: asyncio.Future[Any]) -> None:
        try:
            async with (self._autocommit if one_statement else self._transaction)() as conn:
                value = await write(conn)
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(value)
