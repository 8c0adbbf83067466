"""Alembic environment of actiondesk's state database.

Migrations run online only, on the connection ``StateStore.start`` passes in
``config.attributes["connection"]`` (inside its transaction and migration lock).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from actiondesk.data.state import VERSION_TABLE, state_metadata


def run_migrations_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=state_metadata,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError(
        "actiondesk migrations run online only: use `actiondesk migrate MODULE:ATTR` or "
        "StateStore.start(), which migrate the state database directly"
    )
_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(
        "actiondesk migrations need a SQLAlchemy Connection in "
        "config.attributes['connection']; run them with StateStore.start()"
    )
run_migrations_online(_connection)
