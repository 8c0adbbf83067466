"""What every state table is made of: one metadata, and column types that behave the same
on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite and MySQL/MariaDB keep no time zone, so values are stored as naive UTC there and
    read back as aware UTC. MySQL gets microseconds, which its ``DATETIME`` drops by default.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return aware if dialect.name == "postgresql" else aware.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)  # noqa: S101 - the column type guarantees it
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def key_string(length: int) -> TypeEngine[str]:
    # Columns filtered or keyed on exactly compare exactly on MariaDB too, whose default
    # collation ignores case.
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


LongText: TypeEngine[str] = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
LongBinary: TypeEngine[bytes] = sa.LargeBinary().with_variant(
    mysql.LONGBLOB(), "mysql", "mariadb"
)

state_metadata = sa.MetaData()
