"""Partitioned background runs: one row per key-range partition of a run.

Revision ID: run_partitions
Revises: exports_views
Create Date: 2026-12-04
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "run_partitions"
down_revision: str | Sequence[str] | None = "exports_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")
_TABLE = "actiondesk_run_partitions"


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def _long_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("runner", sa.String(20), nullable=False),
        sa.Column("lower_key", _long_text(), nullable=True),
        sa.Column("upper_key", _long_text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=True),
        sa.Column("done_count", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", _long_text(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", _datetime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", _long_text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("started_at", _datetime(), nullable=True),
        sa.Column("finished_at", _datetime(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "number", name="pk_actiondesk_run_partitions"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_run_partitions_runner_status", _TABLE, ["runner", "status"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_run_partitions_runner_status", table_name=_TABLE)
    op.drop_table(_TABLE)
