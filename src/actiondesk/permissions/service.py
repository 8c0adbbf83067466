"""Roles, action policies and action settings: who may read, see, trigger and approve what.

Deny by default: a role without a policy for an action does not see it. The rules live in the
state database and are read into an immutable ``PermissionSnapshot`` kept in memory. Every
change bumps a version stamp (``actiondesk_meta``) in the same transaction, and ``snapshot()``
reads that one row before answering, so a change made by any process is seen by every
process at its next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.schema import Collection
from actiondesk.data.state import StateStore, meta_table
from actiondesk.data.state_schema.access import (
    action_settings_table,
    policies_table,
    roles_table,
    users_table,
)
from actiondesk.errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
)
from actiondesk.permissions.checks import (
    KnownActions,
    action_setting_from_data,
    invalid_error,
    normal_policy,
    normal_setting,
    policy_from_data,
    policy_problems,
    read_import,
    records_filter,
    role_from_data,
    role_problems,
    setting_problems,
)
from actiondesk.permissions.model import (
    COLLECTION_MAX,
    CONDITION_ON,
    NO_COLLECTION,
    ROLE_MAX,
    RULES,
    SLUG_MAX,
    VERSION_KEY,
    ActionSetting,
    ConditionOn,
    Decision,
    PermissionSnapshot,
    Policy,
    RoleSpec,
    Rule,
    describe_action,
)
from actiondesk.permissions.stamp import PermissionStamp
from actiondesk.permissions.store import (
    bump,
    bump_version,
    is_stamp,
    load_snapshot,
    lookup_ok,
    policy_cols,
    policy_order,
    put_policies,
    put_roles,
    put_settings,
    role_cols,
    setting_cols,
    setting_order,
)

__all__ = [
    "CONDITION_ON",
    "RULES",
    "VERSION_KEY",
    "ActionSetting",
    "ConditionOn",
    "Decision",
    "PermissionSnapshot",
    "PermissionsService",
    "Policy",
    "RoleSpec",
    "Rule",
    "action_setting_from_data",
    "bump_version",
    "describe_action",
    "keeping_an_admin",
    "policy_from_data",
    "role_from_data",
]


_ACTIVE_ADMINS = sa.select(sa.func.count()).select_from(
    users_table.join(roles_table, users_table.c.role == roles_table.c.name)
).where(users_table.c.active == sa.true(), roles_table.c.is_admin == sa.true())


@asynccontextmanager
async def keeping_an_admin(conn: AsyncConnection, change: str) -> AsyncIterator[None]:
    """Refuse (409) a change, made inside ``conn``'s transaction, that leaves no active user
    with an admin role where there was one: nobody could sign in to the settings to undo it.

    Call it after the version stamp is bumped, so concurrent changes are serialised and two
    admins cannot each remove the other.
    """
    before = await conn.scalar(_ACTIVE_ADMINS)
    yield
    if before and not await conn.scalar(_ACTIVE_ADMINS):
        raise ConflictError(
            f"{change} would leave no active admin; make another user an admin first",
            detail={"reason": "last_admin"},
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
        self.stamp = PermissionStamp(store)

    async def snapshot(self) -> PermissionSnapshot:
        """The current permissions: one small read (shared by concurrent requests, each
        getting a read that began after it asked), and a reload only after a change."""
        version = await self.stamp.current()
        cached = self._cached
        if cached is None or cached.version != version:
            async with self.store.read() as conn:
                # The stamp was read first: the tables read now are at least that new.
                cached = await load_snapshot(conn, version, self.dev_mode)
            self.reloads += 1
            if self._cached is None or self._cached.version <= version:
                self._cached = cached
        if cached.dev_mode != self.dev_mode:
            cached = self._cached = cached.with_dev_mode(self.dev_mode)
        return cached

    async def bump(self, conn: AsyncConnection | None = None) -> int:
        """Increment the version stamp and return it; inside ``conn``'s transaction if given.

        The stamp row is locked until that transaction ends, so changes are serialised.
        """
        if conn is not None:
            return await bump(conn)
        async with self._change() as own:
            return await bump(own)

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
        errors = role_problems(role)
        if not errors:
            role = replace(role, readable=frozenset(role.readable))
        KnownActions.of(None, known_collections, schemas).check_readable(errors, role.readable)
        if errors:
            raise invalid_error("role", errors)
        async with self._change() as conn:
            await bump(conn)
            async with keeping_an_admin(conn, f"changing role {role.name!r}"):
                await put_roles(conn, [role])
        return role

    async def delete_role(self, name: str) -> None:
        """Delete a role and its policies; 409 while users still have it."""
        if not lookup_ok(name, ROLE_MAX):
            raise NotFoundError(f"no role {name!r}")
        async with self._change() as conn:
            await bump(conn)
            found = await conn.scalar(sa.select(role_cols.name).where(role_cols.name == name))
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
            await conn.execute(sa.delete(policies_table).where(policy_cols.role == name))
            await conn.execute(sa.delete(roles_table).where(role_cols.name == name))

    # -- policies ----------------------------------------------------------------------

    async def list_policies(self, role: str | None = None) -> list[Policy]:
        snapshot = await self.snapshot()
        found = [p for p in snapshot.policies.values() if role is None or p.role == role]
        return sorted(found, key=policy_order)

    async def put_policy(
        self,
        policy: Policy,
        *,
        known_actions: Iterable[tuple[str | None, str]] | None = None,
        known_collections: Iterable[str] | None = None,
        schemas: Mapping[str, Collection] | None = None,
    ) -> Policy:
        """Create or replace the policy of a role for an action (the role must exist)."""
        policy = normal_policy(policy)
        errors = policy_problems(policy)
        KnownActions.of(known_actions, known_collections, schemas).check_action(
            errors, policy.collection, policy.action, records_filter(policy)
        )
        if errors:
            raise invalid_error("policy", errors)
        async with self._change() as conn:
            await bump(conn)
            known = sa.select(role_cols.name).where(role_cols.name == policy.role)
            if await conn.scalar(known) is None:
                raise BadRequestError(
                    f"invalid policy: no role {policy.role!r}; create it first",
                    fields={"role": "names no role"},
                )
            await put_policies(conn, [policy])
        return policy

    async def delete_policy(self, role: str, collection: str | None, action: str) -> None:
        collection = collection or None
        missing = NotFoundError(
            f"role {role!r} has no policy for {describe_action(collection, action)}"
        )
        if not (lookup_ok(role, ROLE_MAX) and lookup_ok(action, SLUG_MAX)
                and lookup_ok(collection, COLLECTION_MAX)):
            raise missing
        async with self._change() as conn:
            await bump(conn)
            done = await conn.execute(
                sa.delete(policies_table).where(
                    policy_cols.role == role,
                    policy_cols.collection == (collection or NO_COLLECTION),
                    policy_cols.action_slug == action,
                )
            )
            if done.rowcount != 1:
                raise missing

    # -- action settings ---------------------------------------------------------------

    async def list_action_settings(self) -> list[ActionSetting]:
        snapshot = await self.snapshot()
        return sorted(snapshot.settings.values(), key=setting_order)

    async def put_action_setting(
        self,
        setting: ActionSetting,
        *,
        known_actions: Iterable[tuple[str | None, str]] | None = None,
        known_collections: Iterable[str] | None = None,
        schemas: Mapping[str, Collection] | None = None,
    ) -> ActionSetting:
        setting = normal_setting(setting)
        errors = setting_problems(setting)
        KnownActions.of(known_actions, known_collections, schemas).check_action(
            errors, setting.collection, setting.action, ("enabled_if", setting.enabled_if)
        )
        if errors:
            raise invalid_error("action setting", errors)
        async with self._change() as conn:
            await bump(conn)
            await put_settings(conn, [setting])
        return setting

    async def delete_action_setting(self, collection: str | None, action: str) -> None:
        """Back to the defaults: visible, no extra condition."""
        collection = collection or None
        missing = NotFoundError(f"no settings for {describe_action(collection, action)}")
        if not (lookup_ok(action, SLUG_MAX) and lookup_ok(collection, COLLECTION_MAX)):
            raise missing
        async with self._change() as conn:
            await bump(conn)
            done = await conn.execute(
                sa.delete(action_settings_table).where(
                    setting_cols.collection == (collection or NO_COLLECTION),
                    setting_cols.action_slug == action,
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
                                                     key=policy_order)],
            "actions": [s.to_json() for s in sorted(snapshot.settings.values(),
                                                    key=setting_order)],
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
        read = read_import(data, KnownActions.of(known_actions, known_collections, schemas))
        problems = read.problems
        async with self._change() as conn:
            await bump(conn)
            # Roles given with a problem count as given: their policies are not reported too.
            imported = read.role_names
            existing = set() if replace else set(await conn.scalars(sa.select(role_cols.name)))
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
            async with keeping_an_admin(conn, "this import"):
                if replace:
                    for table in (policies_table, action_settings_table, roles_table):
                        await conn.execute(sa.delete(table))
                await put_roles(conn, read.roles)
                await put_policies(conn, [p for _, p in read.policies])
                await put_settings(conn, read.settings)

    @asynccontextmanager
    async def _change(self) -> AsyncIterator[AsyncConnection]:
        if not self._stamp_ready:
            await self._ensure_stamp()
        async with self.store.write() as conn:
            yield conn

    async def _ensure_stamp(self) -> None:
        # The row must exist before changes lock it: two first-ever changes would otherwise
        # both insert it, and one would fail.
        try:
            async with self.store.write() as conn:
                if await conn.scalar(sa.select(meta_table.c.key).where(is_stamp())) is None:
                    await conn.execute(sa.insert(meta_table).values(key=VERSION_KEY, value="0"))
        except IntegrityError:
            pass  # another process inserted it first
        self._stamp_ready = True


