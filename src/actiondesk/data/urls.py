"""Map the database URLs people write to the async drivers actiondesk uses."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from actiondesk.errors import ConfigurationError

# Plain dialect names and the sync drivers people commonly write, mapped to the async driver
# actiondesk ships support for.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
    "mariadb": "mysql+asyncmy",
}
_ASYNC_ALREADY = {"aiosqlite", "asyncpg", "asyncmy", "aiomysql", "psycopg", "psycopg_async"}


def to_async_url(url: str | URL) -> URL:
    """Return the SQLAlchemy URL with an async driver.

    ``postgresql://`` becomes ``postgresql+asyncpg://``, ``mysql://`` and ``mariadb://`` become
    ``mysql+asyncmy://``, ``sqlite:///file.db`` becomes ``sqlite+aiosqlite:///file.db``. A URL
    that already names an async driver is kept.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"database URL {redact(url)!r} is not a valid URL: write it as "
            "sqlite:///file.db, postgresql://user@host/db or mysql://user@host/db"
        ) from exc
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name() if "+" in parsed.drivername else ""
    if driver in _ASYNC_ALREADY:
        return parsed
    target = _ASYNC_DRIVERS.get(backend)
    if target is None:
        raise ConfigurationError(
            f"database URL {redact(url)!r} uses {backend!r}; actiondesk supports sqlite, "
            "postgresql and mysql/mariadb"
        )
    return parsed.set(drivername=target)


def redact(url: str | URL) -> str:
    """The URL as text with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


_SYNC_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
}


def to_sync_url(url: str | URL) -> URL:
    """The same database with a sync driver, for ``def`` handlers running in worker threads
    (pysqlite, psycopg 3, PyMySQL)."""
    parsed = to_async_url(url)
    return parsed.set(drivername=_SYNC_DRIVERS[parsed.get_backend_name()])


DEFAULT_MAX_CONNECTIONS = 30


def direct_connections(max_connections: int) -> int:
    """Of a process's ``max_connections`` to a server database, those of its small asyncpg
    pool for the hottest statements (``data.asyncpg_direct``); the rest are SQLAlchemy's."""
    return max(1, min(5, max_connections // 6))


def pool_options(url: URL, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> dict[str, int]:
    """Room for a busy server's concurrent requests: with the default 5, every checkout past
    the fifth opened (and closed) a connection of its own, TLS negotiation included. A SQLite
    file keeps the default's 15 at most, all of them kept open (opening one starts a thread
    of aiosqlite's): it has one writer at a time, and 30 connections waiting for its lock
    outlasted the busy timeout on a slow disk ("database is locked") where 15 did not.
    A server database gets at most ``max_connections`` from this process, counting the
    direct pool's (the setting ``db_max_connections``: several processes on one server must
    fit in its own limit, or it refuses them, "too many clients")."""
    if url.get_backend_name() == "sqlite":
        return {"pool_size": 15, "max_overflow": 0} if is_file_url(url) else {}
    pooled = max(1, max_connections - (direct_connections(max_connections)
                                       if url.get_driver_name() == "asyncpg" else 0))
    kept = min(10, pooled)
    return {"pool_size": kept, "max_overflow": pooled - kept}


def is_file_url(url: URL) -> bool:
    """A SQLite database in a file (an in-memory database is private to its connection)."""
    database = url.database or ""
    return (url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and "mode=memory" not in database and url.query.get("mode") != "memory")
