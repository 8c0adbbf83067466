"""State tables for identity and access: users, roles, policies, action settings, login
failures, the audit of refusals (migration 0002) and revoked tokens (0005). Same metadata as
the runs."""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.state_schema.base import LongText, UTCDateTime, key_string, state_metadata

users_table = sa.Table(
    "actiondesk_users",
    state_metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("email", key_string(320), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("team", sa.String(100), nullable=False, server_default=""),
    sa.Column("role", key_string(100), nullable=False),
    sa.Column("tags", sa.JSON(), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    # Bumped when the user is deactivated, changes role or password, or is signed out
    # everywhere: older sessions and tokens stop working at their next request.
    sa.Column("session_version", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_users"),
    sa.UniqueConstraint("email", name="uq_actiondesk_users_email"),
    mysql_charset="utf8mb4",
)

roles_table = sa.Table(
    "actiondesk_roles",
    state_metadata,
    sa.Column("name", key_string(100), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("is_admin", sa.Boolean(), nullable=False),
    sa.Column("read_all", sa.Boolean(), nullable=False),
    sa.Column("readable", sa.JSON(), nullable=False),
    # Migration 0006: may download the lists the role reads (CSV, JSON lines).
    sa.Column("can_export", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("name", name="pk_actiondesk_roles"),
    mysql_charset="utf8mb4",
)

policies_table = sa.Table(
    "actiondesk_policies",
    state_metadata,
    sa.Column("role", key_string(100), nullable=False),
    # "" for global actions without a collection (NULLs would not collide in the key).
    sa.Column("collection", key_string(120), nullable=False),
    sa.Column("action_slug", key_string(120), nullable=False),
    sa.Column("rule", sa.String(20), nullable=False),
    sa.Column("condition", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("condition_on", sa.String(10), nullable=False),
    sa.Column("can_approve", sa.Boolean(), nullable=False),
    sa.Column("approvals_required", sa.Integer(), nullable=False),
    sa.Column("self_approval", sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint("role", "collection", "action_slug", name="pk_actiondesk_policies"),
    mysql_charset="utf8mb4",
)

action_settings_table = sa.Table(
    "actiondesk_action_settings",
    state_metadata,
    sa.Column("collection", key_string(120), nullable=False),
    sa.Column("action_slug", key_string(120), nullable=False),
    sa.Column("visible", sa.Boolean(), nullable=False),
    sa.Column("enabled_if", sa.JSON(none_as_null=True), nullable=True),
    sa.PrimaryKeyConstraint("collection", "action_slug", name="pk_actiondesk_action_settings"),
    mysql_charset="utf8mb4",
)

login_failures_table = sa.Table(
    "actiondesk_login_failures",
    state_metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("key", key_string(400), nullable=False),
    sa.Column("failed_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_login_failures"),
    sa.Index("ix_actiondesk_login_failures_key", "key", "failed_at"),
    mysql_charset="utf8mb4",
)

audit_events_table = sa.Table(
    "actiondesk_audit_events",
    state_metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("caller_id", key_string(200), nullable=True),
    sa.Column("caller_email", key_string(320), nullable=True),
    sa.Column("method", sa.String(10), nullable=True),
    sa.Column("path", sa.String(2000), nullable=True),
    sa.Column("address", sa.String(100), nullable=True),
    sa.Column("status_code", sa.Integer(), nullable=False),
    sa.Column("reason", LongText, nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_audit_events"),
    sa.Index("ix_actiondesk_audit_events_at", "at"),
    mysql_charset="utf8mb4",
)

# One signed-out session or revoked bearer token (its JWT id) until it would have expired
# anyway; signing out everywhere bumps the user's session_version instead.
revoked_tokens_table = sa.Table(
    "actiondesk_revoked_tokens",
    state_metadata,
    sa.Column("jti", key_string(64), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("jti", name="pk_actiondesk_revoked_tokens"),
    sa.Index("ix_actiondesk_revoked_tokens_expires_at", "expires_at"),
    mysql_charset="utf8mb4",
)
