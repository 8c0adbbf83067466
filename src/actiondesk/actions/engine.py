"""The actions engine: list actions, serve their forms, execute them, audit every run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.condition_text import condition_sentence
from actiondesk.actions.context import ActionContext, Caller, FormContext, ParentContext
from actiondesk.actions.form_values import FormValidationError, json_value, validate_values
from actiondesk.actions.forms import FormField, ResolvedField, compute, resolve_field
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.request import ActionRequest
from actiondesk.actions.results import (
    ActionError,
    Error,
    File,
    Rendered,
    UnsafeResultError,
    render,
)
from actiondesk.actions.selection import Selection, pk_in
from actiondesk.actions.spec import Action, EnabledIf, Scope
from actiondesk.data.filters import (
    Condition,
    Filter,
    Group,
    compile_filter,
    matches,
    search_clause,
)
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.schema import Collection
from actiondesk.errors import (
    ActionFailedError,
    BadRequestError,
    ClientError,
    FilterError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
    UpstreamError,
    lost_database,
)
from actiondesk.services.records import related_scope
from actiondesk.services.runs import Answer, check_same_request

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.services.access import Access
    from actiondesk.services.approvals import ApprovalsService
    from actiondesk.services.background import BackgroundRuns
    from actiondesk.services.permissions import Decision
    from actiondesk.services.runs import RunRecord, RunsService

log = logging.getLogger("actiondesk.actions")

REDACTED = "[redacted]"
MAX_REPLAYABLE_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    rendered: Rendered
    run_id: str
    replayed: bool = False


@dataclass(frozen=True)
class EnabledState:
    enabled: bool
    reason: str | None = None


class ActionsService:
    def __init__(
        self, registry: ActionRegistry, datasource: Datasource, runs: RunsService
    ) -> None:
        self.registry = registry
        self.datasource = datasource
        self.runs = runs
        # Set by the Desk: where requests needing approval are frozen for review, and where
        # background runs are queued.
        self.approvals: ApprovalsService | None = None
        self.background: BackgroundRuns | None = None

    # -- finding actions ------------------------------------------------------------------

    def action(self, collection: str | None, slug: str, access: Access) -> Action:
        """The action named in a request. The collection must be readable, checked before the
        slug is looked up, so the refusal is the same whether the action exists or not (as
        is the 404 of ``Access.require_visible`` for an action the caller may not see)."""
        if collection is not None:
            self.datasource.collection(collection)
            access.require_read(collection)
        return self.registry.get(collection, slug)

    def actions_of(self, collection: str | None) -> list[Action]:
        if collection is not None:
            self.datasource.collection(collection)
        return self.registry.for_collection(collection)

    async def list_with_state(
        self, collection: str | None, access: Access, request: ActionRequest | None = None
    ) -> list[dict[str, Any]]:
        """The actions of a collection this caller may see; with a selection (ids, or all
        records of a filter, inside a parent record), whether each can run on it and why not."""
        if collection is not None:
            access.require_read(collection)
        request = request or ActionRequest()
        if request.parent is not None:
            access.require_read(request.parent.collection)
        selections: dict[Scope, tuple[Selection, int] | ClientError] = {}
        result = []
        for action in self.actions_of(collection):
            if not access.visible(action):
                continue
            entry = action.to_json()
            decision = access.decide(action)
            entry["rule"] = "trigger" if access.dev_mode else decision.rule
            if request.ids or request.all_records or collection is not None:
                entry.update(await self._state_json(action, request, access, selections))
            result.append(entry)
        return result

    async def _state_json(
        self,
        action: Action,
        request: ActionRequest,
        access: Access,
        selections: dict[Scope, tuple[Selection, int] | ClientError],
    ) -> dict[str, Any]:
        if action.scope is Scope.GLOBAL:
            return {"enabled": True, "disabled_reason": None}
        if not request.ids and not request.all_records:
            return {"enabled": False, "disabled_reason": "select a record first"}
        if action.scope is Scope.SINGLE and (request.all_records or len(request.ids) != 1):
            return {"enabled": False, "disabled_reason": "applies to exactly one record"}
        # The selection depends on the action only through its scope: resolved (and counted)
        # once per scope, not once per action.
        if action.scope not in selections:
            try:
                found = await self.selection(action, request, access)
                assert found[0] is not None  # noqa: S101 - non-global actions have one
                selections[action.scope] = (found[0], found[1])
            except ClientError as exc:
                selections[action.scope] = exc
        known = selections[action.scope]
        if isinstance(known, ClientError):
            return {"enabled": False, "disabled_reason": known.message}
        selection, total = known
        try:
            state = await self.enabled(action, selection, total, access.extra_condition(action))
        except ClientError as exc:
            return {"enabled": False, "disabled_reason": exc.message}
        return {"enabled": state.enabled, "disabled_reason": state.reason}

    def _collection_of(self, action: Action) -> Collection | None:
        if action.collection is None:
            return None
        return self.datasource.collection(action.collection)

    # -- selections -----------------------------------------------------------------------

    async def selection(
        self, action: Action, request: ActionRequest, access: Access | None = None
    ) -> tuple[Selection | None, int]:
        """The validated selection of a request, and how many records it holds. With an
        access, the parent record's collection must be readable too."""
        if action.collection is None:
            return None, 0
        collection = self.datasource.collection(action.collection)
        if request.collection_name and request.collection_name != collection.name:
            raise BadRequestError(
                f"collection_name {request.collection_name!r} does not match the action's "
                f"collection {collection.name!r}",
                fields={"data.attributes.collection_name": "does not match the URL"},
            )
        if request.parent is not None and access is not None:
            # Checked before the parent is looked up, so a refusal reveals nothing about it.
            access.require_read(request.parent.collection)
        scope_clause, parent_json = await self._parent_scope(collection, request.parent)
        if action.scope is Scope.GLOBAL:
            return None, 0
        if request.all_records:
            return await self._all_records(action, collection, request, scope_clause,
                                           parent_json)
        return await self._listed(action, collection, request, scope_clause, parent_json)

    async def _parent_scope(
        self, collection: Collection, parent: ParentContext | None
    ) -> tuple[sa.ColumnElement[bool] | None, dict[str, Any] | None]:
        if parent is None:
            return None, None
        parent_collection = self.datasource.collection(parent.collection)
        rel = parent_collection.relationships.get(parent.association)
        if rel is None or rel.target != collection.name:
            raise BadRequestError(
                f"{parent.association!r} is not a relationship from {parent.collection} "
                f"to {collection.name}",
                fields={"data.attributes.parent_association_name": "unknown relationship"},
            )
        row = await self.datasource.get_row(
            parent_collection, decode_id(parent_collection, parent.id)
        )
        if row is None:
            raise NotFoundError(f"no record {parent.id!r} in {parent.collection}")
        values = [row._mapping[name] for name in rel.fields]
        parent_json = {
            "collection": parent.collection, "id": parent.id, "association": parent.association,
        }
        return related_scope(collection, rel.target_fields, values), parent_json

    async def _all_records(
        self,
        action: Action,
        collection: Collection,
        request: ActionRequest,
        scope_clause: sa.ColumnElement[bool] | None,
        parent_json: dict[str, Any] | None,
    ) -> tuple[Selection, int]:
        if action.scope is Scope.SINGLE:
            raise BadRequestError(
                f"{action.name} applies to exactly one record; all_records is not allowed",
                fields={"data.attributes.all_records": "not allowed for a single action"},
            )
        clauses: list[sa.ColumnElement[bool]] = []
        try:
            if request.subset_filter is not None:
                clauses.append(compile_filter(collection, request.subset_filter))
            if request.search:
                found = search_clause(collection, request.search)
                if found is not None:
                    clauses.append(found)
        except FilterError as exc:
            path = "data.attributes.all_records_subset_query"
            raise BadRequestError(f"{path}: {exc.message}", detail=exc.detail,
                                  fields={path: exc.message}) from None
        excluded = self._keys(collection, request.excluded_ids,
                              "data.attributes.all_records_ids_excluded")
        if excluded:
            clauses.append(sa.not_(pk_in(collection, excluded)))
        if scope_clause is not None:
            clauses.append(scope_clause)
        where = sa.and_(sa.true(), *clauses)
        description = {
            "all_records": True,
            "filter": request.subset_filter.to_json() if request.subset_filter else None,
            "search": request.search,
            "excluded_ids": list(request.excluded_ids),
            "parent": parent_json,
        }
        selection = Selection(self.datasource, collection, where, description=description)
        total = await selection.count()
        if total == 0:
            raise BadRequestError(
                "no record matches the selection", fields={"data.attributes.all_records":
                                                           "the selection is empty"},
            )
        selection.description["count"] = total
        return selection, total

    def _keys(
        self, collection: Collection, ids: Sequence[str], path: str
    ) -> list[tuple[Any, ...]]:
        keys = []
        for text in ids:
            try:
                keys.append(decode_id(collection, text))
            except NotFoundError:
                raise NotFoundError(
                    f"no record {text!r} in {collection.name}",
                    fields={path: f"{text!r} is not an id of {collection.name}"},
                ) from None
        return keys

    async def _listed(
        self,
        action: Action,
        collection: Collection,
        request: ActionRequest,
        scope_clause: sa.ColumnElement[bool] | None,
        parent_json: dict[str, Any] | None,
    ) -> tuple[Selection, int]:
        path = "data.attributes.ids"
        if action.scope is Scope.SINGLE and len(request.ids) != 1:
            raise BadRequestError(
                f"{action.name} applies to exactly one record; {len(request.ids)} selected",
                fields={path: "select exactly one record"},
            )
        if not request.ids:
            raise BadRequestError(
                f"{action.name} applies to at least one record; none selected",
                fields={path: "select at least one record"},
            )
        keys = self._keys(collection, request.ids, path)
        where = pk_in(collection, keys)
        if scope_clause is not None:
            where = sa.and_(where, scope_clause)
        description = {"ids": list(request.ids), "parent": parent_json}
        selection = Selection(self.datasource, collection, where, description=description,
                              id_count=len(keys))
        found = await selection.count()
        if found != len(keys):
            missing = await self._missing(selection, request.ids)
            where_text = f" related to {parent_json['id']}" if parent_json else ""
            raise NotFoundError(
                f"{len(keys) - found} of the selected records do not exist in "
                f"{collection.name}{where_text}",
                detail={"missing_ids": missing[:20]},
                fields={path: "unknown id(s): " + ", ".join(missing[:5])},
            )
        return selection, found

    async def _missing(self, selection: Selection, ids: Sequence[str]) -> list[str]:
        present: set[str] = set()
        async for batch in selection.batches():
            collection = selection.collection
            present.update(
                encode_id(collection, [row[n] for n in collection.primary_key]) for row in batch
            )
        return [i for i in ids if i not in present]

    # -- record conditions ----------------------------------------------------------------

    async def enabled(
        self, action: Action, selection: Selection, total: int, extra: Filter | None = None
    ) -> EnabledState:
        """Whether every selected record meets the action's ``enabled_if`` and the admin's
        extra condition (one set-based query for a filter condition)."""
        state = await self._meets(action, action.enabled_if, action.disabled_reason,
                                  selection, total)
        if state.enabled and extra is not None:
            state = await self._meets(action, extra, "an administrator's condition on this "
                                      "action does not hold", selection, total)
        return state

    async def _meets(
        self,
        action: Action,
        condition: EnabledIf,
        disabled_reason: str | None,
        selection: Selection,
        total: int,
    ) -> EnabledState:
        if condition is None:
            return EnabledState(True)
        if isinstance(condition, Condition | Group):
            clause = compile_filter(selection.collection, condition)
            failing = total - await selection.count_matching(clause)
        else:
            failing = 0
            async for batch in selection.batches():
                failing += sum(1 for row in batch if not condition(row))
        if failing == 0:
            return EnabledState(True)
        reason = disabled_reason or _describe(condition, selection.collection)
        if total == 1:
            return EnabledState(False, reason)
        return EnabledState(False, f"{failing} of the {total} selected records: {reason}")

    # -- forms ----------------------------------------------------------------------------

    async def resolve_form(
        self,
        action: Action,
        context: FormContext,
        *,
        initial: bool,
    ) -> tuple[list[ResolvedField], dict[str, Any]]:
        """Every field computed for the context; the values shown (defaults on load)."""
        if initial:
            defaults = {f.name: await compute(f.default, context) for f in action.form}
            context = FormContext(
                caller=context.caller, action=action, collection=context.collection,
                selection=context.selection, values=defaults, parent=context.parent,
            )

        async def visible(spec: FormField) -> bool:
            condition = spec.visible_if
            if condition is None:
                return True
            if isinstance(condition, Condition | Group):
                return matches(condition, context.values)
            return bool(await compute(condition, context))

        fields = [await resolve_field(spec, context, visible) for spec in action.form]
        shown = {}
        for field in fields:
            if field.read_only or initial or field.name not in context.values:
                shown[field.name] = json_value(field.default)
            else:
                shown[field.name] = context.values[field.name]
        return fields, shown

    async def form(
        self,
        collection: str | None,
        slug: str,
        request: ActionRequest,
        access: Access,
    ) -> dict[str, Any]:
        """Form load (no ``changed_field``) or change: the same checks as execution."""
        action = self.action(collection, slug, access)
        access.require_visible(action)
        selection, total = await self.selection(action, request, access)
        if selection is not None:
            state = await self.enabled(action, selection, total, access.extra_condition(action))
            if not state.enabled:
                raise ForbiddenError(f"{action.name} cannot run on this selection: "
                                     f"{state.reason}")
        changed = request.changed_field
        if changed is not None and action.form_field(changed) is None:
            raise BadRequestError(
                f"changed_field {changed!r} is not a field of this form",
                fields={"data.attributes.changed_field": "unknown field"},
            )
        context = FormContext(
            caller=access.caller, action=action, collection=self._collection_of(action),
            selection=selection, values=dict(request.values or {}), changed_field=changed,
            parent=request.parent,
        )
        fields, shown = await self.resolve_form(action, context, initial=changed is None)
        return {
            "action": action.to_json(),
            "fields": [field_json(f, shown[f.name]) for f in fields],
            "changed_field": changed,
        }

    def reference_checker(self, access: Access) -> Callable[[str, str], Awaitable[bool]]:
        """Whether a referenced record exists, for a caller who must be able to read it."""

        async def exists(collection_name: str, record_id: str) -> bool:
            access.require_read(collection_name)
            return await self.reference_exists(collection_name, record_id)

        return exists

    async def reference_exists(self, collection_name: str, record_id: str) -> bool:
        collection = self.datasource.collection(collection_name)
        try:
            pk = decode_id(collection, record_id)
        except NotFoundError:
            return False
        return await self.datasource.get_row(collection, pk) is not None

    # -- execution ------------------------------------------------------------------------

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
        action = self.action(collection, slug, access)
        try:
            decision = access.require_visible(action)
        except ForbiddenError as exc:
            raise await self._refuse(action, caller, {}, exc.message) from None
        try:
            selection, total = await self.selection(action, request, access)
        except ForbiddenError as exc:
            raise await self._refuse(action, caller, {}, exc.message) from None
        described = selection.description if selection else {}
        if selection is not None:
            state = await self.enabled(action, selection, total, access.extra_condition(action))
            if not state.enabled:
                raise await self._refuse(
                    action, caller, described,
                    f"{action.name} cannot run on this selection: {state.reason}",
                )
        context = FormContext(
            caller=caller, action=action, collection=self._collection_of(action),
            selection=selection, values=dict(request.values or {}), parent=request.parent,
        )
        fields, _ = await self.resolve_form(action, context, initial=False)
        try:
            values = await validate_values(fields, request.values or {},
                                           self.reference_checker(access))
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
        if self.background is not None and action.runs_in_background(total):
            return await self.background.submit(action, caller, selection, values, total,
                                                idempotency_key)
        begun = await self._begin(**_run_fields(action, caller, selection, total, values),
                                  idempotency_key=idempotency_key)
        if not isinstance(begun, str):
            return await self._replay(begun, action, selection, values)
        return await self._run(action, begun, caller, selection, values, request.parent,
                               replayable=idempotency_key is not None)

    async def _begin(self, **run: Any) -> str | RunRecord:
        """Record the run before anything runs: without the audit, nothing runs."""
        try:
            return await self.runs.begin(**run)
        except Exception as exc:
            if not lost_database(exc):
                raise
            raise UnavailableError(
                "the state database is unavailable, so the action cannot be audited and did "
                "not run; retry in a moment"
            ) from exc

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
        approvals = self.approvals
        if approvals is None:
            raise await self._refuse(
                action, access.caller, described,
                f"{action.name} needs approval for role {access.caller.role!r} "
                f"({decision.reason}); approval requests are not available here",
            )

        async def freeze(conn: AsyncConnection, run_id: str) -> Answer:
            approval = await approvals.request(conn, action, access, decision, selection,
                                               values, parent)
            return Answer(status="approval_requested", status_code=202, result_kind="approval",
                          message=f"{action.name} is waiting for approval",
                          result={"approval": approval.summary_json()})

        try:
            begun = await self._begin(**_run_fields(action, access.caller, selection, total,
                                                    values),
                                      idempotency_key=idempotency_key, handover=freeze)
        except ForbiddenError as exc:
            raise await self._refuse(action, access.caller, described, exc.message) from None
        if isinstance(begun, str):
            begun = await self.runs.get(begun)
            return Outcome(_stored_answer(begun), begun.id)
        return await self._replay(begun, action, selection, values)

    async def _approval_applies(
        self, decision: Decision, selection: Selection | None, values: Mapping[str, Any]
    ) -> bool:
        """Whether an approval rule's condition holds: on the form values, or on any
        selected record."""
        policy = decision.policy
        if policy is None or policy.condition is None:
            return True
        if policy.condition_on == "values":
            return matches(policy.condition, {k: json_value(v) for k, v in values.items()})
        if selection is None:
            return False
        clause = compile_filter(selection.collection, policy.condition)
        return await selection.count_matching(clause) > 0

    async def _run(
        self,
        action: Action,
        run_id: str,
        caller: Caller,
        selection: Selection | None,
        values: Mapping[str, Any],
        parent: ParentContext | None,
        *,
        replayable: bool,
    ) -> Outcome:
        context = ActionContext(
            caller=caller, action=action, collection=self._collection_of(action),
            selection=selection, values=values, parent=parent,
            db=self.datasource.engine if action.is_async else self.datasource.sync_engine,
            run_id=run_id,
        )
        try:
            rendered = render(await context.run_handler())
            if replayable and rendered.file is not None:
                rendered = await _materialise(rendered)
        except ActionError as exc:
            rendered = render(Error(exc.message, exc.html))
        except UpstreamError as exc:
            # A remote action whose service failed: its own status (502/504) and message.
            await self.runs.finish(run_id, status="failed", status_code=exc.status,
                                   result_kind=None, message=exc.message)
            exc.detail = {**(exc.detail or {}), "run_id": run_id}
            raise
        except UnsafeResultError as exc:
            # The client is told no more than that; the run keeps what the handler tried.
            body = {"error": "the action's answer was refused: it would send you to an "
                    "address that is not an internal path or an http(s) URL"}
            rendered = Rendered(400, body, "error", f"refused an unsafe result: {exc}")
        except Exception as exc:
            log.exception("action %s failed (run %s)", action.slug, run_id)
            lost = lost_database(exc)
            await self.runs.finish(
                run_id, status="failed", status_code=503 if lost else 500, result_kind=None,
                message=f"{type(exc).__name__}: {exc}"[:2000],
            )
            if lost:
                raise UnavailableError(
                    f"{action.name} failed: the connection to the database was lost while it "
                    "ran; the run is marked failed, and what it had not committed was rolled "
                    "back. Retry in a moment",
                    detail={"run_id": run_id},
                ) from exc
            raise ActionFailedError(
                f"{action.name} failed unexpectedly; the details are in the server log",
                detail={"run_id": run_id},
            ) from exc
        file = rendered.file
        await self.runs.finish(
            run_id,
            status="succeeded" if rendered.status < 400 else "error",
            status_code=rendered.status,
            result_kind=rendered.kind,
            message=rendered.message,
            result=rendered.body,
            result_file=file.content if file is not None and isinstance(file.content, bytes)
            and replayable else None,
            result_filename=rendered.message if file is not None else None,
            result_mime=file.mime if file is not None else None,
        )
        return Outcome(rendered, run_id)

    async def _replay(
        self, run: RunRecord, action: Action, selection: Selection | None,
        values: Mapping[str, Any],
    ) -> Outcome:
        """The first answer to a request with this idempotency key, if this is the same
        request (409 if not)."""
        check_same_request(run, selection.description if selection else {},
                           redact(action, values))
        if run.status == "failed":
            raise ActionFailedError(
                f"{run.action_name} failed on the first request with this Idempotency-Key",
                detail={"run_id": run.id},
            )
        file = None
        if run.result_kind == "file":
            stored = await self.runs.get_file(run.id)
            if stored is None:
                raise ClientError(
                    "the first request's file result was not kept, so it cannot be replayed",
                    detail={"run_id": run.id},
                )
            content, filename, mime = stored
            file = File(filename=filename, content=content, mime=mime)
        return Outcome(_stored_answer(run, file), run.id, replayed=True)


def _run_fields(
    action: Action, caller: Caller, selection: Selection | None, total: int,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """A run's record of a request, as ``RunsService.begin`` takes it."""
    return {
        "action_slug": action.slug, "action_name": action.name,
        "collection": action.collection, "scope": action.scope.value,
        "caller": caller.to_json(), "selection": selection.description if selection else {},
        "values": redact(action, values), "record_count": total if selection else None,
    }


def _stored_answer(run: RunRecord, file: File | None = None) -> Rendered:
    """The answer a finished run recorded."""
    body = run.result if isinstance(run.result, dict) else None
    return Rendered(run.status_code or 200, body, run.result_kind or "none", run.message,
                    file=file)


async def _materialise(rendered: Rendered) -> Rendered:
    """Read a file result into memory so it can be kept for an idempotent replay."""
    file = rendered.file
    assert file is not None  # noqa: S101 - only called for file results
    if isinstance(file.content, bytes):
        return rendered
    chunks: list[bytes] = []
    size = 0
    async for chunk in iterate_file(file):
        size += len(chunk)
        if size > MAX_REPLAYABLE_FILE_BYTES:
            raise ActionError("the file is too large to keep for an Idempotency-Key replay")
        chunks.append(chunk)
    kept = File(filename=file.filename, content=b"".join(chunks), mime=file.mime)
    return Rendered(rendered.status, rendered.body, rendered.kind, rendered.message, file=kept)


async def iterate_file(file: File, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The bytes of a file result, chunk by chunk (async generator)."""
    if file.content is not None:
        yield file.content.encode() if isinstance(file.content, str) else file.content
        return
    if file.path is not None:
        async with await anyio.open_file(file.path, "rb") as handle:
            while chunk := await handle.read(chunk_size):
                yield chunk
        return
    stream = file.stream
    if hasattr(stream, "__aiter__"):
        async for chunk in stream:  # type: ignore[union-attr]
            yield chunk
    else:
        for chunk in stream:  # type: ignore[union-attr]
            yield chunk


def redact(action: Action, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for the audit: secret fields hidden, files reduced to name, type and size."""
    result = {}
    for name, value in values.items():
        spec = action.form_field(name)
        result[name] = REDACTED if spec is not None and spec.secret and value is not None else (
            json_value(value)
        )
    return result


def field_json(field: ResolvedField, value: Any) -> dict[str, Any]:
    constraints = {
        k: json_value(v)
        for k, v in (
            ("min", field.min), ("max", field.max), ("min_length", field.min_length),
            ("max_length", field.max_length), ("pattern", field.pattern),
            ("places", field.spec.places), ("max_digits", field.spec.max_digits),
        )
        if v is not None
    }
    return {
        "name": field.name,
        "type": field.type.value,
        "label": field.label,
        "description": field.description,
        "required": field.required,
        "value": value,
        "read_only": field.read_only,
        "enum_values": list(field.enum_values) if field.enum_values is not None else None,
        "placeholder": field.placeholder,
        "constraints": constraints,
        "visible": field.visible,
        "reference": field.spec.reference,
        "max_file_bytes": field.spec.max_file_bytes if field.type.value.startswith("file")
        else None,
    }


def _describe(condition: Any, collection: Collection) -> str:
    if isinstance(condition, Condition | Group):
        return condition_sentence(condition, collection)
    return "the action's condition does not hold"
