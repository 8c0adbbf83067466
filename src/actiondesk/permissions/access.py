"""One caller's access, decided on the server for every request: which collections they may
read and what rule applies to each action. Built from the cached permission snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actiondesk.actions.context import Caller
from actiondesk.actions.spec import Action
from actiondesk.errors import ForbiddenError

if TYPE_CHECKING:
    from actiondesk.data.filters import Filter
    from actiondesk.permissions.service import Decision, PermissionSnapshot


@dataclass(frozen=True)
class Access:
    caller: Caller
    snapshot: PermissionSnapshot
    dev_mode: bool

    @property
    def is_admin(self) -> bool:
        role = self.snapshot.role(self.caller.role)
        return bool(role and role.is_admin)

    def can_read(self, collection: str) -> bool:
        return self.dev_mode or self.snapshot.can_read(self.caller.role, collection)

    def require_read(self, collection: str) -> None:
        if not self.can_read(collection):
            raise ForbiddenError(
                f"role {self.caller.role!r} may not read collection {collection!r}"
            )

    def readable(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.can_read(n)]

    def decide(self, action: Action) -> Decision:
        return self.snapshot.decide(self.caller.role, action.collection, action.slug)

    def visible(self, action: Action) -> bool:
        """Listed for this caller: visible in settings, readable, and not hidden by a rule."""
        if not self.snapshot.setting(action.collection, action.slug).visible:
            return False
        if action.collection is not None and not self.can_read(action.collection):
            return False
        return self.dev_mode or self.decide(action).rule != "hidden"

    def require_visible(self, action: Action) -> Decision:
        """The decision for an action the caller may reach; 403 naming the rule otherwise."""
        if not self.snapshot.setting(action.collection, action.slug).visible:
            raise ForbiddenError(f"{action.name} is switched off in the action settings")
        if action.collection is not None:
            self.require_read(action.collection)
        decision = self.decide(action)
        if decision.rule == "hidden" and not self.dev_mode:
            raise ForbiddenError(
                f"{action.name} is not available to role {self.caller.role!r}: "
                f"{decision.reason}"
            )
        return decision

    def extra_condition(self, action: Action) -> Filter | None:
        """The admin's enabled_if for this action, ANDed with the code's."""
        condition: Filter | None = self.snapshot.setting(action.collection, action.slug).enabled_if
        return condition
