"""The execution pipeline: every check an execute request goes through, in order.

parse (the JSON:API document, in http) → access (the action is visible to the caller) →
selection (validated and counted) → enabled (``enabled_if`` and the admin's condition on every
selected record) → form values (validated on the server) → approval? (frozen for review) →
background? (queued for a runner) → the executor (begin, handler, finish). A refusal at any
step is recorded in the runs audit with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.caller import Caller, ParentContext
from actiondesk.actions.context import FormContext
from actiondesk.actions.document import ActionRequest
from actiondesk.actions.form_values import FormValidationError
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action
from actiondesk.approvals.workflow import ApprovalsService
from actiondesk.background.service import BackgroundRuns
from actiondesk.catalog.conditions import approval_applies, enabled
from actiondesk.catalog.forms import Forms
from actiondesk.catalog.listing import Catalog
from actiondesk.errors import ClientError, ForbiddenError
from actiondesk.runs.executor import Executor, Job, Outcome, redact, stored_answer
from actiondesk.runs.records import check_same_request
from actiondesk.runs.store import Answer

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access
    from actiondesk.permissions.service import Decision


class ExecutionPipeline:
    """Executes action requests: every check, then approval, background or the executor."""

    def __init__(
        self,
        catalog: Catalog,
        forms: Forms,
        executor: Executor,
        approvals: ApprovalsService,
        background: BackgroundRuns,
    ) -> None:
        self.catalog = catalog
        self.forms = forms
        self.resolver = catalog.resolver
        self.executor = executor
        self.runs = executor.runs
        self.approvals = approvals
        self.background = background

    async def execute(
        self,
        collection: str | None,
        slug: str,
        request: ActionRequest,
        access: Access,
        *,
        idempotency_key: str | None = None,
    ) -> Outcome:
        caller = access.caller
        action = self.catalog.action(collection, slug, access)
        try:
            decision = access.require_visible(action)
        except ForbiddenError as exc:
            raise await self._refuse(action, caller, {}, exc.message) from None
        try:
            selection, total = await self.resolver.resolve(action, request, access)
        except ForbiddenError as exc:
            raise await self._refuse(action, caller, {}, exc.message) from None
        described = selection.description if selection else {}
        if selection is not None:
            state = await enabled(action, selection, total, access.extra_condition(action))
            if not state.enabled:
                raise await self._refuse(
                    action, caller, described,
                    f"{action.name} cannot run on this selection: {state.reason}",
                )
        context = FormContext(
            caller=caller, action=action, collection=self.resolver.collection_of(action),
            selection=selection, values=dict(request.values or {}), parent=request.parent,
        )
        fields, _ = await self.forms.resolve_form(action, context, initial=False)
        try:
            values = await self.forms.validate(fields, request.values or {}, access)
            if action.prepare is not None:
                values = await action.prepare(context, values)
        except ForbiddenError as exc:
            raise await self._refuse(action, caller, described, exc.message) from None
        except FormValidationError as exc:
            # Invalid values are audited too: an oversized file or a probe looks like this.
            raise await self._recorded(action, caller, described, exc) from None
        if not access.dev_mode and decision.rule == "approval" and await self._approval_applies(
            decision, selection, values
        ):
            return await self._request_approval(action, access, decision, selection, total,
                                                values, request.parent, idempotency_key)
        if action.runs_in_background(total):
            return await self.background.submit(action, caller, selection, values, total,
                                                idempotency_key)
        redacted = redact(action, values)
        begun = await self.executor.begin(
            action, caller=caller.to_json(), selection=described, values=redacted,
            record_count=total if selection else None, idempotency_key=idempotency_key,
        )
        if not isinstance(begun, str):
            check_same_request(begun, described, redacted)
            return await self.executor.replay(begun)
        job = Job(action, caller, selection, values, request.parent)
        return await self.executor.run(begun, job, keep_file=idempotency_key is not None)

    async def _refuse(
        self, action: Action, caller: Caller, selection: dict[str, Any], message: str
    ) -> ClientError:
        """A 403 for this action, recorded in the runs audit."""
        return await self._recorded(action, caller, selection, ForbiddenError(message))

    async def _recorded(
        self, action: Action, caller: Caller, selection: dict[str, Any], error: ClientError
    ) -> ClientError:
        """``error``, recorded in the runs audit as a refused run (its id in the detail)."""
        run_id = await self.runs.record_refusal(
            action_slug=action.slug, action_name=action.name, collection=action.collection,
            scope=action.scope.value, caller=caller.to_json(), selection=selection,
            status_code=error.status,
            message=error.message + "".join(f"; {k}: {v}" for k, v in (error.fields or {})
                                            .items()),
        )
        if error.detail is None:
            error.detail = {"run_id": run_id}
        error.audited = True
        return error

    async def _request_approval(
        self,
        action: Action,
        access: Access,
        decision: Decision,
        selection: Selection | None,
        total: int,
        values: Mapping[str, Any],
        parent: ParentContext | None,
        idempotency_key: str | None,
    ) -> Outcome:
        """Freeze the request for review instead of running it: 202 with the request. Its
        run records the answer, in the transaction that freezes it, under the idempotency
        key: a retry gets the same request, never a second one to approve."""
        described = selection.description if selection else {}
        redacted = redact(action, values)

        async def freeze(conn: AsyncConnection, run_id: str) -> Answer:
            approval = await self.approvals.request(conn, action, access, decision, selection,
                                                    values, parent)
            return Answer(status="approval_requested", status_code=202, result_kind="approval",
                          message=f"{action.name} is waiting for approval",
                          result={"approval": approval.summary_json()})

        try:
            begun = await self.executor.begin(
                action, caller=access.caller.to_json(), selection=described, values=redacted,
                record_count=total if selection else None, idempotency_key=idempotency_key,
                handover=freeze,
            )
        except ForbiddenError as exc:
            raise await self._refuse(action, access.caller, described, exc.message) from None
        if isinstance(begun, str):
            run = await self.runs.get(begun)
            frozen = run.result.get("approval") if isinstance(run.result, dict) else None
            if isinstance(frozen, dict):
                await self.approvals.announce_request(str(frozen["id"]))
            return Outcome(stored_answer(run), run.id, status=run.status)
        check_same_request(begun, described, redacted)
        return await self.executor.replay(begun)

    async def _approval_applies(
        self, decision: Decision, selection: Selection | None, values: Mapping[str, Any]
    ) -> bool:
        """Whether an approval rule's condition holds: on the form values, or on any
        selected record."""
        return bool(await approval_applies(decision.policy, selection, values))
