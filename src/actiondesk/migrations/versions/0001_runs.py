"""The runs audit and the meta table.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")


def _key_string(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), *_MYSQL
    )


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def _long_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        "actiondesk_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("action_slug", _key_string(120), nullable=False),
        sa.Column("action_name", sa.String(200), nullable=False),
        sa.Column("collection", _key_string(120), nullable=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("caller_id", _key_string(200), nullable=False),
        sa.Column("caller_email", _key_string(320), nullable=False),
        sa.Column("caller", sa.JSON(), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("result_kind", sa.String(20), nullable=True),
        sa.Column("message", _long_text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column(
            "result_file",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL),
            nullable=True,
        ),
        sa.Column("result_filename", sa.String(255), nullable=True),
        sa.Column("result_mime", sa.String(200), nullable=True),
        sa.Column("idempotency_key", _key_string(200), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=True),
        sa.Column("started_at", _datetime(), nullable=False),
        sa.Column("finished_at", _datetime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_runs"),
        sa.UniqueConstraint(
            "caller_id",
            "action_slug",
            "collection",
            "idempotency_key",
            name="uq_actiondesk_runs_idempotency",
        ),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_runs_started_at", "actiondesk_runs", ["started_at"])
    op.create_index("ix_actiondesk_runs_action_slug", "actiondesk_runs", ["action_slug"])
    op.create_index("ix_actiondesk_runs_caller_id", "actiondesk_runs", ["caller_id"])
    op.create_index("ix_actiondesk_runs_status", "actiondesk_runs", ["status"])
    op.create_table(
        "actiondesk_meta",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", _long_text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_actiondesk_meta"),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("actiondesk_meta")
    op.drop_index("ix_actiondesk_runs_status", table_name="actiondesk_runs")
    op.drop_index("ix_actiondesk_runs_caller_id", table_name="actiondesk_runs")
    op.drop_index("ix_actiondesk_runs_action_slug", table_name="actiondesk_runs")
    op.drop_index("ix_actiondesk_runs_started_at", table_name="actiondesk_runs")
    op.drop_table("actiondesk_runs")
