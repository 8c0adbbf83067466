"""State tables of a record's activity and of notifications (migration 0006).

The runs table keeps which records a run named (``record_key``/``selection_kind``, see
``actiondesk.activity``); a run that named several ids lists them in ``run_records``.
Notifications are one row per recipient; deliveries record each e-mail or webhook attempt.
"""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.state_schema.base import LongText, UTCDateTime, key_string, state_metadata

RECORD_KEY_LENGTH = 255

run_records_table = sa.Table(
    "actiondesk_run_records",
    state_metadata,
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("collection", key_string(120), nullable=False),
    sa.Column("record_key", key_string(RECORD_KEY_LENGTH), nullable=False),
    sa.PrimaryKeyConstraint("run_id", "record_key", name="pk_actiondesk_run_records"),
    sa.Index("ix_actiondesk_run_records_record", "collection", "record_key"),
    mysql_charset="utf8mb4",
)

notifications_table = sa.Table(
    "actiondesk_notifications",
    state_metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("user_id", key_string(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("approval_id", sa.String(32), nullable=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", LongText, nullable=True),
    sa.Column("link", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("read_at", UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_notifications"),
    sa.Index("ix_actiondesk_notifications_user", "user_id", "created_at"),
    mysql_charset="utf8mb4",
)

notification_deliveries_table = sa.Table(
    "actiondesk_notification_deliveries",
    state_metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    # An e-mail address, or the webhook's scheme://host[:port]/path (never its credentials).
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("approval_id", sa.String(32), nullable=True),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("error", sa.String(500), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_actiondesk_notification_deliveries"),
    sa.Index("ix_actiondesk_notification_deliveries_at", "at"),
    mysql_charset="utf8mb4",
)
