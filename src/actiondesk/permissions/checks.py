"""Reading and checking permission data (settings API, TOML import) before it is stored."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from actiondesk.data.filters import Condition, Filter, Group, compile_filter, parse_filter
from actiondesk.data.schema import Collection
from actiondesk.errors import (
    BadRequestError,
    FilterError,
)
from actiondesk.permissions.model import (
    COLLECTION_MAX,
    CONDITION_ON,
    CONTROL_CHARACTERS,
    IMPORT_SECTIONS,
    MAX_APPROVALS,
    MAX_DESCRIPTION,
    MAX_READABLE,
    POLICY_KEYS,
    ROLE_KEYS,
    ROLE_MAX,
    RULES,
    SETTING_KEYS,
    SLUG_MAX,
    SLUG_PATTERN,
    ActionSetting,
    Policy,
    RoleSpec,
    describe_action,
)


@dataclass(frozen=True)
class KnownActions:
    """What exists in the desk, when the caller can tell: checked names and filters."""

    actions: frozenset[tuple[str | None, str]] | None
    collections: frozenset[str] | None
    schemas: Mapping[str, Collection] | None

    @classmethod
    def of(
        cls,
        actions: Iterable[tuple[str | None, str]] | None,
        collections: Iterable[str] | None,
        schemas: Mapping[str, Collection] | None,
    ) -> KnownActions:
        names = set(collections) if collections is not None else None
        if schemas is not None:
            names = (names or set()) | set(schemas)
        return cls(
            frozenset(actions) if actions is not None else None,
            frozenset(names) if names is not None else None,
            schemas,
        )

    def check_action(
        self,
        errors: dict[str, str],
        collection: str | None,
        action: str,
        record_filter: tuple[str, Filter | None] | None,
    ) -> None:
        if errors.get("collection") or errors.get("action"):
            return
        if collection is not None and self.collections is not None and (
            collection not in self.collections
        ):
            errors["collection"] = f"names no collection of this desk: {collection!r}"
            return
        if self.actions is not None and (collection, action) not in self.actions:
            where = f"on {collection}" if collection is not None else "among global actions"
            errors["action"] = f"names no action {where}: {action!r}"
            return
        if record_filter is None or collection is None or self.schemas is None:
            return
        name, filter_ = record_filter
        schema = self.schemas.get(collection)
        if filter_ is None or schema is None or errors.get(name):
            return
        try:
            compile_filter(schema, filter_)
        except FilterError as exc:
            errors[name] = f"does not fit {collection}: {exc.message}"

    def check_readable(self, errors: dict[str, str], readable: Iterable[str]) -> None:
        if self.collections is None or errors.get("readable"):
            return
        unknown = sorted(set(readable) - self.collections)
        if unknown:
            errors["readable"] = "names no collection of this desk: " + ", ".join(
                repr(c) for c in unknown
            )




# -- reading and checking plain data -----------------------------------------------------


def role_from_data(data: Any) -> RoleSpec:
    """A role from plain data (an API body); BadRequestError names each offending field."""
    role, errors = _read_role(data)
    if role is None or errors:
        raise invalid_error("role", errors)
    return role


def policy_from_data(data: Any) -> Policy:
    """A policy from plain data; a condition may be a filter object or its JSON text."""
    policy, errors = _read_policy(data)
    if policy is None or errors:
        raise invalid_error("policy", errors)
    return policy


def action_setting_from_data(data: Any) -> ActionSetting:
    setting, errors = _read_setting(data)
    if setting is None or errors:
        raise invalid_error("action setting", errors)
    return setting


class _Reader:
    """One entry of plain data, read key by key; each problem is noted under its key."""

    def __init__(self, data: Any, allowed: tuple[str, ...]) -> None:
        self.errors: dict[str, str] = {}
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if not isinstance(data, Mapping):
            self.errors["entry"] = "must be an object of keys and values"
        for key in self.data:
            if key not in allowed:
                self.errors[str(key)] = f"is not a known key (known: {', '.join(allowed)})"

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or (value == "" and not required):
            if required:
                self.errors[name] = "is required"
            return None
        if not isinstance(value, str):
            self.errors[name] = "must be text"
            return None
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            self.errors[name] = "must be true or false"
            return default
        return value

    def integer(self, name: str, default: int) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors[name] = "must be a whole number"
            return default
        return value

    def names(self, name: str) -> frozenset[str]:
        value = self.data.get(name, [])
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self.errors[name] = "must be a list of collection names"
            return frozenset()
        return frozenset(value)

    def filter(self, name: str) -> Filter | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                self.errors[name] = f"is not valid JSON: {exc}"
                return None
        try:
            return parse_filter(value)
        except FilterError as exc:
            self.errors[name] = f"is not a valid filter: {exc.message}"
            return None


def _read_role(data: Any) -> tuple[RoleSpec | None, dict[str, str]]:
    r = _Reader(data, ROLE_KEYS)
    name = r.text("name", required=True)
    role = RoleSpec(
        name=name or "",
        description=r.text("description"),
        is_admin=r.flag("is_admin", False),
        read_all=r.flag("read_all", False),
        readable=r.names("readable"),
        can_export=r.flag("can_export", False),
    )
    errors = {**role_problems(role), **r.errors}
    return (role if name is not None else None), errors


def _read_policy(data: Any) -> tuple[Policy | None, dict[str, str]]:
    r = _Reader(data, POLICY_KEYS)
    role = r.text("role", required=True)
    action = r.text("action", required=True)
    policy = Policy(
        role=role or "",
        collection=r.text("collection"),
        action=action or "",
        rule=r.text("rule") or "trigger",  # type: ignore[arg-type]  # checked below
        condition=r.filter("condition"),
        condition_on=r.text("condition_on") or "records",  # type: ignore[arg-type]
        can_approve=r.flag("can_approve", False),
        approvals_required=r.integer("approvals_required", 1),
        self_approval=r.flag("self_approval", False),
    )
    errors = {**policy_problems(policy), **r.errors}
    return (policy if role is not None and action is not None else None), errors


def _read_setting(data: Any) -> tuple[ActionSetting | None, dict[str, str]]:
    r = _Reader(data, SETTING_KEYS)
    action = r.text("action", required=True)
    setting = ActionSetting(
        collection=r.text("collection"),
        action=action or "",
        visible=r.flag("visible", True),
        enabled_if=r.filter("enabled_if"),
    )
    errors = {**setting_problems(setting), **r.errors}
    return (setting if action is not None else None), errors


def _name_problem(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    if not value:
        return "must not be empty"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if value != value.strip():
        return "must not start or end with spaces"
    if CONTROL_CHARACTERS.search(value):
        return "must not hold control characters"
    return None


def _slug_problem(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > SLUG_MAX or not SLUG_PATTERN.fullmatch(value):
        return ("must be an action slug: lowercase letters and digits joined by -, at most "
                f"{SLUG_MAX} characters")
    return None


def role_problems(role: RoleSpec) -> dict[str, str]:
    errors: dict[str, str] = {}
    if problem := _name_problem(role.name, ROLE_MAX):
        errors["name"] = problem
    elif "/" in role.name:
        errors["name"] = "must not hold '/'"
    if role.description is not None and (
        not isinstance(role.description, str) or len(role.description) > MAX_DESCRIPTION
        or "\x00" in role.description
    ):
        errors["description"] = f"must be text of at most {MAX_DESCRIPTION} characters"
    for flag in ("is_admin", "read_all", "can_export"):
        if not isinstance(getattr(role, flag), bool):
            errors[flag] = "must be true or false"
    if not isinstance(role.readable, set | frozenset) or len(role.readable) > MAX_READABLE:
        errors["readable"] = f"must be a set of at most {MAX_READABLE} collection names"
    else:
        for collection in sorted(role.readable, key=str):
            if problem := _name_problem(collection, COLLECTION_MAX):
                errors["readable"] = f"{collection!r} {problem}"
                break
    return errors


def _action_problems(errors: dict[str, str], collection: Any, action: Any) -> None:
    if collection is not None and (problem := _name_problem(collection, COLLECTION_MAX)):
        errors["collection"] = problem
    if problem := _slug_problem(action):
        errors["action"] = problem


def policy_problems(policy: Policy) -> dict[str, str]:
    errors: dict[str, str] = {}
    if problem := _name_problem(policy.role, ROLE_MAX):
        errors["role"] = problem
    _action_problems(errors, policy.collection, policy.action)
    if policy.rule not in RULES:
        errors["rule"] = "must be hidden, trigger or approval"
    if policy.condition_on not in CONDITION_ON:
        errors["condition_on"] = "must be records or values"
    if policy.condition is not None:
        if not isinstance(policy.condition, Condition | Group):
            errors["condition"] = "must be a filter"
        elif policy.rule in RULES and policy.rule != "approval":
            errors["condition"] = (
                "only an approval rule takes a condition (approval is then required only "
                "when it holds)"
            )
        elif policy.condition_on == "records" and policy.collection is None:
            errors["condition_on"] = "a global action has no records: use values"
    for flag in ("can_approve", "self_approval"):
        if not isinstance(getattr(policy, flag), bool):
            errors[flag] = "must be true or false"
    required = policy.approvals_required
    if isinstance(required, bool) or not isinstance(required, int) or not (
        1 <= required <= MAX_APPROVALS
    ):
        errors["approvals_required"] = f"must be a whole number from 1 to {MAX_APPROVALS}"
    return errors


def setting_problems(setting: ActionSetting) -> dict[str, str]:
    errors: dict[str, str] = {}
    _action_problems(errors, setting.collection, setting.action)
    if not isinstance(setting.visible, bool):
        errors["visible"] = "must be true or false"
    if setting.enabled_if is not None:
        if not isinstance(setting.enabled_if, Condition | Group):
            errors["enabled_if"] = "must be a filter"
        elif setting.collection is None:
            errors["enabled_if"] = "a global action has no records to test"
    return errors


def records_filter(policy: Policy) -> tuple[str, Filter | None] | None:
    return ("condition", policy.condition) if policy.condition_on == "records" else None


def normal_policy(policy: Policy) -> Policy:
    return replace(policy, collection=None) if policy.collection == "" else policy


def normal_setting(setting: ActionSetting) -> ActionSetting:
    return replace(setting, collection=None) if setting.collection == "" else setting


def invalid_error(kind: str, errors: Mapping[str, str]) -> BadRequestError:
    summary = "; ".join(f"{name} {problem}" for name, problem in errors.items())
    return BadRequestError(f"invalid {kind}: {summary}", fields=errors)


@dataclass
class _Import:
    roles: list[RoleSpec]
    policies: list[tuple[str, Policy]]  # with the label that names it in problems
    settings: list[ActionSetting]
    role_names: set[str]  # of every role given, valid or not
    problems: list[str]


def read_import(data: Any, known: KnownActions) -> _Import:
    """Every valid entry of the data, and every problem found without the database."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        problem = "the permissions must be an object with roles, policies and actions"
        return _Import([], [], [], set(), [problem])
    for key in data:
        if key not in IMPORT_SECTIONS:
            problems.append(f"unknown key {key!r} at the top level (known: "
                            f"{', '.join(IMPORT_SECTIONS)})")
    sections: dict[str, list[Any]] = {}
    for section in IMPORT_SECTIONS:
        entries = data.get(section, [])
        if not isinstance(entries, list | tuple):
            problems.append(f"the {section} must be a list")
            entries = []
        sections[section] = list(entries)

    def report(label: str, errors: Mapping[str, str]) -> None:
        problems.extend(f"{label}: {name} {problem}" for name, problem in errors.items())

    roles: list[RoleSpec] = []
    role_names: list[str] = []
    for number, entry in enumerate(sections["roles"], 1):
        role, errors = _read_role(entry)
        if role is not None:
            known.check_readable(errors, role.readable)
            role_names.append(role.name)
        report(f"role #{number}" + (f" ({role.name!r})" if role else ""), errors)
        if role is not None and not errors:
            roles.append(role)
    policies: list[tuple[str, Policy]] = []
    policy_keys: list[tuple[str, str | None, str]] = []
    for number, entry in enumerate(sections["policies"], 1):
        policy, errors = _read_policy(entry)
        label = f"policy #{number}"
        if policy is not None:
            known.check_action(errors, policy.collection, policy.action,
                               records_filter(policy))
            where = describe_action(policy.collection, policy.action)
            label += f" (role {policy.role!r}, {where})"
            policy_keys.append(policy.key)
        report(label, errors)
        if policy is not None and not errors:
            policies.append((label, policy))
    settings: list[ActionSetting] = []
    setting_keys: list[tuple[str | None, str]] = []
    for number, entry in enumerate(sections["actions"], 1):
        setting, errors = _read_setting(entry)
        label = f"action setting #{number}"
        if setting is not None:
            known.check_action(errors, setting.collection, setting.action,
                               ("enabled_if", setting.enabled_if))
            label += f" ({describe_action(setting.collection, setting.action)})"
            setting_keys.append(setting.key)
        report(label, errors)
        if setting is not None and not errors:
            settings.append(setting)

    _duplicates(problems, "role", role_names, repr)
    _duplicates(problems, "policy", policy_keys,
                lambda k: f"of role {k[0]!r} for {describe_action(k[1], k[2])}")
    _duplicates(problems, "action setting", setting_keys,
                lambda k: f"for {describe_action(k[0], k[1])}")
    return _Import(roles, policies, settings, set(role_names), problems)


def _duplicates(problems: list[str], kind: str, keys: list[Any], name: Any) -> None:
    seen: dict[Any, int] = {}
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
    for key, count in seen.items():
        if count > 1:
            problems.append(f"the {kind} {name(key)} is given {count} times")


