"""State tables of the approval workflow: frozen requests, their records and their timeline.
Same metadata as the runs; migration 0003."""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.state_schema.base import LongText, UTCDateTime, key_string, state_metadata

approvals_table = sa.Table(
    "actiondesk_approvals",
    state_metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("action_slug", key_string(120), nullable=False),
    sa.Column("action_name", sa.String(200), nullable=False),
    # "" for global actions, as in the runs.
    sa.Column("collection", key_string(120), nullable=False),
    sa.Column("scope", sa.String(10), nullable=False),
    sa.Column("requester", sa.JSON(), nullable=False),
    sa.Column("requester_id", key_string(200), nullable=False),
    sa.Column("requester_email", key_string(320), nullable=False),
    # The typed values, frozen in a JSON form they can be rebuilt from (files included);
    # ``values_display`` is the redacted copy that is shown and exported.
    sa.Column("values", sa.JSON(), nullable=False),
    sa.Column("values_display", sa.JSON(), nullable=False),
    sa.Column("parent", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("selection", sa.JSON(), nullable=False),
    sa.Column("record_count", sa.Integer(), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("approvals_required", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("result_kind", sa.String(20), nullable=True),
    sa.Column("result_status_code", sa.Integer(), nullable=True),
    sa.Column("result_filename", sa.String(255), nullable=True),
    sa.Column("result_mime", sa.String(200), nullable=True),
    sa.Column("reason", LongText, nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_approvals"),
    sa.Index("ix_actiondesk_approvals_status", "status"),
    sa.Index("ix_actiondesk_approvals_requester_id", "requester_id"),
    sa.Index("ix_actiondesk_approvals_created_at", "created_at"),
    sa.Index("ix_actiondesk_approvals_action_slug", "action_slug"),
    mysql_charset="utf8mb4",
)

approval_records_table = sa.Table(
    "actiondesk_approval_records",
    state_metadata,
    sa.Column("approval_id", sa.String(32), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("record_id", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("approval_id", "seq", name="pk_actiondesk_approval_records"),
    mysql_charset="utf8mb4",
)

approval_events_table = sa.Table(
    "actiondesk_approval_events",
    state_metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("approval_id", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    # "" for what the system does (expiry, execution).
    sa.Column("actor_id", key_string(200), nullable=False),
    sa.Column("actor_email", key_string(320), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("message", LongText, nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_approval_events"),
    # Each person approves (or rejects) a request at most once: the database keeps the
    # approvers distinct, whatever the concurrency.
    sa.UniqueConstraint("approval_id", "kind", "actor_id",
                        name="uq_actiondesk_approval_events_once"),
    sa.Index("ix_actiondesk_approval_events_actor_id", "actor_id"),
    mysql_charset="utf8mb4",
)
