"""The servers of bench/action_single.py (not a benchmark itself): the same "mark as live"
request answered by three systems, each an ASGI app served alone by uvicorn.

    python bench/_single_systems.py --serve-port PORT --system floor|handwritten|actiondesk
                                    --data-url URL --state-url URL [--synchronous FULL|NORMAL]

Every system answers ``POST /api/collections/bench_items/actions/mark-as-live`` with the
Forest JSON:API body ``{"data": {"attributes": {"ids": ["<id>"], "values": {}}}}`` and sets
``status = 'live', marks = marks + 1`` on that record (``marks`` lets the benchmark check
that every 2xx really updated a row):

- ``floor``: a bare Starlette endpoint; reads the id from the body and runs the UPDATE on the
  raw driver (one shared aiosqlite connection in autocommit; an asyncpg pool). No auth.
- ``handwritten``: what a careful developer writes without actiondesk, on the same raw
  driver: the bearer JWT verified (PyJWT, the role in a claim), the role's policy looked up
  in a dict, a run row INSERTed and committed in the state database before the UPDATE, the
  UPDATE, then the run row finished; each audit write committed alone. SQLite: the state is
  its own file in WAL with ``PRAGMA synchronous`` as given. PostgreSQL: a table next to the
  data (one pooled connection per request for all three statements).
- ``actiondesk``: a ``Desk`` over the data with the action declared as the README shows;
  the caller's role has a ``trigger`` policy (provisioned by the benchmark).

Served as ``actiondesk serve`` serves a desk (``uvicorn.run`` on the app object), with uvloop
and httptools named explicitly and the access log off for every system alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import jwt
import sqlalchemy as sa
from _common import BENCH_ROLE, SECRET_KEY, stop_when_orphaned
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

TABLE = "bench_items"
SLUG = "mark-as-live"
ACTION_PATH = f"/api/collections/{TABLE}/actions/{SLUG}"
RUNS_TABLE = "bench_handwritten_runs"
HANDWRITTEN_SECRET = "bench-handwritten-not-secret-0123456789"  # noqa: S105 - local throwaway
SYSTEM_KINDS = ("floor", "handwritten", "actiondesk")
SYNCHRONOUS = ("FULL", "NORMAL")
# How the hand-written endpoint sends its UPDATE: on the raw driver, or as an actiondesk
# handler does, a SQLAlchemy Core statement on an AsyncEngine (what the framework's own cost
# is measured against when the handler's API is SQLAlchemy).
UPDATE_WITH = ("driver", "sqlalchemy")

MARK = f"UPDATE {TABLE} SET status = 'live', marks = marks + 1 WHERE id = ?"
RUNS_SCHEMA = (
    f"CREATE TABLE {RUNS_TABLE} (id text PRIMARY KEY, action text NOT NULL, "
    "collection text NOT NULL, record_id text NOT NULL, caller text NOT NULL, "
    "status text NOT NULL, started_at text NOT NULL, finished_at text)"
)
RUN_BEGIN = (
    f"INSERT INTO {RUNS_TABLE} (id, action, collection, record_id, caller, status, started_at)"
    " VALUES (?, ?, ?, ?, ?, 'running', ?)"
)
RUN_FINISH = f"UPDATE {RUNS_TABLE} SET status = ?, finished_at = ? WHERE id = ?"
# The hand-written endpoint's permissions: (role, collection, action) -> rule.
POLICIES = {(BENCH_ROLE, TABLE, SLUG): "trigger"}


# ---------------------------------------------------------------------------------------------
# The raw driver, SQLite or PostgreSQL, behind one small interface


class Session(Protocol):
    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement in autocommit; the number of rows it changed."""


class SqliteSession:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: object) -> int:
        cursor = await self.conn.execute(sql, args)
        return cursor.rowcount


class PostgresSession:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: object) -> int:
        status: str = await self.conn.execute(numbered(sql), *args)
        return int(status.rsplit(" ", 1)[-1])


def numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2, ...``."""
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


class RawDatabase:
    """One SQLite connection shared by every request (autocommit: each statement commits on
    its own), or an asyncpg pool (a connection per request)."""

    def __init__(self, url: str, synchronous: str | None = None) -> None:
        self.url = make_url(url)
        self.synchronous = synchronous
        self.sqlite: aiosqlite.Connection | None = None
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            self.sqlite = await aiosqlite.connect(self.url.database or "", isolation_level=None)
            if self.synchronous is not None:
                await self.sqlite.execute("PRAGMA journal_mode = WAL")
                await self.sqlite.execute(f"PRAGMA synchronous = {self.synchronous}")
        else:
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.pool = await asyncpg.create_pool(dsn)

    async def close(self) -> None:
        if self.sqlite is not None:
            await self.sqlite.close()
        if self.pool is not None:
            await self.pool.close()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        if self.sqlite is not None:
            yield SqliteSession(self.sqlite)
            return
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            yield PostgresSession(conn)


def lifespan_opening(*databases: RawDatabase) -> Any:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for database in databases:
            await database.open()
        try:
            yield
        finally:
            for database in databases:
                await database.close()

    return lifespan


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def record_id_of(request: Request) -> int | None:
    """The one id of the Forest body, or None when the body is not one."""
    try:
        ids = json.loads(await request.body())["data"]["attributes"]["ids"]
        (record_id,) = ids
        return int(record_id)
    except (ValueError, KeyError, TypeError):
        return None


DONE = {"success": "Marked as live"}


# ---------------------------------------------------------------------------------------------
# The systems


def floor_app(data_url: str) -> Starlette:
    data = RawDatabase(data_url)

    async def mark_as_live(request: Request) -> JSONResponse:
        record_id = await record_id_of(request)
        if record_id is None:
            return error(400, "one record id expected")
        async with data.session() as conn:
            changed = await conn.execute(MARK, record_id)
        return JSONResponse(DONE) if changed else error(404, "no such record")

    return Starlette(routes=[Route(ACTION_PATH, mark_as_live, methods=["POST"])],
                     lifespan=lifespan_opening(data))


def handwritten_app(data_url: str, state_url: str, synchronous: str | None,
                    update_with: str = "driver") -> Starlette:
    data = RawDatabase(data_url)
    state = data if state_url == data_url else RawDatabase(state_url, synchronous)
    core = sqlalchemy_update(data_url) if update_with == "sqlalchemy" else None

    def sessions() -> tuple[AbstractAsyncContextManager[Session],
                            AbstractAsyncContextManager[Session] | None]:
        # One database: one connection for the audit and the UPDATE.
        return (state.session(), None) if state is data else (state.session(), data.session())

    async def mark_as_live(request: Request) -> JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return error(401, "a bearer token is required")
        try:
            claims = jwt.decode(token, HANDWRITTEN_SECRET, algorithms=["HS256"],
                                options={"require": ["exp", "sub", "role"]})
        except jwt.InvalidTokenError:
            return error(401, "invalid token")
        if POLICIES.get((claims["role"], TABLE, SLUG)) != "trigger":
            return error(403, "not allowed")
        record_id = await record_id_of(request)
        if record_id is None:
            return error(400, "one record id expected")

        run_id = uuid.uuid4().hex
        state_session, data_session = sessions()
        async with state_session as audit:
            await audit.execute(RUN_BEGIN, run_id, SLUG, TABLE, str(record_id), claims["sub"],
                                now())
            try:
                if core is not None:
                    changed = await core(record_id)
                elif data_session is None:
                    changed = await audit.execute(MARK, record_id)
                else:
                    async with data_session as conn:
                        changed = await conn.execute(MARK, record_id)
            except Exception:
                await audit.execute(RUN_FINISH, "failed", now(), run_id)
                raise
            await audit.execute(RUN_FINISH, "succeeded" if changed else "failed", now(), run_id)
        return JSONResponse(DONE) if changed else error(404, "no such record")

    databases = (data,) if state is data else (data, state)
    return Starlette(routes=[Route(ACTION_PATH, mark_as_live, methods=["POST"])],
                     lifespan=lifespan_opening(*databases))


def sqlalchemy_update(data_url: str) -> Callable[[int], Awaitable[int]]:
    """The UPDATE as an actiondesk handler sends it: a Core statement built per request, in
    ``engine.begin()`` on SQLAlchemy's AsyncEngine (its own aiosqlite / asyncpg adapter)."""
    url = make_url(data_url)
    driver = "sqlite+aiosqlite" if url.get_backend_name() == "sqlite" else "postgresql+asyncpg"
    engine = create_async_engine(url.set(drivername=driver))
    items = sa.table(TABLE, sa.column("id"), sa.column("status"), sa.column("marks"))

    async def update(record_id: int) -> int:
        async with engine.begin() as conn:
            done = await conn.execute(items.update().where(items.c.id == record_id)
                                      .values(status="live", marks=items.c.marks + 1))
        return int(done.rowcount)

    return update


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def actiondesk_app(data_url: str, state_url: str) -> ASGIApp:
    from actiondesk import ActionContext, Desk, Success

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE])

    @desk.action(TABLE, name="Mark as live")
    async def mark_as_live(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        items = ctx.selection.collection.table
        async with ctx.async_db.begin() as conn:
            await conn.execute(items.update().where(ctx.selection.where)
                               .values(status="live", marks=items.c.marks + 1))
        return Success("Marked as live")

    return desk


def build_app(kind: str, data_url: str, state_url: str, synchronous: str | None,
              update_with: str = "driver") -> ASGIApp:
    if kind == "floor":
        return floor_app(data_url)
    if kind == "handwritten":
        return handwritten_app(data_url, state_url, synchronous, update_with)
    return actiondesk_app(data_url, state_url)


def handwritten_token(lifetime: dt.timedelta) -> str:
    """The bearer token the hand-written endpoint accepts: the bench role's caller."""
    claims = {"sub": "1", "role": BENCH_ROLE, "exp": dt.datetime.now(dt.UTC) + lifetime}
    return jwt.encode(claims, HANDWRITTEN_SECRET, algorithm="HS256")


# ---------------------------------------------------------------------------------------------
# Data


def create_sqlite_data(path: str, rows: int) -> None:
    """The data file in WAL with ``rows`` draft items."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, name text NOT NULL, "
            "status text NOT NULL DEFAULT 'draft', marks integer NOT NULL DEFAULT 0)"
        )
        conn.execute(
            f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) "
            f"INSERT INTO {TABLE} (id, name) SELECT n, 'item ' || n FROM g"
        )
    conn.close()


def create_sqlite_state(path: str) -> None:
    """A hand-written endpoint's state file, in WAL."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(RUNS_SCHEMA)
    conn.close()


async def create_postgresql_data(conn: asyncpg.Connection, rows: int) -> None:
    """The data table and the hand-written endpoint's runs table, in a fresh database."""
    await conn.execute(
        f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, name text NOT NULL, "
        "status text NOT NULL DEFAULT 'draft', marks integer NOT NULL DEFAULT 0)"
    )
    await conn.execute(
        f"INSERT INTO {TABLE} (id, name) SELECT n, 'item ' || n FROM generate_series(1, $1) n",
        rows,
    )
    await conn.execute(RUNS_SCHEMA)
    await conn.execute(f"VACUUM ANALYZE {TABLE}")


# ---------------------------------------------------------------------------------------------


def serve(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve-port", type=int, required=True)
    parser.add_argument("--system", choices=SYSTEM_KINDS, required=True)
    parser.add_argument("--data-url", required=True)
    parser.add_argument("--state-url", required=True)
    parser.add_argument("--synchronous", choices=SYNCHRONOUS)
    parser.add_argument("--update-with", choices=UPDATE_WITH, default="driver")
    args = parser.parse_args(argv)
    stop_when_orphaned()
    app = build_app(args.system, args.data_url, args.state_url, args.synchronous,
                    args.update_with)
    uvicorn.run(app, host="127.0.0.1", port=args.serve_port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")


if __name__ == "__main__":
    serve(sys.argv[1:])
