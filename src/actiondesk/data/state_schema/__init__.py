"""actiondesk's own tables in the state database, all on one metadata. Every table is
prefixed ``actiondesk_`` so the state database may be the user's own database; schema changes
ship as Alembic migrations in ``actiondesk/migrations``."""

from actiondesk.data.state_schema.access import (
    action_settings_table,
    audit_events_table,
    login_failures_table,
    policies_table,
    roles_table,
    users_table,
)
from actiondesk.data.state_schema.activity import (
    notification_deliveries_table,
    notifications_table,
    run_records_table,
)
from actiondesk.data.state_schema.approvals import (
    approval_events_table,
    approval_records_table,
    approvals_table,
)
from actiondesk.data.state_schema.base import (
    LongBinary,
    LongText,
    UTCDateTime,
    key_string,
    state_metadata,
)
from actiondesk.data.state_schema.partitions import run_partitions_table
from actiondesk.data.state_schema.runs import meta_table, runs_table
from actiondesk.data.state_schema.views import saved_views_table

__all__ = [
    "LongBinary",
    "LongText",
    "UTCDateTime",
    "action_settings_table",
    "approval_events_table",
    "approval_records_table",
    "approvals_table",
    "audit_events_table",
    "key_string",
    "login_failures_table",
    "meta_table",
    "notification_deliveries_table",
    "notifications_table",
    "policies_table",
    "roles_table",
    "run_partitions_table",
    "run_records_table",
    "runs_table",
    "saved_views_table",
    "state_metadata",
    "users_table",
]
