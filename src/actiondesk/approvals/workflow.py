"""The approval workflow: four eyes, exactly once, exactly what was asked.

When a caller's rule for an action is "trigger with approval", the execution pipeline hands
the validated request to ``ApprovalsService.request``, which freezes it: action, caller, typed
form values, parent context, and the selection resolved to concrete record ids (written in
batches, never held in memory as a whole). Roles allowed to approve the action decide; with
enough distinct approvals the request runs once, through the executor's audited path,
on exactly the frozen records and values, after the records' conditions are checked again.

Exactly once: the move from ``pending`` to ``executing`` is one conditional UPDATE
(``ApprovalStore.claim``: ``... WHERE id = :id AND status = 'pending'``) whose row count
decides who executes, inside a transaction that holds the request's row lock, so neither two
approvers nor two server processes can run it twice. Requests expire lazily: they become
``expired`` when read or decided after their time.

Crash recovery (``recover_interrupted``, at start-up and periodically in every server) is in
``approvals.recovery``; the statements on the approvals tables are in ``approvals.store``,
the CSV export in ``approvals.export``, the request's model and rules in ``approvals.model``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.caller import Caller, ParentContext
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action
from actiondesk.approvals.export import csv_lines
from actiondesk.approvals.model import (
    DEFAULT_TTL,
    NO_COLLECTION,
    NOT_STARTED,
    RECORDS_PAGE_SIZE,
    ApprovalNews,
    ApprovalRecord,
    EventKind,
    HistoryFilters,
    approver_policy,
    clean_message,
    conflict,
    paging,
    require_decider,
    require_pending,
    require_visible,
    why,
)
from actiondesk.approvals.recovery import Recovery
from actiondesk.approvals.store import ApprovalStore
from actiondesk.background.service import BackgroundRuns
from actiondesk.catalog.conditions import enabled
from actiondesk.data.state import StateStore, utcnow
from actiondesk.errors import (
    ActionFailedError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)
from actiondesk.permissions.service import describe_action
from actiondesk.runs.executor import Executor, Job, redact
from actiondesk.runs.frozen_values import FormChangedError, freeze_values, thaw_values
from actiondesk.runs.records import RunRecord
from actiondesk.selections.frozen import FrozenSelection

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.permissions.access import Access
    from actiondesk.permissions.service import Decision

log = logging.getLogger("actiondesk.approvals")
# Told what happened to a request once it is committed (notifications listen).
NewsListener = Callable[[ApprovalNews], Awaitable[None]]


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
        self.approvals = ApprovalStore(store)
        self.datasource = datasource
        self.registry = registry
        self.executor = executor
        self.runs = executor.runs
        # Approved requests of background actions are queued there; it tells us their end.
        self.background = background
        self.ttl = ttl
        self._executing: set[str] = set()
        self.recovery = Recovery(
            self.approvals, self.runs, lease=lambda: background.config.lease,
            finish_run=self.finish_run, in_process=self._executing,
        )
        background.when_run_ends(self._finish_from_run)
        background.on_sweep(self.recover_interrupted)
        self._listeners: list[NewsListener] = []

    # -- news of requests ---------------------------------------------------------------------

    def on_news(self, listener: NewsListener) -> None:
        """Call ``listener`` after each change of a request is committed. A listener's
        failure is logged and never undoes or fails the decision."""
        self._listeners.append(listener)

    async def announce_request(self, approval_id: str) -> None:
        """Tell the listeners about a new request (called once its transaction committed)."""
        await self._tell("requested", approval_id, None, None)

    async def _tell(self, kind: EventKind, approval_id: str, actor: Caller | None,
                    message: str | None) -> None:
        if not self._listeners:
            return
        try:
            approval = await self.approvals.fetch(approval_id)
            actor_json: dict[str, str] | None = (
                {"id": actor.id, "email": actor.email} if actor is not None else None)
            if kind == "requested":
                actor_json = {"id": approval.requester_id, "email": approval.requester_email}
            news = ApprovalNews(kind, approval, actor_json, message)
            for listener in self._listeners:
                await listener(news)
        except Exception:
            log.exception("the news of approval request %s (%s) could not be told",
                          approval_id, kind)

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
            "collection": NO_COLLECTION if action.collection is None else action.collection,
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
        count = await self.approvals.insert(conn, row, selection)
        if count == 0:
            raise BadRequestError("no record matches the selection any more")
        await self.approvals.event(conn, approval_id, caller, "requested", why(decision))
        return await self.approvals.locked(conn, approval_id)

    # -- deciding -----------------------------------------------------------------------------

    async def approve(
        self, approval_id: str, access: Access, message: str | None = None
    ) -> ApprovalRecord:
        """Approve; with enough distinct approvals, execute (exactly once) and return the
        request with its result."""
        message = clean_message(message)
        approval = await self.approvals.fetch(approval_id)
        require_decider(access, approval)
        require_pending(approval)
        caller = access.caller
        conflicting: ApprovalRecord | None = None
        repeated = claimed = False
        async with self.approvals.write() as conn:
            current = await self.approvals.locked(conn, approval_id)
            if current.status != "pending":
                conflicting = current
            elif await self.approvals.has_approved(conn, approval_id, caller.id):
                repeated = True
            else:
                await self.approvals.event(conn, approval_id, caller, "approved", message)
                given = await self.approvals.approvals_given(conn, approval_id)
                if given >= current.approvals_required:
                    claimed = await self.approvals.claim(conn, approval_id)
        if conflicting is not None:
            raise conflict(conflicting)
        if repeated:
            raise ConflictError(
                f"{caller.email} has already approved this request; it waits for another "
                "approver",
                detail={"status": "pending", "approval": approval.to_json()},
            )
        if not claimed:
            await self._tell("approved", approval_id, caller, message)
            return await self.approvals.fetch(approval_id)
        return await self._execute(approval_id, access)

    async def reject(
        self, approval_id: str, access: Access, message: str | None = None
    ) -> ApprovalRecord:
        message = clean_message(message)
        approval = await self.approvals.fetch(approval_id)
        require_decider(access, approval)
        require_pending(approval)
        return await self._close(approval_id, access.caller, "rejected", message)

    async def cancel(
        self, approval_id: str, access: Access, message: str | None = None
    ) -> ApprovalRecord:
        """The requester withdraws a pending request."""
        message = clean_message(message)
        approval = await self.approvals.fetch(approval_id)
        if approval.requester_id != access.caller.id:
            raise ForbiddenError(
                f"only the requester ({approval.requester_email}) may cancel this request"
            )
        require_pending(approval)
        return await self._close(approval_id, access.caller, "cancelled", message)

    async def _close(
        self, approval_id: str, caller: Caller, status: Literal["rejected", "cancelled"],
        message: str | None,
    ) -> ApprovalRecord:
        async with self.approvals.write() as conn:
            current = await self.approvals.locked(conn, approval_id)
            closed = await self.approvals.close(conn, approval_id, caller, status, message)
        if not closed:
            raise conflict(current)
        await self._tell(status, approval_id, caller, message)
        return await self.approvals.fetch(approval_id)

    # -- executing ----------------------------------------------------------------------------

    async def _execute(self, approval_id: str, access: Access) -> ApprovalRecord:
        """Run a request this process claimed (status ``executing``)."""
        approval = await self.approvals.fetch(approval_id)
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
            values = thaw_values(action, await self.approvals.frozen_values(approval.id))
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
        approvers = await self.approvals.approvers(approval.id)
        caller = {**approval.requester, "approvedBy": approvers}
        described = {**approval.selection, "approval": {"id": approval.id,
                                                        "approvedBy": approvers}}
        if action.runs_in_background(approval.record_count):
            # Queued like any background run; the runner finishes the request (finish_run).
            queued = await self.background.enqueue(action, caller, described, values,
                                                   approval.values, approval.record_count)
            await self.approvals.attach_run(approval.id, str(queued))
            return await self.approvals.fetch(approval.id)
        begun = await self.executor.begin(
            action, caller=caller, selection=described, values=approval.values,
            record_count=approval.record_count,
        )
        assert isinstance(begun, str)  # noqa: S101 - no idempotency key, always a new run
        if not await self.approvals.attach_inline(approval.id, begun):
            # A sweep gave this request up as interrupted meanwhile: it must not run now.
            await self.runs.finish(begun, status="failed", status_code=409, result_kind=None,
                                   message=NOT_STARTED)
            return await self.approvals.fetch(approval.id)
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

    async def _finish_from_run(self, run: RunRecord) -> None:
        """Record the end of the background run an approved request queued."""
        approval = run.selection.get("approval")
        if isinstance(approval, Mapping):
            await self.finish_run(str(approval.get("id")), run)

    async def finish_run(self, approval_id: str, run: RunRecord) -> None:
        """Finish the request from the run it executed."""
        ok = run.status == "succeeded"
        reason = None if ok else (run.message or f"the run ended {run.status}")
        status: Literal["executed", "failed"] = "executed" if ok else "failed"
        if await self.approvals.finish(
            approval_id, status, run_id=run.id, reason=reason,
            result=run.result, result_kind=run.result_kind, result_status_code=run.status_code,
            result_filename=run.result_filename, result_mime=run.result_mime,
        ):
            await self._tell(status, approval_id, None, reason)

    async def recover_interrupted(self) -> list[str]:
        """Finish the requests left ``executing`` by a process that stopped (see
        ``approvals.recovery``); return their ids."""
        return await self.recovery.recover_interrupted()

    async def _stale(self, approval: ApprovalRecord, cause: str) -> ApprovalRecord:
        return await self._finish(approval.id, "failed",
                                  reason=f"no longer applicable: {cause}")

    async def _finish(
        self, approval_id: str, status: Literal["executed", "failed"], *, reason: str | None,
        run_id: str | None = None, **result: Any,
    ) -> ApprovalRecord:
        if await self.approvals.finish(approval_id, status, reason=reason, run_id=run_id,
                                       **result):
            await self._tell(status, approval_id, None, reason)
        return await self.approvals.fetch(approval_id)

    # -- reading ------------------------------------------------------------------------------

    async def get(self, approval_id: str, access: Access) -> dict[str, Any]:
        """A request with its timeline, the first page of its records, and what the caller
        may do with it."""
        approval = await self.approvals.fetch(approval_id)
        require_visible(access, approval)
        body = approval.to_json()
        body["timeline"] = await self.approvals.events(approval_id)
        body["records"] = await self.records(approval_id, access, 1, RECORDS_PAGE_SIZE)
        policy = approver_policy(access, approval)
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
        approval = await self.approvals.fetch(approval_id)
        require_visible(access, approval)
        page, page_size = paging(page, page_size)
        ids = await self.approvals.record_ids(approval_id, (page - 1) * page_size, page_size)
        return {"ids": ids, "count": approval.record_count or 0, "page": page,
                "page_size": page_size}

    async def file(self, approval_id: str, access: Access) -> tuple[bytes, str, str] | None:
        """The file the executed request returned (kept with its run)."""
        approval = await self.approvals.fetch(approval_id)
        require_visible(access, approval)
        if approval.run_id is None:
            return None
        return await self.runs.get_file(approval.run_id)

    async def requested(
        self, access: Access, page: int = 1, page_size: int = 50
    ) -> tuple[list[ApprovalRecord], int]:
        """The caller's own requests, newest first."""
        await self.approvals.expire_due()
        return await self.approvals.page(self.approvals.requested_by(access), page, page_size)

    async def to_review(
        self, access: Access, page: int = 1, page_size: int = 50
    ) -> tuple[list[ApprovalRecord], int]:
        """Pending requests the caller may approve and has not approved yet."""
        where = self.approvals.reviewable(access)
        if where is None:
            return [], 0
        return await self.approvals.page(where, page, page_size)

    async def badge(self, access: Access) -> int:
        """How many requests wait for the caller's review."""
        where = self.approvals.reviewable(access)
        if where is None:
            return 0
        return await self.approvals.count(where)

    async def history(
        self, access: Access, filters: HistoryFilters, page: int = 1, page_size: int = 50
    ) -> tuple[list[ApprovalRecord], int]:
        """Decided requests (everything but pending) the caller may see, newest first."""
        await self.approvals.expire_due()
        return await self.approvals.page(self.approvals.history(access, filters), page,
                                         page_size)

    async def export_csv(self, access: Access, filters: HistoryFilters) -> AsyncIterator[str]:
        """The history as CSV lines, read page by page (async generator)."""
        await self.approvals.expire_due()
        where = self.approvals.history(access, filters)
        async for line in csv_lines(self.approvals, self.registry, where):
            yield line
