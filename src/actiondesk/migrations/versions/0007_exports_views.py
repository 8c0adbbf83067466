"""Exports and saved views: the roles' export right, and the saved views of lists.

Revision ID: exports_views
Revises: activity_notifications
Create Date: 2026-12-04
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "exports_views"
down_revision: str | Sequence[str] | None = "activity_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = ("mysql", "mariadb")
_VIEWS = "actiondesk_saved_views"


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), *_MYSQL
    )


def _datetime() -> sa.types.TypeEngine[dt.datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


def upgrade() -> None:
    with op.batch_alter_table("actiondesk_roles") as batch:
        batch.add_column(sa.Column("can_export", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        _VIEWS,
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("collection", _key(120), nullable=False),
        sa.Column("name", _key(100), nullable=False),
        sa.Column("owner_id", _key(200), nullable=False),
        sa.Column("owner_email", sa.String(320), nullable=False),
        sa.Column("shared_roles", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("filter", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("search", sa.String(200), nullable=True),
        sa.Column("sort", sa.String(500), nullable=True),
        sa.Column("columns", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("page_size", sa.Integer(), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("updated_at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actiondesk_saved_views"),
        sa.UniqueConstraint("owner_id", "collection", "name",
                            name="uq_actiondesk_saved_views_owner_name"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_actiondesk_saved_views_collection", _VIEWS, ["collection"])


def downgrade() -> None:
    op.drop_index("ix_actiondesk_saved_views_collection", table_name=_VIEWS)
    op.drop_table(_VIEWS)
    with op.batch_alter_table("actiondesk_roles") as batch:
        batch.drop_column("can_export")
