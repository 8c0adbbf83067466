"""Counting the SQL statements a server sends (not a benchmark itself), the same way for the
raw drivers and for SQLAlchemy, transaction statements included:

- SQLite: ``sqlite3``'s trace callback on every connection opened in this process while
  ``SqliteTrace`` is active (aiosqlite opens its connections with ``sqlite3.connect``,
  SQLAlchemy's pysqlite dialect with ``sqlite3.dbapi2.connect``). It
  sees each statement SQLite runs, the ``BEGIN`` the ``sqlite3`` module issues by itself too.
- PostgreSQL: ``PgWireCounter``, a TCP proxy in front of the server that reads the client's
  protocol messages: each simple ``Query`` counts its statements, each extended-protocol
  ``Execute`` counts one (the statement of its portal). Nothing is missed whatever the
  driver does (asyncpg's pool resets a connection on release with a four-statement query:
  they count).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


def kind(sql: str) -> str:
    """What a statement is: its first keyword (``BEGIN IMMEDIATE`` kept apart)."""
    words = sql.split(None, 2)
    if not words:
        return "?"
    first = words[0].upper().rstrip(";")
    if first == "BEGIN" and len(words) > 1 and words[1].upper().rstrip(";") in (
        "IMMEDIATE", "EXCLUSIVE", "DEFERRED"
    ):
        return f"BEGIN {words[1].upper().rstrip(';')}"
    return first


class Tally:
    """Statements seen while ``counting``, by kind; safe from any thread."""

    def __init__(self) -> None:
        self.counting = False
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, sql: str) -> None:
        if self.counting:
            with self._lock:
                self._seen[kind(sql)] += 1

    def take(self) -> Counter[str]:
        """What was counted so far; starts again from zero."""
        with self._lock:
            seen, self._seen = self._seen, Counter()
        return seen


@contextlib.contextmanager
def sqlite_trace(tally: Tally) -> Iterator[None]:
    """Trace every SQLite connection opened inside the block into ``tally``."""
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real_connect(*args, **kwargs)
        conn.set_trace_callback(tally.add)
        return conn

    # SQLAlchemy's pysqlite dialect (actiondesk's statements run on the event loop's thread)
    # connects through sqlite3.dbapi2, a module of its own.
    sqlite3.connect = connect  # type: ignore[assignment]
    sqlite3.dbapi2.connect = connect  # type: ignore[assignment]
    try:
        yield
    finally:
        sqlite3.connect = real_connect
        sqlite3.dbapi2.connect = real_connect


class PgWireCounter:
    """A loopback proxy to a PostgreSQL server that counts the statements clients send."""

    def __init__(self, host: str, port: int, tally: Tally) -> None:
        self.upstream = (host, port)
        self.tally = tally
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.upstream)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._client_to_server(client_r, server_w))
                group.create_task(pipe(server_r, client_w))
        except* (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_w, server_w):
                writer.close()

    async def _client_to_server(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        # Untyped start-up messages first (SSL / GSS encryption requests, then the start-up
        # message itself); every later message is a type byte and a length.
        while True:
            head = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack("!i", head)[0] - 4)
            writer.write(head + body)
            await writer.drain()
            if struct.unpack("!i", body[:4])[0] not in (SSL_REQUEST, GSSENC_REQUEST):
                break
        statements: dict[bytes, str] = {}  # prepared statement name -> SQL
        portals: dict[bytes, str] = {}  # portal name -> SQL
        while True:
            head = await reader.readexactly(5)
            body = await reader.readexactly(struct.unpack("!i", head[1:])[0] - 4)
            writer.write(head + body)
            tag = head[:1]
            if tag == b"Q":
                for sql in cstrings(body, 1)[0].split(";"):
                    if sql.strip():
                        self.tally.add(sql)
            elif tag == b"P":
                name, sql = cstrings(body, 2)
                statements[name.encode()] = sql
            elif tag == b"B":
                portal, name = cstrings(body, 2)
                portals[portal.encode()] = statements.get(name.encode(), "?")
            elif tag == b"E":
                self.tally.add(portals.get(cstrings(body, 1)[0].encode(), "?"))
            elif tag == b"X":
                await writer.drain()
                return
            await writer.drain()


def cstrings(body: bytes, count: int) -> list[str]:
    """The first ``count`` NUL-terminated strings of a message body."""
    found = []
    start = 0
    for _ in range(count):
        end = body.index(b"\0", start)
        found.append(body[start:end].decode())
        start = end + 1
    return found


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
