"""Short SQLite statements run on the event loop's own thread, never waiting for a lock.

aiosqlite runs every call on its connection's own thread: a cursor, an execute, a fetch, a
commit are each a hand-off to that thread and back (a queue, a wake-up, the GIL, a callback
on the loop). A short statement on a file in WAL mode costs a fraction of those hand-offs,
so the busiest statements (the audit's run rows, the permission stamp, the count of a
selection of listed ids) run here instead, through a sync SQLAlchemy connection (the same
compiled statements and type processing as everywhere else).

Nothing here ever waits: the connection's busy timeout is 0, so a statement that would wait
for another connection's lock raises ``Busy`` at once, and the caller takes its usual async
path, which waits. In WAL mode a reader never waits, and a writer only for another writer.
Checkpoints, which sync files, are not run on the loop: the inline connection never
checkpoints by itself, and every ``CHECKPOINT_EVERY`` commits a passive checkpoint runs on a
worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import SingletonThreadPool

log = logging.getLogger("actiondesk.data")

T = TypeVar("T")
CHECKPOINT_EVERY = 500


class Busy(Exception):
    """Another connection holds the lock this statement needs: take the async path."""


class InlineSqlite:
    """Sync connections to a SQLite file, one per thread that uses it (the event loop's)."""

    def __init__(self, url: URL, *, synchronous: str | None = None,
                 json_serializer: Callable[[Any], str] | None = None) -> None:
        self.url = url.set(drivername="sqlite+pysqlite")
        self.synchronous = synchronous
        self.json_serializer = json_serializer
        self._engine: sa.Engine | None = None
        # One connection per thread: a desk serves on one loop, but a test or a script may
        # use it from another thread's loop too.
        self._local = threading.local()
        self._opened: list[sa.Connection] = []
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None

    def _connection(self) -> sa.Connection:
        conn: sa.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._engine is None:
            engine = sa.create_engine(
                self.url, poolclass=SingletonThreadPool, pool_size=20,
                connect_args={"timeout": 0, "check_same_thread": False},
                **({"json_serializer": self.json_serializer} if self.json_serializer else {}),
            )
            synchronous = self.synchronous

            @event.listens_for(engine, "connect")
            def _configure(dbapi_connection: Any, record: Any) -> None:
                # Transactions are begun here, explicitly (see ``write``).
                dbapi_connection.isolation_level = None
                dbapi_connection.execute("PRAGMA wal_autocheckpoint = 0")
                if synchronous is not None:
                    dbapi_connection.execute(f"PRAGMA synchronous = {synchronous}")

            self._engine = engine
        conn = self._local.conn = self._engine.connect()
        self._opened.append(conn)
        return conn

    def read(self, read: Callable[[sa.Connection], T]) -> T:
        """``read(conn)`` outside any transaction; Busy when it would wait."""
        conn = self._connection()
        try:
            return read(conn)
        except sa.exc.OperationalError as exc:
            conn.rollback()
            if _is_busy(exc):
                raise Busy from None
            raise
        finally:
            # Ends SQLAlchemy's transaction bookkeeping; no statement is sent outside one.
            conn.commit()

    def write(self, write: Callable[[sa.Connection], T], *, one_statement: bool = False) -> T:
        """``write(conn)`` in one transaction holding the write lock, committed; Busy when
        another connection holds that lock (nothing was written). ``one_statement``: it
        executes a single statement, which is a transaction by itself (no BEGIN/COMMIT)."""
        conn = self._connection()
        try:
            if not one_statement:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        except sa.exc.OperationalError as exc:
            conn.rollback()
            if _is_busy(exc):
                raise Busy from None
            raise
        try:
            value = write(conn)
            conn.commit()
        except sa.exc.OperationalError as exc:
            conn.rollback()
            if _is_busy(exc):  # a commit waiting for readers (not in WAL mode)
                raise Busy from None
            raise
        except BaseException:
            conn.rollback()
            raise
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpoint_later()
        return value

    def _checkpoint_later(self) -> None:
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._checkpoint = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._run_checkpoint), name="actiondesk-sqlite-checkpoint")

    def _run_checkpoint(self) -> None:
        path = self.url.database or ""
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the next one will do it
            log.warning("a checkpoint of %s failed: %s", path, exc)

    async def close(self) -> None:
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        for conn in self._opened:
            with contextlib.suppress(Exception):
                conn.close()
        self._opened.clear()
        self._local = threading.local()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def reset_sqlite_when_needed(engine: AsyncEngine) -> None:
    """Roll back a pooled aiosqlite connection as it goes back to the pool only when it is in
    a transaction: the rollback is a hand-off to its thread, for nothing most of the time
    (for an engine made with ``pool_reset_on_return=None``)."""

    @event.listens_for(engine.sync_engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        if state.terminate_only:
            return
        driver = record.driver_connection
        if driver is None or getattr(driver, "in_transaction", True):
            dbapi_connection.rollback()


def _is_busy(exc: sa.exc.OperationalError) -> bool:
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(orig) or "busy" in str(orig)
