"""A record's activity: the runs (actions, built-in edits, refusals) and the approval requests
that touched one record, newest first, as the caller may see them.

How a run is matched to the record (the rule; see ``runs.record_index``):

- a run that named ids (single actions, bulk on checked rows, edits) includes exactly those:
  found by index (``record_key``, or ``actiondesk_run_records`` for several ids);
- an approval request, and the run that executed it once approved, include exactly the ids
  frozen with the request (``actiondesk_approval_records``), select-all requests included;
- a live select-all run (filter, search, excluded ids, parent) includes the record when the
  record meets that selection now (``activity.matching``, one query for a page of runs).

Who sees what: admins see everything; others see their own runs, and the approval requests
they may review (the roles that may approve the action), as on the Runs and Approvals pages.
Each page reads at most ``MAX_SCANNED`` candidate runs: a record among many select-all runs
gets its activity page by page (``next``), never one unbounded scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.activity.matching import matching
from actiondesk.approvals.model import NO_COLLECTION
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.state import StateStore, runs_table
from actiondesk.data.state_schema.activity import run_records_table
from actiondesk.data.state_schema.approvals import approval_records_table, approvals_table
from actiondesk.errors import BadRequestError
from actiondesk.runs.record_index import ALL, FROZEN, IDS, ONE, record_key
from actiondesk.selections.resolve import SelectionResolver

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access

MAX_LIMIT = 100
MAX_SCANNED = 1000
_t = runs_table.c
_rr = run_records_table.c
_ar = approval_records_table.c
_a = approvals_table.c
_COLUMNS = [_t.id, _t.action_slug, _t.action_name, _t.caller_id, _t.caller_email, _t.caller,
            _t.selection, _t.status, _t.status_code, _t.message, _t.result, _t.result_kind,
            _t.record_count, _t.started_at, _t.finished_at, _t.runner, _t.selection_kind]
Row = sa.Row[Any]


class ActivityService:
    """Reads a record's activity from the runs audit and the approvals."""

    def __init__(self, store: StateStore, resolver: SelectionResolver) -> None:
        self.store = store
        self.resolver = resolver

    async def for_record(
        self, collection_name: str, record_id: str, access: Access, *,
        before: str | None = None, limit: int = 20,
    ) -> dict[str, Any]:
        """One page of the record's activity, newest first, and the cursor of the next page
        (``next``: None at the end). ForbiddenError if the caller may not read the
        collection, NotFoundError for an unknown collection or an id that cannot be one."""
        access.require_read(collection_name)
        collection = self.resolver.datasource.collection(collection_name)
        canonical = encode_id(collection, decode_id(collection, record_id))
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}",
                                  fields={"limit": f"must be between 1 and {MAX_LIMIT}"})
        cursor = _parse_cursor(before)
        key = record_key(canonical)
        entries: list[dict[str, Any]] = []
        scanned = 0
        chunk = max(2 * limit, 200)
        while True:
            async with self.store.engine.connect() as conn:
                rows = await _candidates(conn, collection_name, key, cursor,
                                         _visible(access, collection_name), chunk)
                frozen = await _frozen_matches(conn, rows, canonical)
                approvals = await _approvals(conn, rows)
            live = [(r.id, r.selection) for r in rows
                    if r.selection_kind == ALL and _approval_id(r) is None]
            by_filter = await matching(self.resolver, collection, canonical, live)
            # The whole chunk is checked, so whether anything follows a full page is known.
            found = [(row, _matched(row, key, frozen, by_filter)) for row in rows]
            for position, (row, matched) in enumerate(found, 1):
                scanned += 1
                cursor = (row.started_at, row.id)
                if matched is not None:
                    entries.append(_entry(row, matched, approvals))
                if len(entries) == limit:
                    more = len(rows) == chunk or any(m for _, m in found[position:])
                    return {"entries": entries, "next": _cursor_text(cursor) if more else None}
            if len(rows) < chunk:
                return {"entries": entries, "next": None}
            if scanned >= MAX_SCANNED and cursor is not None:
                return {"entries": entries, "next": _cursor_text(cursor)}


def _visible(access: Access, collection: str) -> sa.ColumnElement[bool]:
    if access.is_admin:
        return sa.true()
    caller = access.caller
    reviewable = [p.action for p in access.snapshot.policies.values()
                  if p.role == caller.role and p.can_approve
                  and (p.collection or NO_COLLECTION) == collection]
    mine = _t.caller_id == caller.id
    if not reviewable:
        return mine
    return sa.or_(mine, sa.and_(_t.status == "approval_requested",
                                _t.action_slug.in_(reviewable)))


async def _candidates(
    conn: AsyncConnection, collection: str, key: str, cursor: tuple[dt.datetime, str] | None,
    visible: sa.ColumnElement[bool], limit: int,
) -> list[Row]:
    """The newest ``limit`` runs of the collection that may include the record: three
    indexed reads (named alone, named among others, select-all or frozen) in one statement."""
    after: list[sa.ColumnElement[bool]] = []
    if cursor is not None:
        at, run_id = cursor
        after.append(sa.or_(_t.started_at < at, sa.and_(_t.started_at == at, _t.id < run_id)))
    listed = sa.select(_rr.run_id).where(_rr.collection == collection, _rr.record_key == key)
    # Each condition alone, so each read takes its own index (record_key is only ever set
    # for a run that named one id; run_records, already of this collection, gives run ids
    # read by primary key).
    wheres = [sa.and_(_t.collection == collection, _t.record_key == key), _t.id.in_(listed),
              sa.and_(_t.collection == collection, _t.selection_kind.in_((ALL, FROZEN)))]
    parts = [sa.select(*_COLUMNS).where(where, visible, *after)
             .order_by(_t.started_at.desc(), _t.id.desc()).limit(limit).subquery()
             for where in wheres]
    union = sa.union_all(*(sa.select(part) for part in parts)).subquery()
    query = sa.select(union).order_by(union.c.started_at.desc(), union.c.id.desc()).limit(limit)
    return list((await conn.execute(query)).all())


def _approval_id(row: Row) -> str | None:
    """The approval request a run asked for (its answer) or executed (its selection)."""
    for holder in (row.selection, row.result):
        approval = holder.get("approval") if isinstance(holder, Mapping) else None
        if isinstance(approval, Mapping) and isinstance(approval.get("id"), str):
            return str(approval["id"])
    return None


async def _frozen_matches(conn: AsyncConnection, rows: Sequence[Row], record_id: str
                          ) -> set[str]:
    """Of the approval requests behind ``rows``, those whose frozen ids hold the record."""
    ids = {a for r in rows if (a := _approval_id(r)) is not None}
    if not ids:
        return set()
    found = await conn.scalars(sa.select(_ar.approval_id).distinct().where(
        _ar.approval_id.in_(sorted(ids)), _ar.record_id == record_id))
    return set(found.all())


async def _approvals(conn: AsyncConnection, rows: Sequence[Row]) -> dict[str, dict[str, Any]]:
    """The current state of the approval requests behind ``rows``."""
    ids = {a for r in rows if (a := _approval_id(r)) is not None}
    if not ids:
        return {}
    found = await conn.execute(sa.select(_a.id, _a.status, _a.decided_at, _a.reason)
                               .where(_a.id.in_(sorted(ids))))
    return {r.id: {"id": r.id, "status": r.status, "reason": r.reason,
                   "decided_at": r.decided_at.isoformat() if r.decided_at else None}
            for r in found}


def _matched(row: Row, key: str, frozen: set[str], by_filter: set[str]) -> str | None:
    """How the run includes the record ("ids", "frozen", "filter"), or None if it does not."""
    approval = _approval_id(row)
    if row.selection_kind in (ONE, IDS):
        ids = row.selection.get("ids") if isinstance(row.selection, Mapping) else None
        named = isinstance(ids, list) and any(record_key(str(i)) == key for i in ids)
        return "ids" if named else None
    if approval is not None:
        return "frozen" if approval in frozen else None
    return "filter" if row.id in by_filter else None


def _entry(row: Row, matched: str, approvals: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    approval_id = _approval_id(row)
    caller = row.caller if isinstance(row.caller, Mapping) else {}
    return {
        "kind": "approval_request" if row.status == "approval_requested" else "run",
        "run_id": row.id,
        "action": {"slug": row.action_slug, "name": row.action_name},
        "caller": {"id": row.caller_id, "email": row.caller_email,
                   "approved_by": caller.get("approvedBy")},
        "status": row.status,
        "status_code": row.status_code,
        "message": row.message,
        "record_count": row.record_count,
        "select_all": row.selection_kind == ALL,
        "matched": matched,
        "background": row.runner is not None,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "approval": approvals.get(approval_id) if approval_id else None,
    }


def _cursor_text(cursor: tuple[dt.datetime, str]) -> str:
    return f"{cursor[0].isoformat()}~{cursor[1]}"


def _parse_cursor(text: str | None) -> tuple[dt.datetime, str] | None:
    if not text:
        return None
    at, _, run_id = text.partition("~")
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or len(run_id) != 32 or not run_id.isalnum():
        raise BadRequestError("before is not a cursor this API gave",
                              fields={"before": "use the next value of the previous page"})
    return when.astimezone(dt.UTC), run_id
