"""The approval history as CSV: one line per request, read page by page, values in their
canonical form, and no cell a spreadsheet would take for a formula."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import AsyncIterator, Mapping
from typing import Any

from actiondesk.actions.forms import FormField, FormFieldType
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.spec import Action
from actiondesk.approvals.model import EXPORT_COLUMNS, ApprovalRecord
from actiondesk.approvals.store import ApprovalStore, Where
from actiondesk.data.state import dumps
from actiondesk.errors import NotFoundError
from actiondesk.exports.formats import csv_line

_EXPORT_PAGE = 500


async def csv_lines(
    approvals: ApprovalStore, registry: ActionRegistry, where: Where
) -> AsyncIterator[str]:
    """The header, then one line per request matching ``where``, oldest first."""
    yield csv_line(EXPORT_COLUMNS)
    after: ApprovalRecord | None = None
    while True:
        found = await approvals.oldest_after(where, after, _EXPORT_PAGE)
        for approval in found:
            decided = approval.decided
            yield csv_line([
                approval.id, _iso(approval.created_at), approval.action_slug,
                approval.collection, approval.requester_email, approval.record_count,
                dumps(_canonical(registry, approval)), approval.status,
                approval.approvals_required,
                " ".join(a["email"] for a in approval.approvers),
                decided.kind if decided else "",
                decided.by["email"] if decided and decided.by else "",
                _iso(approval.decided_at), decided.message if decided else "",
                approval.reason, approval.run_id,
            ])
        if len(found) < _EXPORT_PAGE:
            return
        after = found[-1]


def _canonical(registry: ActionRegistry, approval: ApprovalRecord) -> dict[str, Any]:
    """The displayed values in their canonical form (an action that no longer exists keeps
    them as stored)."""
    try:
        action = registry.get(approval.collection, approval.action_slug)
    except NotFoundError:
        return approval.values
    return canonical_values(action, approval.values)


def canonical_values(action: Action, values: Mapping[str, Any]) -> dict[str, Any]:
    """Displayed form values in one form per value, whatever was typed: decimals with the
    field's places (else without trailing zeros), dates and times in UTC."""
    return {name: _canonical_value(action.form_field(name), value)
            for name, value in values.items()}


def _canonical_value(spec: FormField | None, value: Any) -> Any:
    if spec is None or not isinstance(value, str):
        return value
    try:
        if spec.type is FormFieldType.DECIMAL:
            number = decimal.Decimal(value)
            places = getattr(spec, "places", None)
            if isinstance(places, int):
                return str(number.quantize(decimal.Decimal(1).scaleb(-places)))
            text = format(number.normalize(), "f")
            return "0" if text in ("-0", "0") else text
        if spec.type in (FormFieldType.DATE, FormFieldType.DATETIME):
            moment = dt.datetime.fromisoformat(value)
            return _iso(moment) if moment.tzinfo is not None else value
    except (ArithmeticError, ValueError):
        pass  # REDACTED, or a value stored by an older version: kept as it is
    return value


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat()
