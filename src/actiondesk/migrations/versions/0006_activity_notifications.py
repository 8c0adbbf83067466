"""A record's activity and notifications: which records each run named (two columns on runs
and the run_records table), notifications per user, and their e-mail/webhook deliveries.

Revision ID: activity_notifications
Revises: 0005_session_revocation
Create Date: 2026-12-04
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "activity_notifications"
down_revision: str | Sequence[str] | None = "0005_session_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")
_RUNS = "actiondesk_runs"


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), *_MYSQL
    )


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def _long_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


def upgrade() -> None:
    with op.batch_alter_table(_RUNS) as batch:
        batch.add_column(sa.Column("record_key", _key(255), nullable=True))
        batch.add_column(sa.Column("selection_kind", sa.String(10), nullable=True))
    op.create_index("ix_actiondesk_runs_record", _RUNS, ["collection", "record_key", "started_at"])
    op.create_index("ix_actiondesk_runs_selection_kind", _RUNS,
                    ["collection", "selection_kind", "started_at"])
    op.create_table(
        "actiondesk_run_records",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("collection", _key(120), nullable=False),
        sa.Column("record_key", _key(255), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "record_key", name="pk_actiondesk_run_records"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_run_records_record", "actiondesk_run_records",
                    ["collection", "record_key"])
    op.create_table(
        "actiondesk_notifications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", _key(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("approval_id", sa.String(32), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", _long_text(), nullable=True),
        sa.Column("link", sa.String(500), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("read_at", _datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_notifications"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_notifications_user", "actiondesk_notifications",
                    ["user_id", "created_at"])
    op.create_table(
        "actiondesk_notification_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("approval_id", sa.String(32), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_notification_deliveries"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_notification_deliveries_at",
                    "actiondesk_notification_deliveries", ["at"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_notification_deliveries_at",
                  table_name="actiondesk_notification_deliveries")
    op.drop_table("actiondesk_notification_deliveries")
    op.drop_index("ix_actiondesk_notifications_user", table_name="actiondesk_notifications")
    op.drop_table("actiondesk_notifications")
    op.drop_index("ix_actiondesk_run_records_record", table_name="actiondesk_run_records")
    op.drop_table("actiondesk_run_records")
    op.drop_index("ix_actiondesk_runs_selection_kind", table_name=_RUNS)
    op.drop_index("ix_actiondesk_runs_record", table_name=_RUNS)
    with op.batch_alter_table(_RUNS) as batch:
        batch.drop_column("selection_kind")
        batch.drop_column("record_key")
