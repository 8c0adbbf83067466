"""aiosqlite for SQLAlchemy with one hand-off to the connection's thread per statement.

aiosqlite runs every call on its connection's own thread. SQLAlchemy's adapter makes four
calls for one statement (open a cursor, execute, fetch the rows, close the cursor), each a
hand-off to that thread and back (a queue, a wake-up, the GIL, a callback on the loop): on a
short statement they cost more than SQLite's own work. Here one call does all four on the
thread and brings back what SQLAlchemy reads of the cursor (its description, row count, last
row id and rows). Server-side cursors (``stream_results``) keep the adapter's own path.

Used for every aiosqlite engine actiondesk makes (``DRIVER_MODULE`` as ``module=``): same
dialect, same URL, same behaviour, fewer hand-offs.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import URL
from sqlalchemy.util import EMPTY_DICT

Executed = tuple[Any, int, int | None, list[Any] | None]


class _Done:
    """The cursor attributes SQLAlchemy reads, as the last execution left them."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Done()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]

        def run() -> Executed:
            cursor = connection._conn.cursor()
            try:
                cursor.execute(operation, () if parameters is None else parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else None
                return description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            executed: Executed = await connection._execute(run)  # type: ignore[no-untyped-call]
        self._keep(executed)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]

        def run() -> Executed:
            cursor = connection._conn.cursor()
            try:
                cursor.executemany(operation, seq_of_parameters)
                return cursor.description, cursor.rowcount, cursor.lastrowid, None
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            executed: Executed = await connection._execute(run)  # type: ignore[no-untyped-call]
        self._keep(executed)

    def _keep(self, executed: Executed) -> None:
        description, rowcount, lastrowid, rows = executed
        done: _Done = self._cursor  # type: ignore[assignment]
        done.description, done.rowcount, done.lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows or ())

    async def _async_soft_close(self) -> None:
        return None  # nothing stays open on the connection's thread

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        connection.__class__ = OneHopConnection  # the same layout: only the cursor differs
        return connection


DRIVER_MODULE = OneHopDbapi(aiosqlite, sqlite3)


def engine_options(url: URL) -> dict[str, Any]:
    """The ``create_async_engine`` options that put this driver under an aiosqlite URL."""
    aiosqlite_url = url.get_backend_name() == "sqlite" and url.get_driver_name() == "aiosqlite"
    return {"module": DRIVER_MODULE} if aiosqlite_url else {}

