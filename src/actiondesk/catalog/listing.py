"""The action catalog: which actions exist, which a caller may see, and whether each can
run on a selection (and why not)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actiondesk.actions.document import ActionRequest
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action, Scope
from actiondesk.catalog.conditions import approval_applies, approval_condition_text, enabled
from actiondesk.errors import ClientError
from actiondesk.selections.resolve import SelectionResolver

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.permissions.access import Access
    from actiondesk.permissions.model import Policy


class Catalog:
    """The declared actions of each collection, as one caller sees them."""

    def __init__(
        self, registry: ActionRegistry, datasource: Datasource, resolver: SelectionResolver
    ) -> None:
        self.registry = registry
        self.datasource = datasource
        self.resolver = resolver

    def action(self, collection: str | None, slug: str, access: Access) -> Action:
        """The action named in a request (NotFoundError for an unknown collection or slug).
        The collection must be readable, checked before the slug is looked up, so the refusal
        is the same whether the action exists or not (as is the 404 of
        ``Access.require_visible`` for an action the caller may not see)."""
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
            if entry["rule"] == "approval":
                entry.update(await self._approval_json(action, decision.policy, selections))
            result.append(entry)
        return result

    async def _approval_json(
        self,
        action: Action,
        policy: Policy | None,
        selections: dict[Scope, tuple[Selection, int] | ClientError],
    ) -> dict[str, Any]:
        """What the menu tells of an approval rule: its condition in words, and whether it
        applies to the selection (None while that depends on form values not filled yet, or
        on records not selected yet)."""
        schema = None if action.collection is None else self.datasource.collection(
            action.collection)
        known = selections.get(action.scope)
        selection = known[0] if isinstance(known, tuple) else None
        applies: bool | None
        if policy is not None and policy.condition is not None and (
                policy.condition_on == "records" and selection is None):
            applies = None
        else:
            applies = await approval_applies(policy, selection, None)
        return {"approval_condition": approval_condition_text(policy, action, schema),
                "approval_applies": applies}

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
                found = await self.resolver.resolve(action, request, access)
                assert found[0] is not None  # noqa: S101 - non-global actions have one
                selections[action.scope] = (found[0], found[1])
            except ClientError as exc:
                selections[action.scope] = exc
        known = selections[action.scope]
        if isinstance(known, ClientError):
            return {"enabled": False, "disabled_reason": known.message}
        selection, total = known
        try:
            state = await enabled(action, selection, total, access.extra_condition(action))
        except ClientError as exc:
            return {"enabled": False, "disabled_reason": exc.message}
        return {"enabled": state.enabled, "disabled_reason": state.reason}
