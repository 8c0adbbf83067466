"""Every statement of the approval workflow on the state database: the approvals tables
(requests, their frozen record ids, their events) and the two reads of the runs table its
crash recovery needs. The workflow decides; this module reads and writes.

A request expires lazily: ``fetch`` and ``locked`` expire a pending request whose time is up
before they return it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.caller import Caller
from actiondesk.actions.selection import Selection
from actiondesk.approvals.model import (
    NO_COLLECTION,
    ApprovalRecord,
    Decided,
    EventKind,
    HistoryFilters,
    check_filters,
    paging,
)
from actiondesk.data.record_ids import encode_id
from actiondesk.data.state import StateStore, runs_table, utcnow
from actiondesk.data.state_schema.approvals import (
    approval_events_table,
    approval_records_table,
    approvals_table,
)
from actiondesk.errors import NotFoundError

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access

_SYSTEM = ""  # the actor of what nobody did by hand (expiry, execution)
_DUE_AT_ONCE = 200  # requests expired or recovered per call

_a = approvals_table.c
_e = approval_events_table.c
_r = approval_records_table.c
_t = runs_table.c
_SHOWN = [c for c in approvals_table.c if c.name != "values"]
_DECIDING = ("approved", "rejected", "cancelled", "expired")

Where = Sequence[sa.ColumnElement[bool]]
AnyRow = sa.Row[*tuple[Any, ...]]


class ApprovalStore:
    """The approvals tables of one state database."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction (the statements taking ``conn`` run inside one)."""
        return self.store.write()

    # -- writing ------------------------------------------------------------------------------

    async def insert(
        self, conn: AsyncConnection, row: Mapping[str, Any], selection: Selection | None
    ) -> int | None:
        """Insert a request and, with a selection, its record ids (batch by batch, never
        all in memory); return how many ids, None without a selection."""
        await conn.execute(sa.insert(approvals_table).values(dict(row)))
        if selection is None:
            return None
        collection = selection.collection
        count = 0
        async for batch in selection.batches():
            rows = [
                {"approval_id": row["id"], "seq": count + i,
                 "record_id": encode_id(collection, [r[n] for n in collection.primary_key])}
                for i, r in enumerate(batch)
            ]
            await conn.execute(sa.insert(approval_records_table), rows)
            count += len(rows)
        await conn.execute(sa.update(approvals_table).where(_a.id == row["id"])
                           .values(record_count=count))
        return count

    async def event(
        self, conn: AsyncConnection, approval_id: str, actor: Caller | None, kind: EventKind,
        message: str | None,
    ) -> None:
        await conn.execute(sa.insert(approval_events_table).values(
            approval_id=approval_id, at=utcnow(), actor_id=actor.id if actor else _SYSTEM,
            actor_email=actor.email if actor else _SYSTEM, kind=kind, message=message,
        ))

    async def has_approved(self, conn: AsyncConnection, approval_id: str, actor_id: str) -> bool:
        return bool(await conn.scalar(sa.select(sa.func.count()).select_from(
            approval_events_table).where(_e.approval_id == approval_id,
                                         _e.kind == "approved", _e.actor_id == actor_id)))

    async def approvals_given(self, conn: AsyncConnection, approval_id: str) -> int:
        """How many distinct people approved the request."""
        return int(await conn.scalar(
            sa.select(sa.func.count(sa.distinct(_e.actor_id))).where(
                _e.approval_id == approval_id, _e.kind == "approved")
        ) or 0)

    async def claim(self, conn: AsyncConnection, approval_id: str) -> bool:
        """Move a pending request to ``executing``: the one statement that decides who
        executes; True for the one caller whose update changed the row."""
        done = await conn.execute(
            sa.update(approvals_table)
            .where(_a.id == approval_id, _a.status == "pending")
            .values(status="executing", decided_at=utcnow())
        )
        return bool(done.rowcount == 1)

    async def close(
        self, conn: AsyncConnection, approval_id: str, caller: Caller,
        status: Literal["rejected", "cancelled"], message: str | None,
    ) -> bool:
        """Reject or cancel a pending request; False if it is no longer pending."""
        done = await conn.execute(
            sa.update(approvals_table)
            .where(_a.id == approval_id, _a.status == "pending")
            .values(status=status, decided_at=utcnow(), reason=message)
        )
        if done.rowcount != 1:
            return False
        await self.event(conn, approval_id, caller, status, message)
        return True

    async def attach_run(self, approval_id: str, run_id: str) -> None:
        """Record the run (queued or resumed) that executes the request."""
        async with self.store.write() as conn:
            await conn.execute(sa.update(approvals_table)
                               .where(_a.id == approval_id, _a.status == "executing")
                               .values(run_id=run_id))

    async def attach_inline(self, approval_id: str, run_id: str) -> bool:
        """Attach the inline run (leased to this process by the runs audit) to the request
        before the handler starts; False if the request is no longer waiting for it (a
        recovery sweep failed it)."""
        async with self.store.write() as conn:
            done = await conn.execute(
                sa.update(approvals_table)
                .where(_a.id == approval_id, _a.status == "executing", _a.run_id.is_(None))
                .values(run_id=run_id))
        return bool(done.rowcount == 1)

    async def finish(
        self, approval_id: str, status: Literal["executed", "failed"], *, reason: str | None,
        run_id: str | None = None, **result: Any,
    ) -> bool:
        """End an executing request; False (and nothing done) if it is not executing any
        more."""
        async with self.store.write() as conn:
            done = await conn.execute(
                sa.update(approvals_table)
                .where(_a.id == approval_id, _a.status == "executing")
                .values(status=status, reason=reason, run_id=run_id, **result)
            )
            if done.rowcount == 1:
                await self.event(conn, approval_id, None, status, reason)
        return bool(done.rowcount == 1)

    async def expire(self, approval_id: str) -> None:
        async with self.store.write() as conn:
            await self._expire_in(conn, approval_id)

    async def expire_due(self) -> None:
        """Expire the pending requests whose time is up (a bounded number per call)."""
        async with self.store.engine.connect() as conn:
            due = (await conn.scalars(
                sa.select(_a.id).where(_a.status == "pending", _a.expires_at <= utcnow())
                .limit(_DUE_AT_ONCE))).all()
        for approval_id in due:
            await self.expire(approval_id)

    async def _expire_in(self, conn: AsyncConnection, approval_id: str) -> None:
        now = utcnow()
        done = await conn.execute(
            sa.update(approvals_table)
            .where(_a.id == approval_id, _a.status == "pending", _a.expires_at <= now)
            .values(status="expired", decided_at=now, reason="expired before it was decided")
        )
        if done.rowcount == 1:
            await self.event(conn, approval_id, None, "expired", None)

    # -- reading one request ------------------------------------------------------------------

    async def fetch(self, approval_id: str) -> ApprovalRecord:
        """The request (expired first if its time is up); NotFoundError if there is none."""
        if len(approval_id) != 32 or not approval_id.isalnum() or not approval_id.isascii():
            raise NotFoundError(f"no approval request {approval_id!r}")
        for _ in range(2):
            async with self.store.engine.connect() as conn:
                row = (await conn.execute(sa.select(*_SHOWN).where(_a.id == approval_id))
                       ).first()
                if row is None:
                    raise NotFoundError(f"no approval request {approval_id!r}")
                record = (await _with_people(conn, [row]))[0]
            if record.status != "pending" or record.expires_at > utcnow():
                return record
            await self.expire(approval_id)
        return record

    async def locked(self, conn: AsyncConnection, approval_id: str) -> ApprovalRecord:
        """The request, its row locked for this transaction (SQLite: the write lock is held
        already), expired first if its time is up."""
        row = (await conn.execute(
            sa.select(*_SHOWN).where(_a.id == approval_id).with_for_update())).first()
        if row is None:
            raise NotFoundError(f"no approval request {approval_id!r}")
        record = _record(row._mapping, [])
        if record.status == "pending" and record.expires_at <= utcnow():
            await self._expire_in(conn, approval_id)
            return _record({**row._mapping, "status": "expired"}, [])
        return record

    async def frozen_values(self, approval_id: str) -> dict[str, Any]:
        """The typed form values frozen with the request (as stored)."""
        async with self.store.engine.connect() as conn:
            values = await conn.scalar(sa.select(_a["values"]).where(_a.id == approval_id))
        return dict(values or {})

    async def approvers(self, approval_id: str) -> list[dict[str, str]]:
        async with self.store.engine.connect() as conn:
            return (await _approvers_of(conn, [approval_id])).get(approval_id, [])

    async def events(self, approval_id: str) -> list[dict[str, Any]]:
        """The request's timeline, oldest first."""
        async with self.store.engine.connect() as conn:
            events = (await conn.execute(
                sa.select(_e.at, _e.actor_id, _e.actor_email, _e.kind, _e.message)
                .where(_e.approval_id == approval_id).order_by(_e.at, _e.id)
            )).all()
        return [
            {"at": e.at.isoformat(), "actor": {"id": e.actor_id, "email": e.actor_email}
             if e.actor_id else None, "kind": e.kind, "message": e.message}
            for e in events
        ]

    async def record_ids(self, approval_id: str, start: int, count: int) -> list[str]:
        """Frozen record ids from position ``start``, in the order they were selected."""
        async with self.store.engine.connect() as conn:
            ids = (await conn.scalars(
                sa.select(_r.record_id)
                .where(_r.approval_id == approval_id, _r.seq >= start, _r.seq < start + count)
                .order_by(_r.seq)
            )).all()
        return list(ids)

    # -- reading lists ------------------------------------------------------------------------

    def requested_by(self, access: Access) -> Where:
        return [_a.requester_id == access.caller.id]

    def reviewable(self, access: Access) -> Where | None:
        """Pending requests the caller may approve and has not approved yet; None when the
        caller may approve nothing."""
        caller = access.caller
        mine = [p for p in access.snapshot.policies.values()
                if p.role == caller.role and p.can_approve]
        if not mine:
            return None
        actions = [
            sa.and_(_a.collection == (p.collection or NO_COLLECTION), _a.action_slug == p.action,
                    *(() if p.self_approval else (_a.requester_id != caller.id,)))
            for p in mine
        ]
        approved = sa.exists().where(_e.approval_id == _a.id, _e.kind == "approved",
                                     _e.actor_id == caller.id)
        return [sa.and_(_a.status == "pending", _a.expires_at > utcnow(), sa.or_(*actions),
                        sa.not_(approved))]

    def history(self, access: Access, filters: HistoryFilters) -> Where:
        """Decided requests the caller may see, filtered (BadRequestError for a filter that
        can match nothing by mistake)."""
        check_filters(filters)
        where: list[sa.ColumnElement[bool]] = [_a.status != "pending"]
        if not access.is_admin:
            caller = access.caller
            mine: list[sa.ColumnElement[bool]] = [_a.requester_id == caller.id]
            mine.extend(
                sa.and_(_a.collection == (p.collection or NO_COLLECTION),
                        _a.action_slug == p.action)
                for p in access.snapshot.policies.values()
                if p.role == caller.role and p.can_approve
            )
            where.append(sa.or_(*mine))
        if filters.action is not None:
            where.append(_a.action_slug == filters.action)
        if filters.requester is not None:
            where.append(sa.or_(_a.requester_id == filters.requester,
                                _a.requester_email == filters.requester))
        if filters.reviewer is not None:
            where.append(sa.exists().where(
                _e.approval_id == _a.id, _e.kind.in_(("approved", "rejected")),
                sa.or_(_e.actor_id == filters.reviewer, _e.actor_email == filters.reviewer)))
        if filters.status is not None:
            where.append(_a.status == filters.status)
        if filters.since is not None:
            where.append(_a.created_at >= filters.since)
        if filters.until is not None:
            where.append(_a.created_at < filters.until)
        return where

    async def page(
        self, where: Where, page: int, page_size: int
    ) -> tuple[list[ApprovalRecord], int]:
        """One page of the requests matching ``where``, newest first, and how many match."""
        page, page_size = paging(page, page_size)
        query = (sa.select(*_SHOWN).where(*where).order_by(_a.created_at.desc(), _a.id.desc())
                 .limit(page_size).offset((page - 1) * page_size))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            found = await _with_people(conn, rows)
            count = await _count(conn, where)
        return found, count

    async def count(self, where: Where) -> int:
        async with self.store.engine.connect() as conn:
            return await _count(conn, where)

    async def oldest_after(
        self, where: Where, after: ApprovalRecord | None, limit: int
    ) -> list[ApprovalRecord]:
        """Up to ``limit`` requests matching ``where`` after ``after``, oldest first (to read
        them all page by page, however many come in meanwhile)."""
        query = sa.select(*_SHOWN).where(*where).order_by(_a.created_at, _a.id)
        if after is not None:
            query = query.where(sa.or_(
                _a.created_at > after.created_at,
                sa.and_(_a.created_at == after.created_at, _a.id > after.id)))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
            return await _with_people(conn, rows)

    # -- what crash recovery reads ------------------------------------------------------------

    async def executing(self) -> Sequence[AnyRow]:
        """The requests left ``executing``, oldest decision first (a bounded number)."""
        async with self.store.engine.connect() as conn:
            return (await conn.execute(
                sa.select(_a.id, _a.run_id, _a.decided_at, _a.action_slug, _a.collection,
                          _a.requester_id)
                .where(_a.status == "executing").order_by(_a.decided_at, _a.id)
                .limit(_DUE_AT_ONCE)
            )).all()

    async def run_lease(self, run_id: str) -> AnyRow | None:
        """A run's status, runner and lease; None if there is no such run."""
        async with self.store.engine.connect() as conn:
            return (await conn.execute(
                sa.select(_t.status, _t.runner, _t.lease_expires_at).where(_t.id == run_id)
            )).first()

    async def runs_begun_for(self, row: Any) -> Sequence[AnyRow]:
        """Runs of the request's action and requester begun since its decision (at most a
        hundred, oldest first), with their selection."""
        async with self.store.engine.connect() as conn:
            return (await conn.execute(
                sa.select(_t.id, _t.selection)
                .where(_t.action_slug == row.action_slug, _t.collection == row.collection,
                       _t.caller_id == row.requester_id,
                       _t.started_at >= row.decided_at - dt.timedelta(minutes=5))
                .order_by(_t.started_at).limit(100)
            )).all()


async def _count(conn: AsyncConnection, where: Where) -> int:
    return int(await conn.scalar(
        sa.select(sa.func.count()).select_from(approvals_table).where(*where)) or 0)


async def _with_people(
    conn: AsyncConnection, rows: Sequence[sa.Row[Any]]
) -> list[ApprovalRecord]:
    """Records of ``rows`` with their approvers and decision."""
    ids = [row.id for row in rows]
    approvers = await _approvers_of(conn, ids)
    decisions = await _decisions_of(conn, ids)
    return [_record(r._mapping, approvers.get(r.id, []), decisions.get(r.id)) for r in rows]


async def _approvers_of(
    conn: AsyncConnection, ids: Sequence[str]
) -> dict[str, list[dict[str, str]]]:
    if not ids:
        return {}
    rows = (await conn.execute(
        sa.select(_e.approval_id, _e.actor_id, _e.actor_email)
        .where(_e.approval_id.in_(list(ids)), _e.kind == "approved").order_by(_e.at, _e.id)
    )).all()
    found: dict[str, list[dict[str, str]]] = {}
    for approval_id, actor_id, actor_email in rows:
        found.setdefault(approval_id, []).append({"id": actor_id, "email": actor_email})
    return found


async def _decisions_of(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Decided]:
    """The last deciding event of each request (see ``Decided``)."""
    if not ids:
        return {}
    rows = (await conn.execute(
        sa.select(_e.approval_id, _e.actor_id, _e.actor_email, _e.kind, _e.at, _e.message)
        .where(_e.approval_id.in_(list(ids)), _e.kind.in_(_DECIDING)).order_by(_e.at, _e.id)
    )).all()
    return {row.approval_id: Decided(
        kind=row.kind, at=row.at, message=row.message,
        by={"id": row.actor_id, "email": row.actor_email} if row.actor_id else None,
    ) for row in rows}


def _record(
    m: Mapping[Any, Any], approvers: list[dict[str, str]], decision: Decided | None = None
) -> ApprovalRecord:
    return ApprovalRecord(
        id=m["id"], action_slug=m["action_slug"], action_name=m["action_name"],
        collection=m["collection"] or None, scope=m["scope"], requester=m["requester"] or {},
        requester_id=m["requester_id"], requester_email=m["requester_email"],
        values=m["values_display"] or {}, parent=m["parent"], selection=m["selection"] or {},
        record_count=m["record_count"], status=m["status"],
        approvals_required=m["approvals_required"], created_at=m["created_at"],
        expires_at=m["expires_at"], decided_at=m["decided_at"], run_id=m["run_id"],
        result=m["result"], result_kind=m["result_kind"],
        result_status_code=m["result_status_code"], result_filename=m["result_filename"],
        result_mime=m["result_mime"], reason=m["reason"], approvers=approvers,
        decision=decision,
    )
