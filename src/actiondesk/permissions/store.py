"""The permission tables: version stamp, writes, and loading a snapshot."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.filters import Filter, parse_filter
from actiondesk.data.state import meta_table
from actiondesk.data.state_schema.access import (
    action_settings_table,
    policies_table,
    roles_table,
)
from actiondesk.errors import (
    FilterError,
)
from actiondesk.permissions.model import (
    CONDITION_ON,
    NO_COLLECTION,
    RULES,
    VERSION_KEY,
    ActionSetting,
    PermissionSnapshot,
    Policy,
    RoleSpec,
    describe_action,
    log,
)

# -- the tables ---------------------------------------------------------------------------

role_cols = roles_table.c
policy_cols = policies_table.c
setting_cols = action_settings_table.c


def is_stamp() -> sa.ColumnElement[bool]:
    return meta_table.c.key == VERSION_KEY


async def bump(conn: AsyncConnection) -> int:
    current = await conn.scalar(
        sa.select(meta_table.c.value).where(is_stamp()).with_for_update()
    )
    if current is None:
        await conn.execute(sa.insert(meta_table).values(key=VERSION_KEY, value="1"))
        return 1
    version = as_int(current) + 1
    await conn.execute(sa.update(meta_table).where(is_stamp()).values(value=str(version)))
    return version


# Users change the stamp too (role, activation, password), so per-process caches of users
# and permissions are checked with one read per request.
bump_version = bump


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def lookup_ok(value: str | None, limit: int) -> bool:
    # A key that no row can have must not reach the database (PostgreSQL refuses NUL).
    return value is None or (0 < len(value) <= limit and "\x00" not in value)


async def put_roles(conn: AsyncConnection, roles: list[RoleSpec]) -> None:
    if not roles:
        return
    await conn.execute(sa.delete(roles_table).where(role_cols.name.in_([r.name for r in roles])))
    await conn.execute(sa.insert(roles_table), [
        {"name": r.name, "description": r.description, "is_admin": r.is_admin,
         "read_all": r.read_all, "readable": sorted(r.readable), "can_export": r.can_export}
        for r in roles
    ])


async def put_policies(conn: AsyncConnection, policies: list[Policy]) -> None:
    rows = [
        {"role": p.role, "collection": p.collection or NO_COLLECTION, "action_slug": p.action,
         "rule": p.rule, "condition": None if p.condition is None else p.condition.to_json(),
         "condition_on": p.condition_on, "can_approve": p.can_approve,
         "approvals_required": p.approvals_required, "self_approval": p.self_approval}
        for p in policies
    ]
    for row in rows:
        await conn.execute(sa.delete(policies_table).where(
            policy_cols.role == row["role"], policy_cols.collection == row["collection"],
            policy_cols.action_slug == row["action_slug"],
        ))
    if rows:
        await conn.execute(sa.insert(policies_table), rows)


async def put_settings(conn: AsyncConnection, settings: list[ActionSetting]) -> None:
    rows = [
        {"collection": s.collection or NO_COLLECTION, "action_slug": s.action,
         "visible": s.visible,
         "enabled_if": None if s.enabled_if is None else s.enabled_if.to_json()}
        for s in settings
    ]
    for row in rows:
        await conn.execute(sa.delete(action_settings_table).where(
            setting_cols.collection == row["collection"],
            setting_cols.action_slug == row["action_slug"],
        ))
    if rows:
        await conn.execute(sa.insert(action_settings_table), rows)


async def load_snapshot(conn: AsyncConnection, version: int, dev_mode: bool) -> PermissionSnapshot:
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
        can_export=bool(m["can_export"]),
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


def policy_order(policy: Policy) -> tuple[str, str, str]:
    return (policy.role, policy.collection or NO_COLLECTION, policy.action)


def setting_order(setting: ActionSetting) -> tuple[str, str]:
    return (setting.collection or NO_COLLECTION, setting.action)
