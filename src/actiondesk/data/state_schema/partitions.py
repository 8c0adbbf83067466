"""The partitions of a partitioned background run: one key range of its selection each, with
its own queue state, lease, checkpoint and outcome. Migration 0006_run_partitions."""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.state_schema.base import LongText, UTCDateTime, state_metadata

run_partitions_table = sa.Table(
    "actiondesk_run_partitions",
    state_metadata,
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("runner", sa.String(20), nullable=False),
    # The range: after ``lower_key`` (excluded; null: from the first record) up to
    # ``upper_key`` (included; null: to the last), as encoded record ids.
    sa.Column("lower_key", LongText, nullable=True),
    sa.Column("upper_key", LongText, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("record_count", sa.BigInteger(), nullable=True),
    sa.Column("done_count", sa.BigInteger(), nullable=False),
    sa.Column("checkpoint", LongText, nullable=True),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("message", LongText, nullable=True),
    sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("run_id", "number", name="pk_actiondesk_run_partitions"),
    sa.Index("ix_actiondesk_run_partitions_runner_status", "runner", "status"),
    mysql_charset="utf8mb4",
)
