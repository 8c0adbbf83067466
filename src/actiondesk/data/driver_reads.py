"""A SELECT compiled once and sent straight to aiosqlite: one hand-off per batch.

aiosqlite runs every call on its connection's own thread. Through SQLAlchemy's adapter a
SELECT is four hand-offs (a cursor, execute, fetchall, closing the cursor), its rows copied
into a deque and out again, and its IN lists expanded again at every execution. The keyset
page of a batched read is one statement whose only changing values are the position: here it
is compiled once, its fixed parameters processed once, and each page is one
``execute_fetchall``, its rows the driver's tuples, converted when read (``Rows``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.rows import Rows, Shape


class DriverRead:
    """One SELECT for aiosqlite: its SQL, its positional parameters but the ``changing``
    ones, and the shape of its rows."""

    __slots__ = ("changing", "shape", "sql", "values")

    def __init__(self, sql: str, values: list[Any],
                 changing: Sequence[tuple[int, str, Callable[[Any], Any] | None]],
                 shape: Shape) -> None:
        self.sql = sql
        self.values = values
        self.changing = tuple(changing)
        self.shape = shape

    @classmethod
    def compile(cls, statement: sa.Select[Any], conn: AsyncConnection,
                changing: Sequence[str]) -> DriverRead | None:
        """``statement`` compiled for ``conn``, whose bound parameters ``changing`` are given
        at each ``fetch``; None when ``conn`` is not aiosqlite's or the statement needs what
        only SQLAlchemy's execution does (then execute it as usual)."""
        dialect: Dialect = conn.dialect
        sync = conn.sync_connection
        if (dialect.driver != "aiosqlite" or sync is None
                or sync.get_execution_options().get("schema_translate_map")):
            return None
        compiled = statement.compile(dialect=dialect)
        processors: dict[str, Any] | None = getattr(compiled, "_bind_processors", None)
        columns = getattr(compiled, "_result_columns", None)
        if processors is None or columns is None or not compiled.positional:
            return None
        state = compiled.construct_expanded_state({name: None for name in changing})
        processors = {**processors, **state.processors}
        if state.positiontup is None:
            return None
        values: list[Any] = []
        moving: list[tuple[int, str, Callable[[Any], Any] | None]] = []
        for position, name in enumerate(state.positiontup):
            process = processors.get(name)
            if name in changing:
                moving.append((position, name, process))
                values.append(None)
            else:
                value = state.parameters[name]
                values.append(process(value) if process is not None else value)
        shape = Shape([c[0] for c in columns],
                      [c[3]._cached_result_processor(dialect, None) for c in columns])
        return cls(state.statement, values, moving, shape)

    async def fetch(self, conn: AsyncConnection, given: Mapping[str, Any]) -> Rows:
        """Every row of the statement with the ``changing`` values ``given``."""
        values = self.values
        if self.changing:
            values = list(values)
            for position, name, process in self.changing:
                value = given[name]
                values[position] = process(value) if process is not None else value
        raw = await conn.get_raw_connection()
        try:
            rows = await raw.driver_connection.execute_fetchall(  # type: ignore[union-attr]
                self.sql, values)
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, values, exc, sqlite3.Error) from exc
        return Rows(rows, self.shape)


async def execute_plain(conn: AsyncConnection, sql: str) -> None:
    """A statement without parameters nor rows (``BEGIN IMMEDIATE``): on aiosqlite one call
    to its thread, where SQLAlchemy's adapter makes three."""
    if conn.dialect.driver != "aiosqlite":
        await conn.exec_driver_sql(sql)
        return
    raw = await conn.get_raw_connection()
    try:
        await raw.driver_connection.execute(sql)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, (), exc, sqlite3.Error) from exc
