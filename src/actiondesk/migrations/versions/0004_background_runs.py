"""Background runs: queue, lease, progress, checkpoint and cancellation columns on runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")
_TABLE = "actiondesk_runs"


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def _long_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


_COLUMNS = (
    ("runner", lambda: sa.String(20)),
    ("done_count", sa.BigInteger),
    ("checkpoint", _long_text),
    ("rate", sa.Float),
    ("progress_at", _datetime),
    ("lease_owner", lambda: sa.String(100)),
    ("lease_expires_at", _datetime),
    ("attempts", sa.Integer),
    ("cancel_requested_at", _datetime),
    ("cancel_requested_by", lambda: sa.String(320)),
    ("request_values", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind(), nullable=True))
    op.create_index("ix_actiondesk_runs_runner_status", _TABLE, ["runner", "status"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_runs_runner_status", table_name=_TABLE)
    with op.batch_alter_table(_TABLE) as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
