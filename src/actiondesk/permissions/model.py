"""The permission model: roles, policies, action settings, and the snapshot that decides."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from actiondesk.data.filters import Filter

log = logging.getLogger("actiondesk.permissions")

Rule = Literal["hidden", "trigger", "approval"]
ConditionOn = Literal["records", "values"]
RULES: tuple[str, ...] = get_args(Rule)
CONDITION_ON: tuple[str, ...] = get_args(ConditionOn)
VERSION_KEY = "permissions_version"
MAX_APPROVALS = 100
MAX_DESCRIPTION = 2000
MAX_READABLE = 1000
ROLE_MAX = 100
COLLECTION_MAX = 120
SLUG_MAX = 120

# Global actions are stored with collection "": NULLs would never collide in a primary key.
NO_COLLECTION = ""
SLUG_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
ROLE_KEYS = ("name", "description", "is_admin", "read_all", "readable", "can_export")
POLICY_KEYS = ("role", "collection", "action", "rule", "condition", "condition_on",
                "can_approve", "approvals_required", "self_approval")
SETTING_KEYS = ("collection", "action", "visible", "enabled_if")
IMPORT_SECTIONS = ("roles", "policies", "actions")


@dataclass(frozen=True)
class Policy:
    """What one role may do with one action. No policy at all means hidden."""

    role: str
    collection: str | None  # None for a global action
    action: str  # the action's slug
    rule: Rule = "trigger"
    # For rule "approval": approval is required only when this filter holds.
    condition: Filter | None = None
    condition_on: ConditionOn = "records"  # the selected records, or the form values
    can_approve: bool = False
    approvals_required: int = 1
    self_approval: bool = False

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.role, self.collection, self.action)

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "collection": self.collection,
            "action": self.action,
            "rule": self.rule,
            "condition": None if self.condition is None else self.condition.to_json(),
            "condition_on": self.condition_on,
            "can_approve": self.can_approve,
            "approvals_required": self.approvals_required,
            "self_approval": self.self_approval,
        }


@dataclass(frozen=True)
class RoleSpec:
    """A role: whether it administers the desk, and which collections it may read."""

    name: str
    description: str | None = None
    is_admin: bool = False  # may use the settings API, sees every run
    read_all: bool = False  # may read every collection
    readable: frozenset[str] = frozenset()  # else: the collections it may read
    can_export: bool = False  # may download the lists it reads (CSV, JSON lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "is_admin": self.is_admin,
            "read_all": self.read_all,
            "readable": sorted(self.readable),
            "can_export": self.can_export,
        }


@dataclass(frozen=True)
class ActionSetting:
    """An admin's settings of one action, for everyone."""

    collection: str | None
    action: str
    visible: bool = True  # an invisible action is listed for nobody and runs for nobody
    enabled_if: Filter | None = None  # ANDed with the enabled_if declared in code

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.collection, self.action)

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "action": self.action,
            "visible": self.visible,
            "enabled_if": None if self.enabled_if is None else self.enabled_if.to_json(),
        }


@dataclass(frozen=True)
class Decision:
    """The rule that applies to a caller's role for one action, and why."""

    rule: Rule
    reason: str  # names the rule, for the 403 message and the audit
    policy: Policy | None

    @property
    def visible(self) -> bool:
        return self.rule != "hidden"


def describe_action(collection: str | None, action: str) -> str:
    """``companies/mark-as-live``, or ``the global action refresh`` without a collection."""
    return f"{collection}/{action}" if collection is not None else f"the global action {action}"


class PermissionSnapshot:
    """The permission data at one version, answered from memory. Treat it as read-only."""

    def __init__(
        self,
        *,
        version: int = 0,
        roles: Iterable[RoleSpec] = (),
        policies: Iterable[Policy] = (),
        settings: Iterable[ActionSetting] = (),
        dev_mode: bool = False,
    ) -> None:
        self.version = version
        self.dev_mode = dev_mode
        self.roles: Mapping[str, RoleSpec] = MappingProxyType({r.name: r for r in roles})
        self.policies: Mapping[tuple[str, str | None, str], Policy] = MappingProxyType(
            {p.key: p for p in policies}
        )
        self.settings: Mapping[tuple[str | None, str], ActionSetting] = MappingProxyType(
            {s.key: s for s in settings}
        )
        approvers: dict[tuple[str | None, str], list[Policy]] = {}
        for policy in self.policies.values():
            if policy.can_approve:
                approvers.setdefault((policy.collection, policy.action), []).append(policy)
        self._approvers = {
            key: tuple(sorted(found, key=lambda p: p.role)) for key, found in approvers.items()
        }

    def with_dev_mode(self, dev_mode: bool) -> PermissionSnapshot:
        return PermissionSnapshot(
            version=self.version, roles=self.roles.values(), policies=self.policies.values(),
            settings=self.settings.values(), dev_mode=dev_mode,
        )

    def role(self, name: str) -> RoleSpec | None:
        return self.roles.get(name)

    def can_read(self, role: str, collection: str) -> bool:
        if self.dev_mode:
            return True
        spec = self.roles.get(role)
        return spec is not None and (spec.read_all or collection in spec.readable)

    def can_export(self, role: str, collection: str) -> bool:
        if self.dev_mode:
            return True
        spec = self.roles.get(role)
        return spec is not None and spec.can_export and self.can_read(role, collection)

    def setting(self, collection: str | None, action: str) -> ActionSetting:
        """The action's settings; visible with no extra condition when none are stored."""
        found = self.settings.get((collection, action))
        return found if found is not None else ActionSetting(collection, action)

    def decide(self, role: str, collection: str | None, action: str) -> Decision:
        """The rule for ``role`` on an action: hidden unless a policy says otherwise.

        An action switched off in the action settings is hidden for everyone, development
        mode included.
        """
        where = describe_action(collection, action)
        if not self.setting(collection, action).visible:
            return Decision(
                "hidden", f"{where} is switched off in the action settings (for everyone)", None
            )
        if self.dev_mode:
            return Decision(
                "trigger", "development mode: every signed-in user may trigger every action",
                None,
            )
        policy = self.policies.get((role, collection, action))
        if policy is None:
            if role not in self.roles:
                return Decision("hidden", f"role {role!r} does not exist (hidden by default)",
                                None)
            return Decision(
                "hidden", f"role {role!r} has no rule for {where} (hidden by default)", None
            )
        if policy.rule == "hidden":
            reason = f"role {role!r} may not see {where} (rule: hidden)"
        elif policy.rule == "trigger":
            reason = f"role {role!r} may trigger {where} (rule: trigger)"
        else:
            reason = f"role {role!r} may trigger {where} with approval (rule: approval"
            if policy.condition is not None:
                on = "the selected records" if policy.condition_on == "records" else "form values"
                reason += f", required only when its condition on {on} holds"
            reason += ")"
        return Decision(policy.rule, reason, policy)

    def approvers(self, collection: str | None, action: str) -> list[Policy]:
        """The policies of roles that may approve this action, by role name."""
        return list(self._approvers.get((collection, action), ()))


