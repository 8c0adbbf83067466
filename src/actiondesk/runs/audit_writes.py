"""How the runs audit writes (``RunsService``'s run rows and outcomes), by state database.

- SQLite: on the event loop's thread when no other connection holds the file's lock (see
  ``data.inline_sqlite``); when one does, shared with concurrent runs' writes (``GroupCommit``,
  waiting for the lock on aiosqlite's thread): the file has one writer at a time anyway.
- A server database (PostgreSQL, MariaDB): a write of one statement in autocommit on a pooled
  connection of its own, in parallel with the others' (the server shares their log flushes
  itself; funnelling them through one connection made each write wait for the round trips of
  the writes queued before it). Past ``PARALLEL_WRITES`` in flight (the pool would open and
  close connections of its own for more), and for a write of several statements, they share
  a transaction with the concurrent ones (``GroupCommit``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.asyncpg_direct import AsyncpgDirect
from actiondesk.data.driver_statements import sqlite_execute
from actiondesk.data.inline_sqlite import Busy
from actiondesk.data.request_batching import GroupCommit
from actiondesk.data.state import StateStore

Write = Callable[[AsyncConnection], Awaitable[Any]]
InlineWrite = Callable[[sa.Connection], Any]
DirectWrite = Callable[[AsyncpgDirect], Awaitable[Any]]
# Half the state pool's connections (``data.urls.pool_options``): the rest stay for reads.
PARALLEL_WRITES = 5


class AuditWrites:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._shared = GroupCommit(store.write, store.autocommit)
        self._in_flight = 0

    async def run(self, write: Write, inline: InlineWrite | None = None, *,
                  one_statement: bool = True, direct: DirectWrite | None = None) -> None:
        """Commit ``write(conn)`` (or its twin ``inline(conn)`` on a SQLite file's sync
        connection, or ``direct`` on PostgreSQL's own asyncpg pool, when given);
        ``one_statement``: it executes a single statement."""
        fast = self.store.inline_writes
        if fast is not None and inline is not None:
            try:
                fast.write(inline, one_statement=one_statement)
            except Busy:
                pass
            else:
                return
        pool = self.store.direct
        if pool is not None and direct is not None:
            await direct(pool)
            return
        if (one_statement and self.store.dialect != "sqlite"
                and self._in_flight < PARALLEL_WRITES):
            self._in_flight += 1
            try:
                async with self.store.autocommit() as conn:
                    await write(conn)
            finally:
                self._in_flight -= 1
            return
        await self._shared.run(write, one_statement=one_statement)


def inserting_inline(statement: sa.Insert, row: dict[str, Any]) -> InlineWrite:
    return lambda conn: sqlite_execute(conn, statement, row)


def check_one_finished(run_id: str, rowcount: int) -> None:
    if rowcount != 1:
        raise ValueError(f"run {run_id} is already finished")
