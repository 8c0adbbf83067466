"""Users, roles, policies, action settings, login failures and the audit of refusals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), *_MYSQL
    )


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def upgrade() -> None:
    op.create_table(
        "actiondesk_users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("email", _key(320), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("team", sa.String(100), nullable=False, server_default=""),
        sa.Column("role", _key(100), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("updated_at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_users"),
        sa.UniqueConstraint("email", name="uq_actiondesk_users_email"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "actiondesk_roles",
        sa.Column("name", _key(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("read_all", sa.Boolean(), nullable=False),
        sa.Column("readable", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_actiondesk_roles"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "actiondesk_policies",
        sa.Column("role", _key(100), nullable=False),
        sa.Column("collection", _key(120), nullable=False),
        sa.Column("action_slug", _key(120), nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("condition", sa.JSON(), nullable=True),
        sa.Column("condition_on", sa.String(10), nullable=False),
        sa.Column("can_approve", sa.Boolean(), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("self_approval", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("role", "collection", "action_slug",
                                name="pk_actiondesk_policies"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "actiondesk_action_settings",
        sa.Column("collection", _key(120), nullable=False),
        sa.Column("action_slug", _key(120), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("enabled_if", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("collection", "action_slug",
                                name="pk_actiondesk_action_settings"),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "actiondesk_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", _key(400), nullable=False),
        sa.Column("failed_at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_login_failures"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_login_failures_key", "actiondesk_login_failures",
                    ["key", "failed_at"])
    op.create_table(
        "actiondesk_audit_events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("caller_id", _key(200), nullable=True),
        sa.Column("caller_email", _key(320), nullable=True),
        sa.Column("method", sa.String(10), nullable=True),
        sa.Column("path", sa.String(2000), nullable=True),
        sa.Column("address", sa.String(100), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_audit_events"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_audit_events_at", "actiondesk_audit_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_audit_events_at", table_name="actiondesk_audit_events")
    op.drop_table("actiondesk_audit_events")
    op.drop_index("ix_actiondesk_login_failures_key", table_name="actiondesk_login_failures")
    op.drop_table("actiondesk_login_failures")
    op.drop_table("actiondesk_action_settings")
    op.drop_table("actiondesk_policies")
    op.drop_table("actiondesk_roles")
    op.drop_table("actiondesk_users")
