"""Signed-in test callers: roles, users and bearer tokens provisioned before a server starts."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from actiondesk import Desk
from actiondesk.services.permissions import RoleSpec

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
