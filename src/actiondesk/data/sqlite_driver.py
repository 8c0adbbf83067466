"""aiosqlite for SQLAlchemy with one hand-off to the connection's thread per statement.

aiosqlite runs every call on its connection's own thread. SQLAlchemy's adapter makes four
calls for one statement (open a cursor, execute, fetch the rows, close the cursor), each a
hand-off to that thread and back (a queue, a wake-up, the GIL, a callback on the loop): on a
short statement they cost more than SQLite's own work. Here one call does all four on the
thread and brings back what SQLAlchemy reads of the cursor (its description, row count, last
row id and rows). Server-side cursors (``stream_results``) keep the adapter's own path.

It also queues this process's write transactions on one file in arrival order
(``WriteGate``). SQLite has one writer at a time; a connection that finds the write lock
taken sleeps in SQLite's busy handler in growing steps (1, 2, 5, 10 ... 100 ms), so with
eight concurrent requests some waited a second behind writes of a tenth of a millisecond.
Queued here, each starts as the previous one commits. Other processes still meet SQLite's
busy timeout, and so does a transaction that waits in the queue longer than that timeout.

Used for every aiosqlite engine actiondesk makes (``DRIVER_MODULE`` as ``module=``): same
dialect, same URL, same behaviour, fewer hand-offs.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import Callable
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import URL
from sqlalchemy.util import EMPTY_DICT

Executed = tuple[Any, int, int | None, list[Any] | None, bool]
# Statements that take the write lock (a WITH ... UPDATE is left to SQLite's busy handler).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER",
           "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")
DEFAULT_TIMEOUT_S = 5.0  # the sqlite3 module's own default busy timeout


class WriteGate:
    """This process's write transactions on one SQLite file, one at a time, in order."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.holder: object | None = None

    async def enter(self, holder: object, patience_s: float) -> None:
        if self.holder is holder:
            return
        if self._lock.locked():
            try:
                await asyncio.wait_for(self._lock.acquire(), patience_s)
            except TimeoutError:
                return  # SQLite's busy timeout decides from here
        else:
            await self._lock.acquire()
        self.holder = holder

    def leave(self, holder: object) -> None:
        if self.holder is holder:
            self.holder = None
            self._lock.release()


# Per event loop (an asyncio lock belongs to one), per file.
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriteGate]] = (
    weakref.WeakKeyDictionary())
# Each connection's file and busy timeout, kept beside it (the adapter has no room for them).
_files: weakref.WeakKeyDictionary[aiosqlite.Connection, tuple[str, float]] = (
    weakref.WeakKeyDictionary())


def _gate_of(connection: aiosqlite.Connection) -> tuple[WriteGate, float] | None:
    known = _files.get(connection)
    if known is None:
        return None
    path, timeout = known
    per_file = _gates.setdefault(asyncio.get_running_loop(), {})
    gate = per_file.get(path)
    if gate is None:
        gate = per_file[path] = WriteGate()
    return gate, timeout


def _writes(operation: Any) -> bool:
    return isinstance(operation, str) and operation.lstrip()[:16].upper().startswith(_WRITES)


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
        def execute(cursor: sqlite3.Cursor) -> list[Any] | None:
            cursor.execute(operation, () if parameters is None else parameters)
            return cursor.fetchall() if cursor.description else None

        await self._run(operation, execute)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        def execute_many(cursor: sqlite3.Cursor) -> None:
            cursor.executemany(operation, seq_of_parameters)

        await self._run(operation, execute_many)

    async def _run(self, operation: Any,
                   execute: Callable[[sqlite3.Cursor], list[Any] | None]) -> None:
        """``execute`` on a cursor of the connection's thread, in one call there."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]

        def run() -> Executed:
            raw = connection._conn
            cursor = raw.cursor()
            try:
                rows = execute(cursor)
                return (cursor.description, cursor.rowcount, cursor.lastrowid, rows,
                        raw.in_transaction)
            finally:
                cursor.close()

        await self._queue_for_writes(operation)
        async with self._adapt_connection._execute_mutex:
            executed: Executed = await connection._execute(run)  # type: ignore[no-untyped-call]
        self._keep(executed)

    async def _queue_for_writes(self, operation: Any) -> None:
        if _writes(operation):
            found = _gate_of(self._connection)  # type: ignore[arg-type]
            if found is not None:
                gate, timeout = found
                await gate.enter(self._adapt_connection, timeout)

    def _keep(self, executed: Executed) -> None:
        description, rowcount, lastrowid, rows, in_transaction = executed
        done: _Done = self._cursor  # type: ignore[assignment]
        done.description, done.rowcount, done.lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows or ())
        if not in_transaction:  # a statement that committed by itself
            _leave(self._adapt_connection)

    async def _async_soft_close(self) -> None:
        return None  # nothing stays open on the connection's thread

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


def _leaving(name: str) -> Callable[[AsyncAdapt_aiosqlite_connection], None]:
    """The adapter's ``name`` (commit, rollback, close, terminate), then out of the queue."""
    ends = getattr(AsyncAdapt_aiosqlite_connection, name)

    def method(self: AsyncAdapt_aiosqlite_connection) -> None:
        try:
            ends(self)
        finally:
            _leave(self)

    method.__name__ = name
    return method


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]
    commit = _leaving("commit")
    rollback = _leaving("rollback")
    close = _leaving("close")
    terminate = _leaving("terminate")


def _leave(adapted: AsyncAdapt_dbapi_connection) -> None:
    known = _files.get(adapted._connection)  # type: ignore[call-overload]
    if known is None:
        return
    try:
        per_file = _gates.get(asyncio.get_running_loop())
    except RuntimeError:  # closed outside any loop: no queue to leave there
        return
    gate = per_file.get(known[0]) if per_file else None
    if gate is not None:
        gate.leave(adapted)


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        connection.__class__ = OneHopConnection  # the same layout: only the cursor differs
        if arg and isinstance(arg[0], str):
            timeout = kw.get("timeout", DEFAULT_TIMEOUT_S)
            _files[connection._connection] = (  # type: ignore[index]
                arg[0], float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT_S)
        return connection


DRIVER_MODULE = OneHopDbapi(aiosqlite, sqlite3)


def engine_options(url: URL) -> dict[str, Any]:
    """The ``create_async_engine`` options that put this driver under an aiosqlite URL."""
    aiosqlite_url = url.get_backend_name() == "sqlite" and url.get_driver_name() == "aiosqlite"
    return {"module": DRIVER_MODULE} if aiosqlite_url else {}

