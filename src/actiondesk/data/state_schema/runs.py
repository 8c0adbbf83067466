"""The runs audit table, and the key-value table of small settings."""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.state_schema.base import (
    LongBinary,
    LongText,
    UTCDateTime,
    key_string,
    state_metadata,
)

runs_table = sa.Table(
    "actiondesk_runs",
    state_metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("action_slug", key_string(120), nullable=False),
    sa.Column("action_name", sa.String(200), nullable=False),
    sa.Column("collection", key_string(120), nullable=True),
    sa.Column("scope", sa.String(10), nullable=False),
    sa.Column("caller_id", key_string(200), nullable=False),
    sa.Column("caller_email", key_string(320), nullable=False),
    sa.Column("caller", sa.JSON(), nullable=False),
    sa.Column("selection", sa.JSON(), nullable=False),
    sa.Column("values", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("result_kind", sa.String(20), nullable=True),
    sa.Column("message", LongText, nullable=True),
    sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("result_file", LongBinary, nullable=True),
    sa.Column("result_filename", sa.String(255), nullable=True),
    sa.Column("result_mime", sa.String(200), nullable=True),
    sa.Column("idempotency_key", key_string(200), nullable=True),
    sa.Column("record_count", sa.Integer(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("duration_ms", sa.Integer(), nullable=True),
    # Background runs (migration 0004): which runner, who holds the lease until when, how
    # far it got (the checkpoint is the last committed key), cancellation, and the typed
    # form values it runs with (kept only until it finishes).
    sa.Column("runner", sa.String(20), nullable=True),
    sa.Column("done_count", sa.BigInteger(), nullable=True),
    sa.Column("checkpoint", LongText, nullable=True),
    sa.Column("rate", sa.Float(), nullable=True),
    sa.Column("progress_at", UTCDateTime(), nullable=True),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=True),
    sa.Column("cancel_requested_at", UTCDateTime(), nullable=True),
    sa.Column("cancel_requested_by", sa.String(320), nullable=True),
    sa.Column("request_values", sa.JSON(none_as_null=True), nullable=True),
    # Which records the run named (migration 0006, read by actiondesk.activity): the id when it
    # named one, and the kind of selection ("one", "ids": listed in actiondesk_run_records,
    # "all": a filter, "frozen": an approved request's frozen ids).
    sa.Column("record_key", key_string(255), nullable=True),
    sa.Column("selection_kind", sa.String(10), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_runs"),
    sa.UniqueConstraint(
        "caller_id",
        "action_slug",
        "collection",
        "idempotency_key",
        name="uq_actiondesk_runs_idempotency",
    ),
    sa.Index("ix_actiondesk_runs_started_at", "started_at"),
    sa.Index("ix_actiondesk_runs_action_slug", "action_slug"),
    sa.Index("ix_actiondesk_runs_caller_id", "caller_id"),
    sa.Index("ix_actiondesk_runs_status", "status"),
    sa.Index("ix_actiondesk_runs_runner_status", "runner", "status"),
    sa.Index("ix_actiondesk_runs_record", "collection", "record_key", "started_at"),
    sa.Index("ix_actiondesk_runs_selection_kind", "collection", "selection_kind", "started_at"),
    mysql_charset="utf8mb4",
)

meta_table = sa.Table(
    "actiondesk_meta",
    state_metadata,
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("value", LongText, nullable=True),
    sa.PrimaryKeyConstraint("key", name="pk_actiondesk_meta"),
    mysql_charset="utf8mb4",
)
