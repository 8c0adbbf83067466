"""The approval workflow: four eyes, exactly once, exactly what was asked.

When a caller's rule for an action is "trigger with approval", the execution pipeline hands
the validated request to ``ApprovalsService.request``, which freezes it: action, caller, typed
form values, parent context, and the selection resolved to concrete record ids (written in
batches, never held in memory as a whole). Roles allowed to approve the action decide; with
enough distinct approvals the request runs once, through the executor's audited path,
on exactly the frozen records and values, after the records' conditions are checked again.

Exactly once: the move from ``pending`` to ``executing`` is one conditional UPDATE
(``... WHERE id = :id AND status = 'pending'``) whose row count decides who executes, inside a
transaction that holds the request's row lock, so neither two approvers nor two server
processes can run it twice. Requests expire lazily: they become ``expired`` when read or
decided after their time.

Crash recovery (``recover_interrupted``, at start-up and periodically in every server): an
inline execution attaches its run to the request and leases it before the handler starts, and
renews the lease while the handler runs. A request left ``executing`` by a process that died
ends ``failed``, never runs again: "interrupted before it ran" when no run was attached (the
handler never started), "interrupted while it ran" when its run's lease expired (the handler
may have done part of its work). A request whose run finished is finished from that run.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.caller import Caller, ParentContext
from actiondesk.actions.forms import FormField, FormFieldType
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action
from actiondesk.background.service import BackgroundRuns
from actiondesk.catalog.conditions import enabled
from actiondesk.data.filters import Filter, Group
from actiondesk.data.record_ids import encode_id
from actiondesk.data.state import StateStore, runs_table, utcnow
from actiondesk.data.state_schema.approvals import (
    approval_events_table,
    approval_records_table,
    approvals_table,
)
from actiondesk.errors import (
    ActionFailedError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)
from actiondesk.permissions.service import Policy, describe_action
from actiondesk.runs.executor import Executor, Job, redact
from actiondesk.runs.frozen_values import FormChangedError, freeze_values, thaw_values
from actiondesk.runs.records import RunRecord
from actiondesk.runs.store import ABANDONED
from actiondesk.selections.frozen import FrozenSelection

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.permissions.access import Access
    from actiondesk.permissions.service import Decision

log = logging.getLogger("actiondesk.approvals")

ApprovalStatus = Literal[
    "pending", "executing", "executed", "failed", "rejected", "cancelled", "expired"
]
APPROVAL_STATUSES: tuple[str, ...] = get_args(ApprovalStatus)
EventKind = Literal["requested", "approved", "rejected", "cancelled", "expired", "executed",
                    "failed"]
DEFAULT_TTL = dt.timedelta(days=7)
NOT_STARTED = ("interrupted before it ran: the server stopped after the approval and before "
               "the action started; nothing was executed, request it again if still needed")
INTERRUPTED = ("interrupted while it ran: the server running the action stopped; it may have "
               "done part of its work, check the records before requesting it again")
MAX_PAGE_SIZE = 200
MAX_MESSAGE = 2000
RECORDS_PAGE_SIZE = 100
_EXPORT_PAGE = 500
_NO_COLLECTION = ""
_SYSTEM = ""  # the actor of what nobody did by hand (expiry, execution)

_a = approvals_table.c
_e = approval_events_table.c
_r = approval_records_table.c
_t = runs_table.c
_SHOWN = [c for c in approvals_table.c if c.name != "values"]
_DECIDING = ("approved", "rejected", "cancelled", "expired")
EXPORT_COLUMNS = ["id", "requested_at", "action", "collection", "requester", "record_count",
                  "values", "status", "approvals_required", "approvers", "decision",
                  "reviewer", "decided_at", "decision_message", "reason", "run_id"]


@dataclass(frozen=True)
class Decided:
    """What ended a request's review: the last approval (that made it run), the rejection,
    the cancellation or the expiry; ``by`` is None for an expiry."""

    kind: str
    by: dict[str, str] | None
    at: dt.datetime
    message: str | None


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval request as stored (the frozen typed values are not part of its JSON)."""

    id: str
    action_slug: str
    action_name: str
    collection: str | None
    scope: str
    requester: dict[str, Any]
    requester_id: str
    requester_email: str
    values: dict[str, Any]  # redacted, for display
    parent: dict[str, Any] | None
    selection: dict[str, Any]
    record_count: int | None
    status: str
    approvals_required: int
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None
    run_id: str | None
    result: Any
    result_kind: str | None
    result_status_code: int | None
    result_filename: str | None
    result_mime: str | None
    reason: str | None
    approvers: list[dict[str, str]] = field(default_factory=list)
    decision: Decided | None = None

    @property
    def decided(self) -> Decided | None:
        """The decision, once the request left ``pending``."""
        return None if self.status == "pending" else self.decision

    def summary_json(self) -> dict[str, Any]:
        """What the 202 of a request answers."""
        return {
            "id": self.id,
            "status": self.status,
            "action": {"slug": self.action_slug, "name": self.action_name,
                       "collection": self.collection, "scope": self.scope},
            "record_count": self.record_count,
            "values": self.values,
            "approvals_required": self.approvals_required,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary_json(),
            "requester": self.requester,
            "parent": self.parent,
            "selection": self.selection,
            "approvals": len(self.approvers),
            "approvers": self.approvers,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision": self.decided.kind if self.decided else None,
            "reviewer": self.decided.by if self.decided else None,
            "decision_message": self.decided.message if self.decided else None,
            "run_id": self.run_id,
            "result": self.result,
            "result_kind": self.result_kind,
            "result_status_code": self.result_status_code,
            "result_filename": self.result_filename,
            "result_mime": self.result_mime,
            "has_file": self.result_kind == "file" and self.run_id is not None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class HistoryFilters:
    """History filters: ``requester`` and ``reviewer`` match an id or an email exactly;
    ``since`` is inclusive and ``until`` exclusive (both on the request time)."""

    action: str | None = None
    requester: str | None = None
    reviewer: str | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class ApprovalsService:
    """Approval requests in the state database: request, decide, list, export."""

    def __init__(
        self,
        store: StateStore,
        datasource: Datasource,
        registry: ActionRegistry,
        executor: Executor,
        background: BackgroundRuns,
        *,
        ttl: dt.timedelta = DEFAULT_TTL,
    ) -> None:
        self.store = store
        self.datasource = datasource
        self.registry = registry
        self.executor = executor
        self.runs = executor.runs
        # Approved requests of background actions are queued there; it tells us their end.
        self.background = background
        background.when_run_ends(self._finish_from_run)
        background.on_sweep(self.recover_interrupted)
        self.ttl = ttl
        self._executing: set[str] = set()

    # -- requesting ---------------------------------------------------------------------------

    async def request(
        self,
        conn: AsyncConnection,
        action: Action,
        access: Access,
        decision: Decision,
        selection: Selection | None,
        values: Mapping[str, Any],
        parent: ParentContext | None,
    ) -> ApprovalRecord:
        """Freeze a validated request for review, in the caller's transaction of the state
        database (the run recording the request commits with it); nothing runs.
        ForbiddenError when no role may approve the action (it could never be decided)."""
        caller = access.caller
        approvers = access.snapshot.approvers(action.collection, action.slug)
        if not approvers:
            raise ForbiddenError(
                f"{action.name} needs approval for role {caller.role!r} ({decision.reason}), "
                f"but no role may approve {describe_action(action.collection, action.slug)}: "
                "an admin must give a role can_approve for it"
            )
        required = max([p.approvals_required for p in approvers]
                       + ([decision.policy.approvals_required] if decision.policy else []))
        approval_id = uuid.uuid4().hex
        now = utcnow()
        row = {
            "id": approval_id,
            "action_slug": action.slug,
            "action_name": action.name[:200],
            "collection": _NO_COLLECTION if action.collection is None else action.collection,
            "scope": action.scope.value,
            "requester": caller.to_json(),
            "requester_id": caller.id,
            "requester_email": caller.email,
            "values": freeze_values(values),
            "values_display": redact(action, values),
            "parent": None if parent is None else {
                "collection": parent.collection, "id": parent.id,
                "association": parent.association},
            "selection": dict(selection.description) if selection is not None else {},
            "record_count": None,
            "status": "pending",
            "approvals_required": required,
            "created_at": now,
            "expires_at": now + self.ttl,
        }
        await conn.execute(sa.insert(approvals_table).values(row))
        if selection is not None:
            count = await _store_ids(conn, approval_id, selection)
            if count == 0:
                raise BadRequestError("no record matches the selection any more")
            await conn.execute(sa.update(approvals_table).where(_a.id == approval_id)
                               .values(record_count=count))
        await _event(conn, approval_id, caller, "requested", _why(decision))
        return await self._locked(conn, approval_id)

    # -- deciding -----------------------------------------------------------------------------

    async def approve(
        self, approval_id: str, access: Access, message: str | None = None
    ) -> ApprovalRecord:
        """Approve; with enough distinct approvals, execute (exactly once) and return the
        request with its result."""
        message = _message(message)
        approval = await self._fetch(approval_id)
        self._require_decider(access, approval)
        _require_pending(approval)
        caller = access.caller
        conflict: ApprovalRecord | None = None
        repeated = claimed = False
        async with self.store.write() as conn:
            current = await self._locked(conn, approval_id)
            if current.status != "pending":
                conflict = current
            elif await conn.scalar(sa.select(sa.func.count()).select_from(
                approval_events_table).where(_e.approval_id == approval_id,
                                             _e.kind == "approved", _e.actor_id == caller.id)):
                repeated = True
            else:
                await _event(conn, approval_id, caller, "approved", message)
                given = int(await conn.scalar(
                    sa.select(sa.func.count(sa.distinct(_e.actor_id))).where(
                        _e.approval_id == approval_id, _e.kind == "approved")
                ) or 0)
                if given >= current.approvals_required:
                    # The one statement that decides who executes.
                    done = await conn.execute(
                        sa.update(approvals_table)
                        .where(_a.id == approval_id, _a.status == "pending")
                        .values(status="executing", decided_at=utcnow())
                    )
                    claimed = done.rowcount == 1
        if conflict is not None:
            raise _conflict(conflict)
        if repeated:
            raise ConflictError(
                f"{caller.email} has already approved this request; it waits for another "
                "approver",
                detail={"status": "pending", "approval": approval.to_json()},
            )
        if not claimed:
            return await self._fetch(approval_id)
        return await self._execute(approval_id, access)

    async def reject(
        self, approval_id: str, access: Access, message: str | None = None
    ) -> ApprovalRecord:
        message = _message(message)
        approval = await self._fetch(approval_id)
        self._require_decider(access, approval)
        _require_pending(approval)
        return await self._close(approval_id, access.caller, "rejected", message)

    async def cancel(
        self, approval_id: str, access: Access, message: str | None = None
    ) -> ApprovalRecord:
        """The requester withdraws a pending request."""
        message = _message(message)
        approval = await self._fetch(approval_id)
        if approval.requester_id != access.caller.id:
            raise ForbiddenError(
                f"only the requester ({approval.requester_email}) may cancel this request"
            )
        _require_pending(approval)
        return await self._close(approval_id, access.caller, "cancelled", message)

    async def _close(
        self, approval_id: str, caller: Caller, status: Literal["rejected", "cancelled"],
        message: str | None,
    ) -> ApprovalRecord:
        conflict: ApprovalRecord | None = None
        async with self.store.write() as conn:
            current = await self._locked(conn, approval_id)
            done = await conn.execute(
                sa.update(approvals_table)
                .where(_a.id == approval_id, _a.status == "pending")
                .values(status=status, decided_at=utcnow(), reason=message)
            )
            if done.rowcount == 1:
                await _event(conn, approval_id, caller, status, message)
            else:
                conflict = current
        if conflict is not None:
            raise _conflict(conflict)
        return await self._fetch(approval_id)

    def _approver_policy(self, access: Access, approval: ApprovalRecord) -> Policy | None:
        policy = access.snapshot.policies.get(
            (access.caller.role, approval.collection, approval.action_slug)
        )
        return policy if policy is not None and policy.can_approve else None

    def _require_decider(self, access: Access, approval: ApprovalRecord) -> Policy:
        caller = access.caller
        where = describe_action(approval.collection, approval.action_slug)
        policy = self._approver_policy(access, approval)
        if policy is None:
            raise ForbiddenError(
                f"role {caller.role!r} may not approve {where} (its policy has no can_approve)"
            )
        if approval.requester_id == caller.id and not policy.self_approval:
            raise ForbiddenError(
                f"{caller.email} requested this and may not approve it too: the policy of role "
                f"{caller.role!r} for {where} does not allow self-approval"
            )
        return policy

    # -- executing ----------------------------------------------------------------------------

    async def _execute(self, approval_id: str, access: Access) -> ApprovalRecord:
        """Run a request this process claimed (status ``executing``)."""
        approval = await self._fetch(approval_id)
        self._executing.add(approval_id)
        try:
            return await self._run(approval, access)
        except Exception as exc:
            # Never leave a claimed request executing because of an unexpected error.
            log.exception("approval %s could not be executed", approval_id)
            return await self._finish(approval_id, "failed",
                                      reason=f"could not be executed: {type(exc).__name__}")
        finally:
            self._executing.discard(approval_id)

    async def _run(self, approval: ApprovalRecord, access: Access) -> ApprovalRecord:
        try:
            action = self.registry.get(approval.collection, approval.action_slug)
        except NotFoundError:
            return await self._stale(approval, "the action no longer exists")
        if not access.snapshot.setting(action.collection, action.slug).visible:
            return await self._stale(approval, "the action is switched off in the settings")
        try:
            values = thaw_values(action, await self._frozen_values(approval.id))
        except FormChangedError as exc:
            return await self._stale(approval, str(exc))
        selection: FrozenSelection | None = None
        if approval.record_count is not None and action.collection is not None:
            collection = self.datasource.collection(action.collection)
            description = {**approval.selection, "approval_id": approval.id}
            selection = await FrozenSelection(
                self.datasource, collection, self.store, approval.id, approval.record_count,
                description=description,
            ).load()
            present = await selection.count_matching(sa.true())
            if present < approval.record_count:
                return await self._stale(
                    approval, f"{approval.record_count - present} of the "
                    f"{approval.record_count} records no longer exist")
            state = await enabled(action, selection, approval.record_count,
                                  access.extra_condition(action))
            if not state.enabled:
                return await self._stale(approval, state.reason or "a condition does not hold")
        approvers = await self._approvers(approval.id)
        caller = {**approval.requester, "approvedBy": approvers}
        described = {**approval.selection, "approval": {"id": approval.id,
                                                        "approvedBy": approvers}}
        if action.runs_in_background(approval.record_count):
            # Queued like any background run; the runner finishes the request (finish_run).
            queued = await self.background.enqueue(action, caller, described, values,
                                                   approval.values, approval.record_count)
            return await self._attach_run(approval.id, str(queued))
        begun = await self.executor.begin(
            action, caller=caller, selection=described, values=approval.values,
            record_count=approval.record_count,
        )
        assert isinstance(begun, str)  # noqa: S101 - no idempotency key, always a new run
        if not await self._attach(approval.id, begun):
            # A sweep gave this request up as interrupted meanwhile: it must not run now.
            await self.runs.finish(begun, status="failed", status_code=409, result_kind=None,
                                   message=NOT_STARTED)
            return await self._fetch(approval.id)
        parent = ParentContext(**approval.parent) if approval.parent else None
        job = Job(action, Caller.from_json(approval.requester), selection, values, parent)
        try:
            outcome = await self.executor.run(begun, job, keep_file=True)
        except ActionFailedError as exc:
            return await self._finish(approval.id, "failed", run_id=begun, reason=exc.message)
        rendered = outcome.rendered
        ok = rendered.status < 400
        file = rendered.file
        return await self._finish(
            approval.id, "executed" if ok else "failed", run_id=begun,
            reason=None if ok else (rendered.message or "the action answered with an error"),
            result=rendered.body, result_kind=rendered.kind, result_status_code=rendered.status,
            result_filename=rendered.message if file is not None else None,
            result_mime=file.mime if file is not None else None,
        )

    async def _attach_run(self, approval_id: str, run_id: str) -> ApprovalRecord:
        async with self.store.write() as conn:
            await conn.execute(sa.update(approvals_table)
                               .where(_a.id == approval_id, _a.status == "executing")
                               .values(run_id=run_id))
        return await self._fetch(approval_id)

    async def _finish_from_run(self, run: RunRecord) -> None:
        """Record the end of the background run an approved request queued."""
        approval = run.selection.get("approval")
        if isinstance(approval, Mapping):
            await self.finish_run(str(approval.get("id")), run)

    async def finish_run(self, approval_id: str, run: RunRecord) -> None:
        """Finish the request from the run it executed."""
        ok = run.status == "succeeded"
        reason = None if ok else (run.message or f"the run ended {run.status}")
        await self._finish(
            approval_id, "executed" if ok else "failed", run_id=run.id, reason=reason,
            result=run.result, result_kind=run.result_kind, result_status_code=run.status_code,
            result_filename=run.result_filename, result_mime=run.result_mime,
        )

    # -- crash recovery -----------------------------------------------------------------------

    def _lease(self) -> dt.timedelta:
        return self.background.config.lease

    async def _attach(self, approval_id: str, run_id: str) -> bool:
        """Attach the inline run (leased to this process by the runs audit) to the request
        before the handler starts; False if the request is no longer waiting for it (a
        recovery sweep failed it)."""
        async with self.store.write() as conn:
            done = await conn.execute(
                sa.update(approvals_table)
                .where(_a.id == approval_id, _a.status == "executing", _a.run_id.is_(None))
                .values(run_id=run_id))
        return bool(done.rowcount == 1)

    async def recover_interrupted(self) -> list[str]:
        """Finish the requests left ``executing`` by a process that stopped (a bounded number
        per call); return their ids. Never runs an action: a request whose handler may have
        started is ``failed`` as interrupted, so it cannot run twice."""
        now = utcnow()
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(_a.id, _a.run_id, _a.decided_at, _a.action_slug, _a.collection,
                          _a.requester_id)
                .where(_a.status == "executing").order_by(_a.decided_at, _a.id).limit(200)
            )).all()
        recovered = []
        for row in rows:
            if row.id in self._executing:
                continue
            run_id = row.run_id or await self._unattached_run(row)
            if run_id is None:
                # The grace lets a live process that just claimed the request begin its run.
                if row.decided_at is None or row.decided_at + self._lease() < now:
                    await self._finish(row.id, "failed", reason=NOT_STARTED)
                    recovered.append(row.id)
                continue
            if await self._recover_run(row.id, run_id, attached=row.run_id is not None):
                recovered.append(row.id)
        return recovered

    async def _recover_run(self, approval_id: str, run_id: str, *, attached: bool) -> bool:
        async with self.store.engine.connect() as conn:
            run = (await conn.execute(
                sa.select(_t.status, _t.runner, _t.lease_expires_at).where(_t.id == run_id)
            )).first()
        if run is None:
            await self._finish(approval_id, "failed", reason=INTERRUPTED)
            return True
        if run.status in ("queued", "running"):
            if run.runner is not None:
                if not attached:
                    await self._attach_run(approval_id, run_id)
                return False  # its runner resumes it and finishes the request
            if not attached:
                # Begun but never attached: the handler did not start (it starts after).
                with contextlib.suppress(ValueError):
                    await self.runs.finish(run_id, status="failed", status_code=409,
                                           result_kind=None, message=NOT_STARTED)
                await self._finish(approval_id, "failed", run_id=run_id, reason=NOT_STARTED)
                return True
            if run.lease_expires_at is None or run.lease_expires_at >= utcnow():
                return False  # its process still renews the lease
            with contextlib.suppress(ValueError):
                await self.runs.finish(run_id, status="failed", status_code=500,
                                       result_kind=None, message=INTERRUPTED)
        finished = await self.runs.get(run_id)
        if finished.status == "failed" and (finished.message == INTERRUPTED
                                             or finished.result_kind == ABANDONED):
            await self._finish(approval_id, "failed", run_id=run_id, reason=INTERRUPTED)
        else:
            await self.finish_run(approval_id, finished)
        return True

    async def _unattached_run(self, row: Any) -> str | None:
        """The run a request began or queued before its process stopped, if any (the run's
        selection names the request)."""
        if row.decided_at is None:
            return None
        async with self.store.engine.connect() as conn:
            candidates = (await conn.execute(
                sa.select(_t.id, _t.selection)
                .where(_t.action_slug == row.action_slug, _t.collection == row.collection,
                       _t.caller_id == row.requester_id,
                       _t.started_at >= row.decided_at - dt.timedelta(minutes=5))
                .order_by(_t.started_at).limit(100)
            )).all()
        for candidate in candidates:
            approval = (candidate.selection or {}).get("approval")
            if isinstance(approval, Mapping) and approval.get("id") == row.id:
                return str(candidate.id)
        return None

    async def _stale(self, approval: ApprovalRecord, why: str) -> ApprovalRecord:
        return await self._finish(approval.id, "failed", reason=f"no longer applicable: {why}")

    async def _finish(
        self, approval_id: str, status: Literal["executed", "failed"], *, reason: str | None,
        run_id: str | None = None, **result: Any,
    ) -> ApprovalRecord:
        async with self.store.write() as conn:
            done = await conn.execute(
                sa.update(approvals_table)
                .where(_a.id == approval_id, _a.status == "executing")
                .values(status=status, reason=reason, run_id=run_id, **result)
            )
            if done.rowcount == 1:
                await _event(conn, approval_id, None, status, reason)
        return await self._fetch(approval_id)

    # -- reading ------------------------------------------------------------------------------

    async def get(self, approval_id: str, access: Access) -> dict[str, Any]:
        """A request with its timeline, the first page of its records, and what the caller
        may do with it."""
        approval = await self._fetch(approval_id)
        self._require_visible(access, approval)
        async with self.store.engine.connect() as conn:
            events = (await conn.execute(
                sa.select(_e.at, _e.actor_id, _e.actor_email, _e.kind, _e.message)
                .where(_e.approval_id == approval_id).order_by(_e.at, _e.id)
            )).all()
        body = approval.to_json()
        body["timeline"] = [
            {"at": e.at.isoformat(), "actor": {"id": e.actor_id, "email": e.actor_email}
             if e.actor_id else None, "kind": e.kind, "message": e.message}
            for e in events
        ]
        body["records"] = await self.records(approval_id, access, 1, RECORDS_PAGE_SIZE)
        policy = self._approver_policy(access, approval)
        mine = approval.requester_id == access.caller.id
        body["can_decide"] = (
            approval.status == "pending" and policy is not None
            and (not mine or policy.self_approval)
            and access.caller.id not in {a["id"] for a in approval.approvers}
        )
        body["can_cancel"] = approval.status == "pending" and mine
        return body

    async def records(
        self, approval_id: str, access: Access, page: int = 1,
        page_size: int = RECORDS_PAGE_SIZE,
    ) -> dict[str, Any]:
        """One page of the frozen record ids, in the order they were selected."""
        approval = await self._fetch(approval_id)
        self._require_visible(access, approval)
        page, page_size = _paging(page, page_size)
        start = (page - 1) * page_size
        async with self.store.engine.connect() as conn:
            ids = (await conn.scalars(
                sa.select(_r.record_id)
                .where(_r.approval_id == approval_id, _r.seq >= start,
                       _r.seq < start + page_size)
                .order_by(_r.seq)
            )).all()
        return {"ids": list(ids), "count": approval.record_count or 0, "page": page,
                "page_size": page_size}

    async def file(self, approval_id: str, access: Access) -> tuple[bytes, str, str] | None:
        """The file the executed request returned (kept with its run)."""
        approval = await self._fetch(approval_id)
        self._require_visible(access, approval)
        if approval.run_id is None:
            return None
        return await self.runs.get_file(approval.run_id)

    async def requested(
        self, access: Access, page: int = 1, page_size: int = 50
    ) -> tuple[list[ApprovalRecord], int]:
        """The caller's own requests, newest first."""
        await self._expire_due()
        return await self._page([_a.requester_id == access.caller.id], page, page_size)

    async def to_review(
        self, access: Access, page: int = 1, page_size: int = 50
    ) -> tuple[list[ApprovalRecord], int]:
        """Pending requests the caller may approve and has not approved yet."""
        where = self._reviewable(access)
        if where is None:
            return [], 0
        return await self._page([where], page, page_size)

    async def badge(self, access: Access) -> int:
        """How many requests wait for the caller's review."""
        where = self._reviewable(access)
        if where is None:
            return 0
        async with self.store.engine.connect() as conn:
            count = await conn.scalar(sa.select(sa.func.count()).select_from(approvals_table)
                                      .where(where))
        return int(count or 0)

    async def history(
        self, access: Access, filters: HistoryFilters, page: int = 1, page_size: int = 50
    ) -> tuple[list[ApprovalRecord], int]:
        """Decided requests (everything but pending) the caller may see, newest first."""
        await self._expire_due()
        return await self._page(self._history_where(access, filters), page, page_size)

    async def export_csv(self, access: Access, filters: HistoryFilters) -> AsyncIterator[str]:
        """The history as CSV lines, read page by page (async generator)."""
        await self._expire_due()
        where = self._history_where(access, filters)
        yield _csv_line(EXPORT_COLUMNS)
        after: tuple[dt.datetime, str] | None = None
        while True:
            query = sa.select(*_SHOWN).where(*where).order_by(_a.created_at, _a.id)
            if after is not None:
                query = query.where(sa.or_(
                    _a.created_at > after[0],
                    sa.and_(_a.created_at == after[0], _a.id > after[1])))
            async with self.store.engine.connect() as conn:
                rows = (await conn.execute(query.limit(_EXPORT_PAGE))).all()
                found = await self._with_people(conn, rows)
            for approval in found:
                decided = approval.decided
                yield _csv_line([
                    approval.id, _iso(approval.created_at), approval.action_slug,
                    approval.collection, approval.requester_email, approval.record_count,
                    _json(self._canonical(approval)), approval.status,
                    approval.approvals_required,
                    " ".join(a["email"] for a in approval.approvers),
                    decided.kind if decided else "",
                    decided.by["email"] if decided and decided.by else "",
                    _iso(approval.decided_at), decided.message if decided else "",
                    approval.reason, approval.run_id,
                ])
            if len(rows) < _EXPORT_PAGE:
                return
            after = (rows[-1].created_at, rows[-1].id)

    def _canonical(self, approval: ApprovalRecord) -> dict[str, Any]:
        """The displayed values in their canonical form (an action that no longer exists
        keeps them as stored)."""
        try:
            action = self.registry.get(approval.collection, approval.action_slug)
        except NotFoundError:
            return approval.values
        return canonical_values(action, approval.values)

    def _reviewable(self, access: Access) -> sa.ColumnElement[bool] | None:
        caller = access.caller
        mine = [p for p in access.snapshot.policies.values()
                if p.role == caller.role and p.can_approve]
        if not mine:
            return None
        actions = [
            sa.and_(_a.collection == (p.collection or _NO_COLLECTION), _a.action_slug == p.action,
                    *(() if p.self_approval else (_a.requester_id != caller.id,)))
            for p in mine
        ]
        approved = sa.exists().where(_e.approval_id == _a.id, _e.kind == "approved",
                                     _e.actor_id == caller.id)
        return sa.and_(_a.status == "pending", _a.expires_at > utcnow(), sa.or_(*actions),
                       sa.not_(approved))

    def _history_where(
        self, access: Access, filters: HistoryFilters
    ) -> list[sa.ColumnElement[bool]]:
        check_filters(filters)
        where: list[sa.ColumnElement[bool]] = [_a.status != "pending"]
        if not access.is_admin:
            caller = access.caller
            mine: list[sa.ColumnElement[bool]] = [_a.requester_id == caller.id]
            mine.extend(
                sa.and_(_a.collection == (p.collection or _NO_COLLECTION),
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

    def _require_visible(self, access: Access, approval: ApprovalRecord) -> None:
        if (access.is_admin or approval.requester_id == access.caller.id
                or self._approver_policy(access, approval) is not None):
            return
        raise ForbiddenError(
            "only the requester, the roles that may approve "
            f"{describe_action(approval.collection, approval.action_slug)} and admins may "
            "see this request"
        )

    async def _page(
        self, where: Sequence[sa.ColumnElement[bool]], page: int, page_size: int
    ) -> tuple[list[ApprovalRecord], int]:
        page, page_size = _paging(page, page_size)
        query = (sa.select(*_SHOWN).where(*where).order_by(_a.created_at.desc(), _a.id.desc())
                 .limit(page_size).offset((page - 1) * page_size))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(approvals_table).where(*where))
            found = await self._with_people(conn, rows)
        return found, int(count or 0)

    async def _with_people(
        self, conn: AsyncConnection, rows: Sequence[sa.Row[Any]]
    ) -> list[ApprovalRecord]:
        """Records of ``rows`` with their approvers and decision."""
        ids = [row.id for row in rows]
        approvers = await _approvers_of(conn, ids)
        decisions = await _decisions_of(conn, ids)
        return [_record(r._mapping, approvers.get(r.id, []), decisions.get(r.id))
                for r in rows]

    async def _fetch(self, approval_id: str) -> ApprovalRecord:
        """The request (expired first if its time is up); NotFoundError if there is none."""
        if len(approval_id) != 32 or not approval_id.isalnum() or not approval_id.isascii():
            raise NotFoundError(f"no approval request {approval_id!r}")
        for _ in range(2):
            async with self.store.engine.connect() as conn:
                row = (await conn.execute(sa.select(*_SHOWN).where(_a.id == approval_id))
                       ).first()
                if row is None:
                    raise NotFoundError(f"no approval request {approval_id!r}")
                record = (await self._with_people(conn, [row]))[0]
            if record.status != "pending" or record.expires_at > utcnow():
                return record
            await self._expire(approval_id)
        return record

    async def _locked(self, conn: AsyncConnection, approval_id: str) -> ApprovalRecord:
        """The request, its row locked for this transaction (SQLite: the write lock is held
        already), expired first if its time is up."""
        row = (await conn.execute(
            sa.select(*_SHOWN).where(_a.id == approval_id).with_for_update())).first()
        if row is None:
            raise NotFoundError(f"no approval request {approval_id!r}")
        record = _record(row._mapping, [])
        if record.status == "pending" and record.expires_at <= utcnow():
            await _expire_in(conn, approval_id)
            return _record({**row._mapping, "status": "expired"}, [])
        return record

    async def _expire(self, approval_id: str) -> None:
        async with self.store.write() as conn:
            await _expire_in(conn, approval_id)

    async def _expire_due(self) -> None:
        """Expire the pending requests whose time is up (a bounded number per call)."""
        async with self.store.engine.connect() as conn:
            due = (await conn.scalars(
                sa.select(_a.id).where(_a.status == "pending", _a.expires_at <= utcnow())
                .limit(200))).all()
        for approval_id in due:
            await self._expire(approval_id)

    async def _frozen_values(self, approval_id: str) -> dict[str, Any]:
        async with self.store.engine.connect() as conn:
            values = await conn.scalar(sa.select(_a["values"]).where(_a.id == approval_id))
        return dict(values or {})

    async def _approvers(self, approval_id: str) -> list[dict[str, str]]:
        async with self.store.engine.connect() as conn:
            return (await _approvers_of(conn, [approval_id])).get(approval_id, [])


async def _store_ids(conn: AsyncConnection, approval_id: str, selection: Selection) -> int:
    """Write the selection's ids, batch by batch; return how many."""
    collection = selection.collection
    count = 0
    async for batch in selection.batches():
        rows = [
            {"approval_id": approval_id, "seq": count + i,
             "record_id": encode_id(collection, [row[n] for n in collection.primary_key])}
            for i, row in enumerate(batch)
        ]
        await conn.execute(sa.insert(approval_records_table), rows)
        count += len(rows)
    return count


async def _event(
    conn: AsyncConnection, approval_id: str, actor: Caller | None, kind: EventKind,
    message: str | None,
) -> None:
    await conn.execute(sa.insert(approval_events_table).values(
        approval_id=approval_id, at=utcnow(), actor_id=actor.id if actor else _SYSTEM,
        actor_email=actor.email if actor else _SYSTEM, kind=kind, message=message,
    ))


async def _expire_in(conn: AsyncConnection, approval_id: str) -> None:
    now = utcnow()
    done = await conn.execute(
        sa.update(approvals_table)
        .where(_a.id == approval_id, _a.status == "pending", _a.expires_at <= now)
        .values(status="expired", decided_at=now, reason="expired before it was decided")
    )
    if done.rowcount == 1:
        await _event(conn, approval_id, None, "expired", None)


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


def check_filters(filters: HistoryFilters) -> None:
    """BadRequestError for a filter that can match nothing by mistake (an unknown status)."""
    if filters.status is not None and filters.status not in APPROVAL_STATUSES:
        raise BadRequestError(
            f"unknown approval status {filters.status!r}",
            fields={"status": "must be one of " + ", ".join(APPROVAL_STATUSES)},
        )


def _why(decision: Decision) -> str:
    """Why the request needs approval, frozen with it: the rule, and its condition if any."""
    policy = decision.policy
    if policy is None or policy.condition is None:
        return decision.reason
    return f"{decision.reason}; condition: {_describe(policy.condition)}"


def _describe(filter_: Filter) -> str:
    """``amount greater than 1000 and (status is live or note is null)``."""
    if isinstance(filter_, Group):
        parts = [f"({_describe(c)})" if isinstance(c, Group) else _describe(c)
                 for c in filter_.conditions]
        return f" {filter_.aggregator} ".join(parts)
    operator = str(getattr(filter_.operator, "value", filter_.operator)).replace("_", " ")
    if filter_.value is None:
        return f"{filter_.field} {operator}"
    value = ", ".join(map(str, filter_.value)) if isinstance(filter_.value, list) else filter_.value
    return f"{filter_.field} {operator} {value}"


def _require_pending(approval: ApprovalRecord) -> None:
    if approval.status != "pending":
        raise _conflict(approval)


def _conflict(approval: ApprovalRecord) -> ConflictError:
    return ConflictError(
        f"this request is {approval.status}; only a pending request can be decided",
        detail={"status": approval.status, "approval": approval.to_json()},
    )


def _message(message: str | None) -> str | None:
    if message is None:
        return None
    if not isinstance(message, str):
        raise BadRequestError("message must be text", fields={"message": "must be text"})
    if len(message) > MAX_MESSAGE:
        raise BadRequestError(f"message must be at most {MAX_MESSAGE} characters",
                              fields={"message": f"at most {MAX_MESSAGE} characters"})
    return message.replace("\x00", "").strip() or None


def _paging(page: int, page_size: int) -> tuple[int, int]:
    if page < 1:
        raise BadRequestError("page must be at least 1", fields={"page": "must be >= 1"})
    if page_size < 1:
        raise BadRequestError("page_size must be at least 1",
                              fields={"page_size": "must be >= 1"})
    return page, min(page_size, MAX_PAGE_SIZE)


def _json(value: Any) -> str:
    from actiondesk.data.state import dumps

    return dumps(value)


def _csv_line(cells: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_safe_cell("" if c is None else str(c)) for c in cells])
    return out.getvalue()


def _safe_cell(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: shown as text instead.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
