"""Nonces remembered in a SQL database, so every process of a remote service refuses a replay.

``NonceCache`` (the default of ``RemoteActions``) lives in one process's memory: a message
replayed within the validity window to *another* worker process of the same service would be
accepted there. ``SqlNonceStore(url)`` keeps them in a table every process shares (created on
first use, ``actiondesk_remote_nonces`` by default): a nonce is its primary key, so of two
processes receiving the same message at once exactly one inserts it. Expired nonces are
deleted now and then, and an expired one still in the table may be used again.

``add`` (sync: WSGI, threads) and ``add_async`` (ASGI) use a sync and an async engine on the
same database: SQLite files, PostgreSQL, MySQL/MariaDB, with the drivers of
``actiondesk.data.urls``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from actiondesk.data.urls import to_async_url, to_sync_url

DEFAULT_TABLE = "actiondesk_remote_nonces"
PRUNE_EVERY = 60.0


class NonceStore(Protocol):
    """What ``RemoteActions(nonces=...)`` and ``verify(nonces=...)`` take."""

    def add(self, nonce: str, expires_at: float) -> bool:
        """Remember ``nonce`` until ``expires_at`` (Unix seconds); False if it was already
        there (a replay)."""


@runtime_checkable
class AsyncNonceStore(Protocol):
    """A store that ``RemoteActions`` awaits under ASGI instead of calling ``add``."""

    def add(self, nonce: str, expires_at: float) -> bool: ...

    async def add_async(self, nonce: str, expires_at: float) -> bool: ...


class SqlNonceStore:
    """Nonces in a table of a SQL database shared by every process of the service.

    ``url`` is a SQLAlchemy URL (``sqlite:///nonces.db``, ``postgresql://...``,
    ``mysql://...``); ``table`` the table's name. ``close()`` / ``aclose()`` release the
    connections.
    """

    def __init__(self, url: str, *, table: str = DEFAULT_TABLE) -> None:
        self.url = url
        self.table = sa.Table(
            table, sa.MetaData(),
            sa.Column("nonce", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.BigInteger(), nullable=False, index=True),
            mysql_charset="utf8mb4",
        )
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._created = False
        self._next_prune = 0.0

    # -- sync ----------------------------------------------------------------------------------

    def add(self, nonce: str, expires_at: float) -> bool:
        with self._lock:
            if self._engine is None:
                self._engine = sa.create_engine(to_sync_url(self.url))
            engine = self._engine
        if not self._created:
            try:
                with engine.begin() as conn:
                    self._create(conn)
            except DBAPIError:
                with engine.connect() as conn:
                    if not self._exists(conn):
                        raise
            self._created = True
        now, until = int(time.time()), math.ceil(expires_at)
        if self._prune_due():
            with engine.begin() as conn:
                conn.execute(self._prune(now))
        try:
            with engine.begin() as conn:
                conn.execute(self.table.insert().values(nonce=nonce, expires_at=until))
            return True
        except IntegrityError:
            with engine.begin() as conn:
                return conn.execute(self._reuse(nonce, until, now)).rowcount == 1

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- async ---------------------------------------------------------------------------------

    async def add_async(self, nonce: str, expires_at: float) -> bool:
        engine = self._engine_for_this_loop()
        if not self._created:
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(self._create)
            except DBAPIError:
                async with engine.connect() as conn:
                    if not await conn.run_sync(self._exists):
                        raise
            self._created = True
        now, until = int(time.time()), math.ceil(expires_at)
        if self._prune_due():
            async with engine.begin() as conn:
                await conn.execute(self._prune(now))
        try:
            async with engine.begin() as conn:
                await conn.execute(self.table.insert().values(nonce=nonce, expires_at=until))
            return True
        except IntegrityError:
            async with engine.begin() as conn:
                return (await conn.execute(self._reuse(nonce, until, now))).rowcount == 1

    async def aclose(self) -> None:
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None

    def _engine_for_this_loop(self) -> AsyncEngine:
        # An async engine's connections belong to the event loop that opened them.
        loop = asyncio.get_running_loop()
        if self._async_engine is None or self._async_loop is not loop:
            self._async_engine = create_async_engine(to_async_url(self.url))
            self._async_loop = loop
        return self._async_engine

    # -- statements ----------------------------------------------------------------------------

    def _create(self, conn: Connection) -> None:
        self.table.create(conn, checkfirst=True)

    def _exists(self, conn: Connection) -> bool:
        """After a failed CREATE: whether another process created the table meanwhile."""
        return sa.inspect(conn).has_table(self.table.name)

    def _prune_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_prune:
            return False
        self._next_prune = now + PRUNE_EVERY
        return True

    def _prune(self, now: int) -> sa.Delete:
        return self.table.delete().where(self.table.c.expires_at <= now)

    def _reuse(self, nonce: str, until: int, now: int) -> sa.Update:
        """Take over an expired nonce not yet pruned; a live one stays (a replay)."""
        t = self.table.c
        return (self.table.update().where(t.nonce == nonce, t.expires_at <= now)
                .values(expires_at=until))


async def remember(nonces: NonceStore, nonce: str, expires_at: float) -> bool:
    """``nonces.add``, awaited without blocking the event loop when the store can."""
    if isinstance(nonces, AsyncNonceStore):
        return await nonces.add_async(nonce, expires_at)
    return nonces.add(nonce, expires_at)


__all__ = ["AsyncNonceStore", "NonceStore", "SqlNonceStore", "remember"]
