"""Approval requests, the records they were frozen on, and their timeline.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), *_MYSQL
    )


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def _long_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        "actiondesk_approvals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("action_slug", _key(120), nullable=False),
        sa.Column("action_name", sa.String(200), nullable=False),
        sa.Column("collection", _key(120), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("requester", sa.JSON(), nullable=False),
        sa.Column("requester_id", _key(200), nullable=False),
        sa.Column("requester_email", _key(320), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("values_display", sa.JSON(), nullable=False),
        sa.Column("parent", sa.JSON(), nullable=True),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("expires_at", _datetime(), nullable=False),
        sa.Column("decided_at", _datetime(), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("result_kind", sa.String(20), nullable=True),
        sa.Column("result_status_code", sa.Integer(), nullable=True),
        sa.Column("result_filename", sa.String(255), nullable=True),
        sa.Column("result_mime", sa.String(200), nullable=True),
        sa.Column("reason", _long_text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_approvals"),
        mysql_charset="utf8mb4",
    )
    for column in ("status", "requester_id", "created_at", "action_slug"):
        op.create_index(f"ix_actiondesk_approvals_{column}", "actiondesk_approvals", [column])
    op.create_table(
        "actiondesk_approval_records",
        sa.Column("approval_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("approval_id", "seq", name="pk_actiondesk_approval_records"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "actiondesk_approval_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("approval_id", sa.String(32), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.Column("actor_id", _key(200), nullable=False),
        sa.Column("actor_email", _key(320), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("message", _long_text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_approval_events"),
        sa.UniqueConstraint("approval_id", "kind", "actor_id",
                            name="uq_actiondesk_approval_events_once"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_approval_events_actor_id", "actiondesk_approval_events",
                    ["actor_id"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_approval_events_actor_id",
                  table_name="actiondesk_approval_events")
    op.drop_table("actiondesk_approval_events")
    op.drop_table("actiondesk_approval_records")
    for column in ("action_slug", "created_at", "requester_id", "status"):
        op.drop_index(f"ix_actiondesk_approvals_{column}", table_name="actiondesk_approvals")
    op.drop_table("actiondesk_approvals")
