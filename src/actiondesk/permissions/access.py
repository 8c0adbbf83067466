"""One caller's access, decided on the server for every request: which collections they may
read and what rule applies to each action. Built from the cached permission snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actiondesk.actions.context import Caller
from actiondesk.actions.registry import unknown_action
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
            raise ForbiddenError(self._not_read(collection))

    def _not_read(self, collection: str) -> str:
        return f"role {self.caller.role!r} may not read collection {collection!r}"

    def can_export(self, collection: str) -> bool:
        return self.dev_mode or self.snapshot.can_export(self.caller.role, collection)

    def require_export(self, collection: str) -> None:
        """403 unless the caller may read the collection and their role may export."""
        self.require_read(collection)
        if not self.can_export(collection):
            raise ForbiddenError(f"role {self.caller.role!r} may not export lists (can_export "
                                 "is off for the role)")

    def readable(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.can_read(n)]

    def decide(self, action: Action) -> Decision:
        return self.snapshot.decide(self.caller.role, action.collection, action.slug)

    def visible(self, action: Action) -> bool:
        """Listed for this caller: visible in settings, readable, and not hidden by a rule."""
        return self._unseen(action) is None

    def _unseen(self, action: Action) -> str | None:
        """Why the caller may not see the action; None if they may."""
        if not self.snapshot.setting(action.collection, action.slug).visible:
            return f"{action.name} is switched off in the action settings"
        if action.collection is not None and not self.can_read(action.collection):
            return self._not_read(action.collection)
        if self.dev_mode:
            return None
        decision = self.decide(action)
        if decision.rule == "hidden":
            return f"{action.name} is not available to role {self.caller.role!r}: " + (
                decision.reason)
        return None

    def require_visible(self, action: Action) -> Decision:
        """The decision for an action the caller may see. One they may not see is answered
        exactly as an unknown action (404: its existence is not revealed), its real reason
        kept for the audit; admins, who may read the settings anyway, get the reason (403)."""
        if action.collection is not None:
            self.require_read(action.collection)
        unseen = self._unseen(action)
        if unseen is not None:
            if self.is_admin:
                raise ForbiddenError(unseen)
            raise unknown_action(action.collection, action.slug, concealing=unseen)
        return self.decide(action)

    def extra_condition(self, action: Action) -> Filter | None:
        """The admin's enabled_if for this action, ANDed with the code's."""
        condition: Filter | None = self.snapshot.setting(action.collection, action.slug).enabled_if
        return condition
