"""Roles, action policies and action settings: who may read, see, trigger and approve what.

Deny by default: a role without a policy for an action does not see it. The rules live in the
state database and are read into an immutable ``PermissionSnapshot`` kept in memory. Every
change bumps a version stamp (``actiondesk_meta``) in the same transaction, and ``snapshot()``
reads that one row before answering, so a change made by any process is seen by every
process at its next request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.filters import Condition, Filter, Group, compile_filter, parse_filter
from actiondesk.data.schema import Collection
from actiondesk.data.state import _SQLITE_BEGIN, StateStore, meta_table
from actiondesk.data.state_access import (
    action_settings_table,
    policies_table,
    roles_table,
    users_table,
)
from actiondesk.errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    FilterError,
    NotFoundError,
)

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
_NO_COLLECTION = ""
_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ROLE_KEYS = ("name", "description", "is_admin", "read_all", "readable")
_POLICY_KEYS = ("role", "collection", "action", "rule", "condition", "condition_on",
                "can_approve", "approvals_required", "self_approval")
_SETTING_KEYS = ("collection", "action", "visible", "enabled_if")
_SECTIONS = ("roles", "policies", "actions")


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

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "is_admin": self.is_admin,
            "read_all": self.read_all,
            "readable": sorted(self.readable),
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


@dataclass(frozen=True)
class _Known:
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
    ) -> _Known:
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


class PermissionsService:
    """Reads and changes the permission tables; answers from a cached snapshot.

    ``dev_mode`` (only when switched on explicitly) lets every signed-in user read every
    collection and trigger every visible action.
    """

    def __init__(self, store: StateStore, *, dev_mode: bool = False) -> None:
        self.store = store
        self.dev_mode = dev_mode
        self.reloads = 0  # how many times the tables were read, for tests and diagnostics
        self._cached: PermissionSnapshot | None = None
        self._stamp_ready = False

    async def snapshot(self) -> PermissionSnapshot:
        """The current permissions: one small read, and a reload only after a change."""
        async with self.store.read() as conn:
            version = _as_int(
                await conn.scalar(sa.select(meta_table.c.value).where(_is_stamp()))
            )
            cached = self._cached
            if cached is None or cached.version != version:
                # The stamp is read first: the tables read after it are at least that new.
                cached = await _load(conn, version, self.dev_mode)
                self.reloads += 1
                self._cached = cached
        if cached.dev_mode != self.dev_mode:
            cached = self._cached = cached.with_dev_mode(self.dev_mode)
        return cached

    async def bump(self, conn: AsyncConnection | None = None) -> int:
        """Increment the version stamp and return it; inside ``conn``'s transaction if given.

        The stamp row is locked until that transaction ends, so changes are serialised.
        """
        if conn is not None:
            return await _bump(conn)
        async with self._change() as own:
            return await _bump(own)

    # -- roles -------------------------------------------------------------------------

    async def list_roles(self) -> list[RoleSpec]:
        snapshot = await self.snapshot()
        return sorted(snapshot.roles.values(), key=lambda r: r.name)

    async def get_role(self, name: str) -> RoleSpec:
        found = (await self.snapshot()).role(name)
        if found is None:
            raise NotFoundError(f"no role {name!r}")
        return found

    async def put_role(
        self, role: RoleSpec, *, known_collections: Iterable[str] | None = None,
        schemas: Mapping[str, Collection] | None = None,
    ) -> RoleSpec:
        """Create or replace a role; BadRequestError names each offending field."""
        errors = _role_problems(role)
        if not errors:
            role = replace(role, readable=frozenset(role.readable))
        _Known.of(None, known_collections, schemas).check_readable(errors, role.readable)
        if errors:
            raise _invalid("role", errors)
        async with self._change() as conn:
            await _bump(conn)
            await _put_roles(conn, [role])
        return role

    async def delete_role(self, name: str) -> None:
        """Delete a role and its policies; 409 while users still have it."""
        if not _lookup_ok(name, ROLE_MAX):
            raise NotFoundError(f"no role {name!r}")
        async with self._change() as conn:
            await _bump(conn)
            found = await conn.scalar(sa.select(_r.name).where(_r.name == name))
            if found is None:
                raise NotFoundError(f"no role {name!r}")
            users = await conn.scalar(
                sa.select(sa.func.count()).select_from(users_table).where(
                    users_table.c.role == name
                )
            )
            if users:
                raise ConflictError(
                    f"role {name!r} is given to {users} user(s); give them another role first",
                    detail={"users": int(users)},
                )
            await conn.execute(sa.delete(policies_table).where(_p.role == name))
            await conn.execute(sa.delete(roles_table).where(_r.name == name))

    # -- policies ----------------------------------------------------------------------

    async def list_policies(self, role: str | None = None) -> list[Policy]:
        snapshot = await self.snapshot()
        found = [p for p in snapshot.policies.values() if role is None or p.role == role]
        return sorted(found, key=_policy_order)

    async def put_policy(
        self,
        policy: Policy,
        *,
        known_actions: Iterable[tuple[str | None, str]] | None = None,
        known_collections: Iterable[str] | None = None,
        schemas: Mapping[str, Collection] | None = None,
    ) -> Policy:
        """Create or replace the policy of a role for an action (the role must exist)."""
        policy = _normal_policy(policy)
        errors = _policy_problems(policy)
        _Known.of(known_actions, known_collections, schemas).check_action(
            errors, policy.collection, policy.action, _records_filter(policy)
        )
        if errors:
            raise _invalid("policy", errors)
        async with self._change() as conn:
            await _bump(conn)
            if await conn.scalar(sa.select(_r.name).where(_r.name == policy.role)) is None:
                raise BadRequestError(
                    f"invalid policy: no role {policy.role!r}; create it first",
                    fields={"role": "names no role"},
                )
            await _put_policies(conn, [policy])
        return policy

    async def delete_policy(self, role: str, collection: str | None, action: str) -> None:
        collection = collection or None
        missing = NotFoundError(
            f"role {role!r} has no policy for {describe_action(collection, action)}"
        )
        if not (_lookup_ok(role, ROLE_MAX) and _lookup_ok(action, SLUG_MAX)
                and _lookup_ok(collection, COLLECTION_MAX)):
            raise missing
        async with self._change() as conn:
            await _bump(conn)
            done = await conn.execute(
                sa.delete(policies_table).where(
                    _p.role == role,
                    _p.collection == (collection or _NO_COLLECTION),
                    _p.action_slug == action,
                )
            )
            if done.rowcount != 1:
                raise missing

    # -- action settings ---------------------------------------------------------------

    async def list_action_settings(self) -> list[ActionSetting]:
        snapshot = await self.snapshot()
        return sorted(snapshot.settings.values(), key=_setting_order)

    async def put_action_setting(
        self,
        setting: ActionSetting,
        *,
        known_actions: Iterable[tuple[str | None, str]] | None = None,
        known_collections: Iterable[str] | None = None,
        schemas: Mapping[str, Collection] | None = None,
    ) -> ActionSetting:
        setting = _normal_setting(setting)
        errors = _setting_problems(setting)
        _Known.of(known_actions, known_collections, schemas).check_action(
            errors, setting.collection, setting.action, ("enabled_if", setting.enabled_if)
        )
        if errors:
            raise _invalid("action setting", errors)
        async with self._change() as conn:
            await _bump(conn)
            await _put_settings(conn, [setting])
        return setting

    async def delete_action_setting(self, collection: str | None, action: str) -> None:
        """Back to the defaults: visible, no extra condition."""
        collection = collection or None
        missing = NotFoundError(f"no settings for {describe_action(collection, action)}")
        if not (_lookup_ok(action, SLUG_MAX) and _lookup_ok(collection, COLLECTION_MAX)):
            raise missing
        async with self._change() as conn:
            await _bump(conn)
            done = await conn.execute(
                sa.delete(action_settings_table).where(
                    _s.collection == (collection or _NO_COLLECTION), _s.action_slug == action
                )
            )
            if done.rowcount != 1:
                raise missing

    # -- export and import -------------------------------------------------------------

    async def export_data(self) -> dict[str, Any]:
        """Roles, policies and action settings as plain data (what ``import_data`` takes)."""
        snapshot = await self.snapshot()
        return {
            "roles": [r.to_json() for r in sorted(snapshot.roles.values(),
                                                  key=lambda r: r.name)],
            "policies": [p.to_json() for p in sorted(snapshot.policies.values(),
                                                     key=_policy_order)],
            "actions": [s.to_json() for s in sorted(snapshot.settings.values(),
                                                    key=_setting_order)],
        }

    async def import_data(
        self,
        data: Mapping[str, Any],
        *,
        known_actions: Iterable[tuple[str | None, str]] | None = None,
        known_collections: Iterable[str] | None = None,
        schemas: Mapping[str, Collection] | None = None,
        replace: bool = True,
    ) -> None:
        """Apply exported data: everything is checked first, and on any problem nothing is
        applied and ConfigurationError lists every problem.

        ``replace`` (the default) makes the tables hold exactly the data; otherwise each
        role, policy and setting given replaces its namesake and the rest stay. Conditions
        may be filter objects or their JSON text. Given ``schemas``, record conditions are
        checked against the collection's fields.
        """
        read = _read_import(data, _Known.of(known_actions, known_collections, schemas))
        problems = read.problems
        async with self._change() as conn:
            await _bump(conn)
            # Roles given with a problem count as given: their policies are not reported too.
            imported = read.role_names
            existing = set() if replace else set(await conn.scalars(sa.select(_r.name)))
            for label, policy in read.policies:
                if policy.role not in imported | existing:
                    problems.append(f"{label}: role names no role: {policy.role!r}")
            if replace:
                used = await conn.execute(
                    sa.select(users_table.c.role, sa.func.count()).group_by(users_table.c.role)
                )
                for role, count in used.all():
                    if role not in imported:
                        problems.append(
                            f"role {role!r} is given to {count} user(s) but is not in the "
                            "import; add it, or give those users another role first"
                        )
            if problems:
                raise ConfigurationError(
                    f"the permissions have {len(problems)} problem(s); nothing was applied",
                    problems,
                )
            if replace:
                for table in (policies_table, action_settings_table, roles_table):
                    await conn.execute(sa.delete(table))
            await _put_roles(conn, read.roles)
            await _put_policies(conn, [p for _, p in read.policies])
            await _put_settings(conn, read.settings)

    @asynccontextmanager
    async def _change(self) -> AsyncIterator[AsyncConnection]:
        if not self._stamp_ready:
            await self._ensure_stamp()
        async with _write_transaction(self.store) as conn:
            yield conn

    async def _ensure_stamp(self) -> None:
        # The row must exist before changes lock it: two first-ever changes would otherwise
        # both insert it, and one would fail.
        try:
            async with _write_transaction(self.store) as conn:
                if await conn.scalar(sa.select(meta_table.c.key).where(_is_stamp())) is None:
                    await conn.execute(sa.insert(meta_table).values(key=VERSION_KEY, value="0"))
        except IntegrityError:
            pass  # another process inserted it first
        self._stamp_ready = True


# -- reading and checking plain data -----------------------------------------------------


def role_from_data(data: Any) -> RoleSpec:
    """A role from plain data (an API body); BadRequestError names each offending field."""
    role, errors = _read_role(data)
    if role is None or errors:
        raise _invalid("role", errors)
    return role


def policy_from_data(data: Any) -> Policy:
    """A policy from plain data; a condition may be a filter object or its JSON text."""
    policy, errors = _read_policy(data)
    if policy is None or errors:
        raise _invalid("policy", errors)
    return policy


def action_setting_from_data(data: Any) -> ActionSetting:
    setting, errors = _read_setting(data)
    if setting is None or errors:
        raise _invalid("action setting", errors)
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
    r = _Reader(data, _ROLE_KEYS)
    name = r.text("name", required=True)
    role = RoleSpec(
        name=name or "",
        description=r.text("description"),
        is_admin=r.flag("is_admin", False),
        read_all=r.flag("read_all", False),
        readable=r.names("readable"),
    )
    errors = {**_role_problems(role), **r.errors}
    return (role if name is not None else None), errors


def _read_policy(data: Any) -> tuple[Policy | None, dict[str, str]]:
    r = _Reader(data, _POLICY_KEYS)
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
    errors = {**_policy_problems(policy), **r.errors}
    return (policy if role is not None and action is not None else None), errors


def _read_setting(data: Any) -> tuple[ActionSetting | None, dict[str, str]]:
    r = _Reader(data, _SETTING_KEYS)
    action = r.text("action", required=True)
    setting = ActionSetting(
        collection=r.text("collection"),
        action=action or "",
        visible=r.flag("visible", True),
        enabled_if=r.filter("enabled_if"),
    )
    errors = {**_setting_problems(setting), **r.errors}
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
    if _CONTROL.search(value):
        return "must not hold control characters"
    return None


def _slug_problem(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > SLUG_MAX or not _SLUG.fullmatch(value):
        return ("must be an action slug: lowercase letters and digits joined by -, at most "
                f"{SLUG_MAX} characters")
    return None


def _role_problems(role: RoleSpec) -> dict[str, str]:
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
    for flag in ("is_admin", "read_all"):
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


def _policy_problems(policy: Policy) -> dict[str, str]:
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


def _setting_problems(setting: ActionSetting) -> dict[str, str]:
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


def _records_filter(policy: Policy) -> tuple[str, Filter | None] | None:
    return ("condition", policy.condition) if policy.condition_on == "records" else None


def _normal_policy(policy: Policy) -> Policy:
    return replace(policy, collection=None) if policy.collection == "" else policy


def _normal_setting(setting: ActionSetting) -> ActionSetting:
    return replace(setting, collection=None) if setting.collection == "" else setting


def _invalid(kind: str, errors: Mapping[str, str]) -> BadRequestError:
    summary = "; ".join(f"{name} {problem}" for name, problem in errors.items())
    return BadRequestError(f"invalid {kind}: {summary}", fields=errors)


@dataclass
class _Import:
    roles: list[RoleSpec]
    policies: list[tuple[str, Policy]]  # with the label that names it in problems
    settings: list[ActionSetting]
    role_names: set[str]  # of every role given, valid or not
    problems: list[str]


def _read_import(data: Any, known: _Known) -> _Import:
    """Every valid entry of the data, and every problem found without the database."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        problem = "the permissions must be an object with roles, policies and actions"
        return _Import([], [], [], set(), [problem])
    for key in data:
        if key not in _SECTIONS:
            problems.append(f"unknown key {key!r} at the top level (known: "
                            f"{', '.join(_SECTIONS)})")
    sections: dict[str, list[Any]] = {}
    for section in _SECTIONS:
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
                               _records_filter(policy))
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


# -- the tables ---------------------------------------------------------------------------

_r = roles_table.c
_p = policies_table.c
_s = action_settings_table.c


def _is_stamp() -> sa.ColumnElement[bool]:
    return meta_table.c.key == VERSION_KEY


@asynccontextmanager
async def _write_transaction(store: StateStore) -> AsyncIterator[AsyncConnection]:
    async with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            # Take SQLite's write lock up front: a read lock upgraded later can deadlock
            # with another writer, and SQLite then fails at once instead of waiting.
            await conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        async with conn.begin():
            yield conn


async def _bump(conn: AsyncConnection) -> int:
    current = await conn.scalar(
        sa.select(meta_table.c.value).where(_is_stamp()).with_for_update()
    )
    if current is None:
        await conn.execute(sa.insert(meta_table).values(key=VERSION_KEY, value="1"))
        return 1
    version = _as_int(current) + 1
    await conn.execute(sa.update(meta_table).where(_is_stamp()).values(value=str(version)))
    return version


# Users change the stamp too (role, activation, password), so per-process caches of users
# and permissions are checked with one read per request.
bump_version = _bump


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _lookup_ok(value: str | None, limit: int) -> bool:
    # A key that no row can have must not reach the database (PostgreSQL refuses NUL).
    return value is None or (0 < len(value) <= limit and "\x00" not in value)


async def _put_roles(conn: AsyncConnection, roles: list[RoleSpec]) -> None:
    if not roles:
        return
    await conn.execute(sa.delete(roles_table).where(_r.name.in_([r.name for r in roles])))
    await conn.execute(sa.insert(roles_table), [
        {"name": r.name, "description": r.description, "is_admin": r.is_admin,
         "read_all": r.read_all, "readable": sorted(r.readable)}
        for r in roles
    ])


async def _put_policies(conn: AsyncConnection, policies: list[Policy]) -> None:
    rows = [
        {"role": p.role, "collection": p.collection or _NO_COLLECTION, "action_slug": p.action,
         "rule": p.rule, "condition": None if p.condition is None else p.condition.to_json(),
         "condition_on": p.condition_on, "can_approve": p.can_approve,
         "approvals_required": p.approvals_required, "self_approval": p.self_approval}
        for p in policies
    ]
    for row in rows:
        await conn.execute(sa.delete(policies_table).where(
            _p.role == row["role"], _p.collection == row["collection"],
            _p.action_slug == row["action_slug"],
        ))
    if rows:
        await conn.execute(sa.insert(policies_table), rows)


async def _put_settings(conn: AsyncConnection, settings: list[ActionSetting]) -> None:
    rows = [
        {"collection": s.collection or _NO_COLLECTION, "action_slug": s.action,
         "visible": s.visible,
         "enabled_if": None if s.enabled_if is None else s.enabled_if.to_json()}
        for s in settings
    ]
    for row in rows:
        await conn.execute(sa.delete(action_settings_table).where(
            _s.collection == row["collection"], _s.action_slug == row["action_slug"],
        ))
    if rows:
        await conn.execute(sa.insert(action_settings_table), rows)


async def _load(conn: AsyncConnection, version: int, dev_mode: bool) -> PermissionSnapshot:
    roles = [_role_of(m) for m in (await conn.execute(sa.select(roles_table))).mappings()]
    policies = [_policy_of(m) for m in (await conn.execute(sa.select(policies_table))).mappings()]
    settings = [
        _setting_of(m) for m in (await conn.execute(sa.select(action_settings_table))).mappings()
    ]
    return PermissionSnapshot(
        version=version, roles=roles, policies=[p for p in policies if p is not None],
        settings=settings, dev_mode=dev_mode,
    )


def _role_of(m: RowMapping) -> RoleSpec:
    readable = m["readable"]
    return RoleSpec(
        name=m["name"],
        description=m["description"],
        is_admin=bool(m["is_admin"]),
        read_all=bool(m["read_all"]),
        readable=frozenset(str(c) for c in readable) if isinstance(readable, list) else
        frozenset(),
    )


def _stored_filter(value: Any) -> Filter | None:
    # MariaDB's JSON is text underneath, which some drivers hand back undecoded.
    if isinstance(value, str):
        value = json.loads(value)
    return None if value is None else parse_filter(value)


def _policy_of(m: RowMapping) -> Policy | None:
    collection = m["collection"] or None
    try:
        condition = _stored_filter(m["condition"])
    except (ValueError, FilterError) as exc:
        # Written only after validation, so this is a hand-edited row: fail closed.
        log.warning("ignoring the policy of role %r for %s: its condition cannot be read (%s)",
                    m["role"], describe_action(collection, m["action_slug"]), exc)
        return None
    if m["rule"] not in RULES or m["condition_on"] not in CONDITION_ON:
        log.warning("ignoring the policy of role %r for %s: unknown rule %r", m["role"],
                    describe_action(collection, m["action_slug"]), m["rule"])
        return None
    return Policy(
        role=m["role"],
        collection=collection,
        action=m["action_slug"],
        rule=m["rule"],
        condition=condition,
        condition_on=m["condition_on"],
        can_approve=bool(m["can_approve"]),
        approvals_required=int(m["approvals_required"]),
        self_approval=bool(m["self_approval"]),
    )


def _setting_of(m: RowMapping) -> ActionSetting:
    collection = m["collection"] or None
    try:
        enabled_if = _stored_filter(m["enabled_if"])
    except (ValueError, FilterError) as exc:
        log.warning("switching off %s: its stored enabled_if cannot be read (%s)",
                    describe_action(collection, m["action_slug"]), exc)
        return ActionSetting(collection, m["action_slug"], visible=False)
    return ActionSetting(collection, m["action_slug"], bool(m["visible"]), enabled_if)


def _policy_order(policy: Policy) -> tuple[str, str, str]:
    return (policy.role, policy.collection or _NO_COLLECTION, policy.action)


def _setting_order(setting: ActionSetting) -> tuple[str, str]:
    return (setting.collection or _NO_COLLECTION, setting.action)
