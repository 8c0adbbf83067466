"""The state database (actiondesk's own tables, defined in ``data.state_schema``): the store
that migrates and connects to it.

Every table is prefixed ``actiondesk_`` so the state database may be the user's own database.
Schema changes ship as Alembic migrations in ``actiondesk/migrations``; ``StateStore.start``
runs them to the head revision.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from actiondesk.data.asyncpg_direct import AsyncpgDirect
from actiondesk.data.inline_sqlite import InlineSqlite, reset_sqlite_when_needed
from actiondesk.data.sqlite_driver import engine_options as sqlite_engine_options
from actiondesk.data.state_schema import meta_table, runs_table, state_metadata
from actiondesk.data.urls import (
    DEFAULT_MAX_CONNECTIONS,
    direct_connections,
    is_file_url,
    pool_options,
    redact,
    to_async_url,
)
from actiondesk.errors import ConfigurationError

VERSION_TABLE = "actiondesk_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed 64-bit number: the PostgreSQL advisory lock serialising migrations.
_PG_MIGRATION_LOCK = 0x61637469_6F6E6465
_MYSQL_MIGRATION_LOCK = "actiondesk_migrations"
# The execution option naming how SQLite's BEGIN takes its lock ("IMMEDIATE" for writes).
SQLITE_BEGIN = "actiondesk_sqlite_begin"
# A SQLite state file runs in WAL mode; ``synchronous`` chooses what a commit survives:
# NORMAL a crash of the process (the WAL is synced at checkpoints), FULL a power loss too.
SQLITE_SYNCHRONOUS = ("NORMAL", "FULL")
__all__ = ["SQLITE_BEGIN", "SQLITE_SYNCHRONOUS", "StateStore", "canonical_json", "dumps",
           "meta_table", "runs_table", "state_metadata", "utcnow"]


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} cannot be stored as JSON")


def dumps(value: Any) -> str:
    """JSON for the state tables: dates ISO 8601, decimals as strings, bytes in base64."""
    text = json.dumps(value, default=_json_default, ensure_ascii=False)
    # A lone surrogate (a JSON body may carry "\ud800") has no UTF-8 form, so no database
    # takes it; it becomes "?".
    return text.encode("utf-8", "replace").decode("utf-8")


def canonical_json(value: Any) -> str:
    """One text for equal JSON values whatever their key order (to compare requests)."""
    return json.dumps(value, sort_keys=True, default=str)


def utcnow() -> dt.datetime:
    """Now, in UTC: every time stored in the state database."""
    return dt.datetime.now(dt.UTC)


class StateStore:
    """The connection to the state database, migrated to the latest schema on ``start``."""

    def __init__(self, url: str, *, async_driver: str | None = None,
                 sqlite_synchronous: str = "NORMAL",
                 max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ConfigurationError(f"sqlite_synchronous must be one of "
                                     f"{', '.join(SQLITE_SYNCHRONOUS)}")
        self.sqlite_synchronous = sqlite_synchronous
        self.max_connections = max_connections
        self.url = to_async_url(url)
        if async_driver is not None:
            # The Procrastinate runner enqueues its job on the state connection: psycopg.
            self.url = self.url.set(drivername=f"{self.url.get_backend_name()}+{async_driver}")
        self._engine: AsyncEngine | None = None
        self._inline: InlineSqlite | None = None
        self._direct: AsyncpgDirect | None = None
        self._started = False
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> AsyncEngine:
        if self.dialect != "sqlite":
            # No pre-ping: it costs three round trips per checkout; a dropped connection is
            # invalidated on its first error and the pool reconnects.
            return create_async_engine(self.url, pool_recycle=1800, json_serializer=dumps,
                                       **pool_options(self.url, self.max_connections))
        # Another process (the CLI, a second worker) may hold the file's lock for a moment.
        engine = create_async_engine(
            self.url, connect_args={"timeout": 30}, json_serializer=dumps,
            pool_reset_on_return=None, **sqlite_engine_options(self.url),
            **pool_options(self.url),
        )
        reset_sqlite_when_needed(engine)
        synchronous = self.sqlite_synchronous
        # The sqlite3 module begins transactions late and never for DDL; take that over so
        # transactions mean what they say, and migrations can take the write lock up front.
        # (The recipe from SQLAlchemy's aiosqlite documentation.)

        @event.listens_for(engine.sync_engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL: readers never wait for the writer, and a commit appends to one file.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get(SQLITE_BEGIN, "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine

    @property
    def inline(self) -> InlineSqlite | None:
        """A SQLite state file's connection on the event loop's thread, for the short
        statements of every request (see ``data.inline_sqlite``); None elsewhere."""
        if self._inline is None and self._started and is_file_url(self.url):
            self._inline = InlineSqlite(self.url, synchronous=self.sqlite_synchronous,
                                        json_serializer=dumps)
        return self._inline

    @property
    def direct(self) -> AsyncpgDirect | None:
        """A PostgreSQL state database's own small asyncpg pool, for the single statements
        of every request (see ``data.asyncpg_direct``); None elsewhere."""
        if self._direct is None and self._started and self.url.get_driver_name() == "asyncpg":
            self._direct = AsyncpgDirect(self.url, self.engine,
                                         direct_connections(self.max_connections))
        return self._direct

    @property
    def inline_writes(self) -> InlineSqlite | None:
        """``inline``, for writes: not with ``synchronous=FULL``, whose every commit syncs the
        file (that wait belongs on a worker thread, not on the loop)."""
        return self.inline if self.sqlite_synchronous == "NORMAL" else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads outside any transaction (autocommit): no BEGIN/ROLLBACK
        round trips. SQLite keeps its plain connection (its transactions are taken over)."""
        async with self.engine.connect() as conn:
            if self.dialect != "sqlite":
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection where each statement commits by itself, for a write of one statement
        (no BEGIN/COMMIT round trips). SQLite takes its write lock in a transaction instead."""
        if self.dialect == "sqlite":
            async with self.write() as conn:
                yield conn
        else:
            async with self.read() as conn:
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes. On SQLite it takes the write lock up front: a deferred
        transaction that reads, then writes, fails at once ("database is locked") when another
        one holds the lock, whatever the busy timeout. The writers of a process wait for
        that lock in turn (``data.sqlite_driver``), not each in its busy handler."""
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                await conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            async with conn.begin():
                yield conn

    async def start(self) -> None:
        """Migrate the state database to the latest schema (nothing to do if it is there).

        Safe to call from several processes at once: migrations are serialised by a database
        lock. Raises ConfigurationError when the database cannot be reached or migrated.
        """
        async with self._lock:
            if self._started:
                return
            try:
                await self._upgrade()
            except (OSError, sa.exc.SQLAlchemyError) as exc:
                await self.close()
                raise ConfigurationError(
                    f"cannot reach or migrate the state database at {redact(self.url)}: "
                    f"{_short(exc)}"
                ) from exc
            except CommandError as exc:
                await self.close()
                raise ConfigurationError(
                    f"cannot migrate the state database at {redact(self.url)}: {exc} "
                    "(was it migrated by a newer version of actiondesk?)"
                ) from exc
            self._started = True

    async def _upgrade(self) -> None:
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                await conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            elif self.dialect == "mysql":
                # MySQL DDL commits implicitly, so a transaction cannot serialise migrations.
                got = await conn.scalar(
                    sa.text("SELECT GET_LOCK(:name, 120)"), {"name": _MYSQL_MIGRATION_LOCK}
                )
                await conn.commit()
                if got != 1:
                    raise ConfigurationError(
                        f"the state database at {redact(self.url)} is being migrated by "
                        "another process that did not finish in 120 s"
                    )
            try:
                async with conn.begin():
                    if self.dialect == "postgresql":
                        await conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _PG_MIGRATION_LOCK},
                        )
                    await conn.run_sync(_run_alembic_upgrade)
            finally:
                if self.dialect == "mysql":
                    await conn.execute(
                        sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_MIGRATION_LOCK}
                    )
                    await conn.commit()

    async def revision(self) -> str | None:
        """The schema revision the state database is at (None before the first migration)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_revision)

    async def close(self) -> None:
        if self._inline is not None:
            await self._inline.close()
            self._inline = None
        if self._direct is not None:
            await self._direct.close()
            self._direct = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        self._started = False


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for actiondesk's migrations, bound to ``connection`` if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision that ships with this version of actiondesk."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _run_alembic_upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
