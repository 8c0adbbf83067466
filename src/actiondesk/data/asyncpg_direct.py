"""A few asyncpg connections of their own for the hottest single statements on PostgreSQL.

Every action request reads the permission stamp, checks that its record exists, and writes
its run row and its outcome: one short statement each. Through SQLAlchemy's pool each one
also paid a checkout and a return (three greenlet rounds, the isolation level set and reset):
about 0.1 ms of the server's CPU per statement, several times the statement's own. Here they
run on a small asyncpg pool (no reset query on release: nothing but single autocommit
statements runs on it), compiled once by SQLAlchemy (``driver_statements``) with its bind
processors and its JSON codecs, so the rows are exactly those its own path writes. Errors come
out as SQLAlchemy's (``IntegrityError``; ``OperationalError`` for a lost connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ClauseElement

from actiondesk.data.driver_statements import prepared

# Enough for the statements of many concurrent requests (each holds one for one round trip);
# few, as they count in the server's max_connections beside SQLAlchemy's pools.
MAX_CONNECTIONS = 5
# What SQLAlchemy's asyncpg adapter takes out of the connect arguments before asyncpg's.
_ADAPTER_ARGUMENTS = ("prepared_statement_cache_size", "prepared_statement_name_func",
                      "async_creator_fn")


class _Adapted:
    """What the dialect's codec set-up reads of a connection."""

    __slots__ = ("_connection",)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection


class AsyncpgDirect:
    """``first`` and ``execute`` of one statement in autocommit, on a pool of its own."""

    def __init__(self, url: URL, engine: AsyncEngine,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        """``engine``: SQLAlchemy's engine on the same database, whose dialect compiles the
        statements, and whose pool is renewed when this one finds the database lost (its
        idle connections are as dead as ours, and it would only find out on a request)."""
        self.engine = engine
        self.dialect = dialect = engine.dialect
        args, kwargs = dialect.create_connect_args(url)
        for name in _ADAPTER_ARGUMENTS:
            kwargs.pop(name, None)
        self._args, self._kwargs = args, kwargs
        self.max_connections = max_connections
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    async def first(self, statement: ClauseElement,
                    values: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        """The first row the statement reads (the driver's values), or None."""
        compiled = prepared(statement, self.dialect, _keys(values))
        parameters = compiled.parameters(values)
        conn = await self._acquire()
        try:
            row = await conn.fetchrow(compiled.sql, *parameters)
        except Exception as exc:
            raise await self._failed(compiled.sql, parameters, exc) from exc
        finally:
            await self._release(conn)
        return None if row is None else tuple(row)

    async def execute(self, statement: ClauseElement,
                      values: Mapping[str, Any] | None = None) -> int:
        """How many rows the statement changed."""
        compiled = prepared(statement, self.dialect, _keys(values))
        parameters = compiled.parameters(values)
        conn = await self._acquire()
        try:
            status: str = await conn.execute(compiled.sql, *parameters)
        except Exception as exc:
            raise await self._failed(compiled.sql, parameters, exc) from exc
        finally:
            await self._release(conn)
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else -1

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _acquire(self) -> asyncpg.Connection:
        """A connection; any failure to get one is a lost database (as SQLAlchemy reports an
        error while connecting), whatever PostgreSQL's reason (refused, shutting down, not
        accepting connections)."""
        try:
            pool = self._pool or await self._open()
            return await pool.acquire()
        except Exception as exc:
            await self._lost()
            raise sa.exc.OperationalError(None, (), exc) from exc

    async def _failed(self, sql: str, parameters: tuple[Any, ...],
                      exc: Exception) -> Exception:
        translated = _translated(sql, parameters, exc)
        if isinstance(translated, sa.exc.OperationalError):
            await self._lost()
        return translated

    async def _lost(self) -> None:
        # SQLAlchemy's pool would have been renewed by the first request to meet a dead
        # connection; these statements met it first.
        await self.engine.dispose()

    async def _release(self, conn: asyncpg.Connection) -> None:
        pool = self._pool
        if pool is not None:
            await pool.release(conn)

    async def _open(self) -> asyncpg.Pool:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    *self._args, min_size=1, max_size=self.max_connections, init=self._codecs,
                    reset=_no_reset, **self._kwargs)
            return self._pool

    async def _codecs(self, conn: asyncpg.Connection) -> None:
        # The JSON codecs SQLAlchemy's dialect gives its own connections.
        adapted = _Adapted(conn)
        await self.dialect.setup_asyncpg_json_codec(adapted)  # type: ignore[attr-defined]
        await self.dialect.setup_asyncpg_jsonb_codec(adapted)  # type: ignore[attr-defined]


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


def _keys(values: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    return tuple(sorted(values)) if values else None


def _translated(sql: str | None, parameters: tuple[Any, ...], exc: Exception) -> Exception:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return sa.exc.IntegrityError(sql, parameters, exc)
    if isinstance(exc, asyncpg.PostgresError) and not isinstance(
            exc, asyncpg.exceptions.PostgresConnectionError | asyncpg.CannotConnectNowError
            | asyncpg.AdminShutdownError | asyncpg.TooManyConnectionsError):
        return sa.exc.DatabaseError(sql, parameters, exc)
    # Refused, dropped or shut down: a lost database, as on SQLAlchemy's own path.
    return sa.exc.OperationalError(sql, parameters, exc, connection_invalidated=True)
