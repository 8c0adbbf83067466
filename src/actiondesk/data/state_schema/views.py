"""The saved views of lists (migration 0006): a named filter, search, sort, columns and page
size, personal or shared with chosen roles. Same metadata as the runs."""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.state_schema.base import UTCDateTime, key_string, state_metadata

saved_views_table = sa.Table(
    "actiondesk_saved_views",
    state_metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("collection", key_string(120), nullable=False),
    sa.Column("name", key_string(100), nullable=False),
    sa.Column("owner_id", key_string(200), nullable=False),
    sa.Column("owner_email", sa.String(320), nullable=False),
    sa.Column("shared_roles", sa.JSON(), nullable=False),  # [] for a personal view
    sa.Column("shared", sa.Boolean(), nullable=False),  # shared_roles is not empty
    sa.Column("filter", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("search", sa.String(200), nullable=True),
    sa.Column("sort", sa.String(500), nullable=True),
    sa.Column("columns", sa.JSON(none_as_null=True), nullable=True),  # None: the defaults
    sa.Column("page_size", sa.Integer(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_saved_views"),
    sa.UniqueConstraint("owner_id", "collection", "name",
                        name="uq_actiondesk_saved_views_owner_name"),
    sa.Index("ix_actiondesk_saved_views_collection", "collection"),
    mysql_charset="utf8mb4",
)
