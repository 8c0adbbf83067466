"""Signed-in test callers: roles, users and bearer tokens provisioned before a server starts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from actiondesk import Desk
from actiondesk.permissions.service import ActionSetting, Policy, RoleSpec
from actiondesk.services.users import User

T = TypeVar("T")

ADMIN_EMAIL = "admin@test.example"
PASSWORD = "correct-horse-battery"


async def _provision(desk: Desk, email: str, role: RoleSpec) -> str:
    await desk.start()
    try:
        if (await desk.permissions.snapshot()).role(role.name) is None:
            await desk.permissions.put_role(role)
        user = await desk.users.by_email(email) or await desk.users.create(
            email, role=role.name, password=PASSWORD, first_name="Ada", last_name="Admin",
            team="Ops",
        )
        return desk.tokens.access(user, dt.timedelta(hours=4))
    finally:
        await desk.stop()


def token_for(desk: Desk, email: str = ADMIN_EMAIL,
              role: RoleSpec | None = None) -> str:
    """A bearer token for a user (created with its role if absent); call before serving."""
    spec = role or RoleSpec("admin", is_admin=True, read_all=True)
    return asyncio.run(_provision(desk, email, spec))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=bearer(token), timeout=60)


@dataclass(frozen=True)
class ServedDesk:
    """A desk served over HTTP with provisioned users (tests/http/test_auth.py and the
    security suite): where it is, its databases, and its admin's bearer token."""

    base: str
    desk: Desk
    data_url: str
    state_url: str
    users: dict[str, User]
    admin_token: str

    @property
    def api(self) -> str:
        return self.base + "/api"

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers=bearer(self.admin_token), timeout=30)


def with_started(desk: Desk, work: Callable[[Desk], Awaitable[T]]) -> T:
    """Run ``work`` on a started desk in its own event loop, then stop the desk: to provision
    before a server starts, or to change the state database as another process would."""

    async def main() -> T:
        await desk.start()
        try:
            return await work(desk)
        finally:
            await desk.stop()

    return asyncio.run(main())


def provision(
    desk: Desk,
    *,
    roles: Iterable[RoleSpec] = (),
    policies: Iterable[Policy] = (),
    settings: Iterable[ActionSetting] = (),
    users: Mapping[str, tuple[str, str | None]] | None = None,
) -> dict[str, User]:
    """Store roles, policies and action settings, and create users (email -> (role,
    password or None: a user without a password costs no argon2 hash)); call before serving."""

    async def work(desk: Desk) -> dict[str, User]:
        for role in roles:
            await desk.permissions.put_role(role)
        for policy in policies:
            await desk.permissions.put_policy(policy)
        for setting in settings:
            await desk.permissions.put_action_setting(setting)
        made = {}
        for email, (role_name, password) in (users or {}).items():
            made[email] = await desk.users.by_email(email) or await desk.users.create(
                email, role=role_name, password=password
            )
        return made

    return with_started(desk, work)


def access_token(desk: Desk, user: User, hours: float = 4) -> str:
    return desk.tokens.access(user, dt.timedelta(hours=hours))
