"""Core statements compiled once and sent through the driver's own connection.

For the few statements every action request makes (the audit's run rows, the permission
stamp, the existence check of a listed record), SQLAlchemy's per-execution work (cache key,
execution context, result object) costs several times the statement itself on SQLite and on
a local PostgreSQL. Here a statement is compiled once per dialect and set of parameter names,
with SQLAlchemy's own compiler and bind processors (so values are stored exactly as
SQLAlchemy stores them), and only the driver call remains per execution.

Statements with expanding ``IN`` lists, or that need Python-side column defaults, are not
for this module: they keep the ordinary SQLAlchemy path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


class DriverStatement:
    """One statement compiled for one dialect: its SQL and how to order and convert the
    parameters the driver takes (positional, as SQLite's and asyncpg's drivers want)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect,
                 keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect,
                                     column_keys=list(keys) if keys is not None else None)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("a statement rendered per execution (an expanding IN list) "
                             "cannot be compiled once")
        self.sql = compiled.string
        self._compiled = compiled
        # Tuple types (a processor per element) never occur in these statements.
        processors = cast(Mapping[str, Callable[[Any], Any]], compiled._bind_processors)
        self._binds: tuple[tuple[str, Callable[[Any], Any] | None], ...] = tuple(
            (name, processors.get(name)) for name in compiled.positiontup
        )

    def parameters(self, values: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        """The driver's parameters for ``values`` (bound names to values)."""
        params = self._compiled.construct_params(dict(values) if values else None)
        return tuple(params[name] if convert is None else convert(params[name])
                     for name, convert in self._binds)


@lru_cache(maxsize=512)
def prepared(statement: ClauseElement, dialect: Dialect,
             keys: tuple[str, ...] | None = None) -> DriverStatement:
    """``statement`` compiled once for ``dialect`` (and the parameter names ``keys``, which
    decide the columns of an INSERT or an UPDATE without values of its own)."""
    return DriverStatement(statement, dialect, keys)


def prepared_for(statement: ClauseElement, conn: sa.Connection,
                 values: Mapping[str, Any] | None) -> DriverStatement:
    keys = tuple(sorted(values)) if values else None
    return prepared(statement, conn.dialect, keys)


def sqlite_execute(conn: sa.Connection, statement: ClauseElement,
                   values: Mapping[str, Any] | None = None) -> sqlite3.Cursor:
    """Execute ``statement`` on the pysqlite connection under ``conn`` (no SQLAlchemy
    transaction bookkeeping: a statement alone commits by itself, with the connection's
    ``isolation_level = None``). Driver errors come out as SQLAlchemy's
    (``IntegrityError``, ``OperationalError``), as on the ordinary path."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)  # noqa: S101 - only for SQLite files
    compiled = prepared_for(statement, conn, values)
    parameters = compiled.parameters(values)
    try:
        return driver.execute(compiled.sql, parameters)
    except sqlite3.DatabaseError as exc:
        raise sa.exc.DBAPIError.instance(compiled.sql, parameters, exc,
                                         sqlite3.DatabaseError) from exc


def sqlite_scalar(conn: sa.Connection, statement: ClauseElement,
                  values: Mapping[str, Any] | None = None) -> Any:
    """The first column of the first row ``statement`` reads (None when no row)."""
    row = sqlite_execute(conn, statement, values).fetchone()
    return None if row is None else row[0]

