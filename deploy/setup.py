"""One-shot set-up of the compose deployment, safe to repeat: the state database migrated,
the demo dataset seeded, an ``admin`` role that may run every action, and the administrator
of ACTIONDESK_ADMIN_EMAIL / ACTIONDESK_ADMIN_PASSWORD created if absent. Other roles and
users: the Settings page, the settings API or ``actiondesk permissions import``."""

from __future__ import annotations

import asyncio
import os

from app import desk

from actiondesk.data.urls import to_async_url
from actiondesk.demo.seed import seed_demo
from actiondesk.permissions.service import Policy, RoleSpec


async def main() -> None:
    url = to_async_url(desk.settings.database_url).render_as_string(hide_password=False)
    seeded = await seed_demo(url)
    await desk.start()
    try:
        email = os.environ["ACTIONDESK_ADMIN_EMAIL"]
        await desk.permissions.put_role(RoleSpec("admin", is_admin=True, read_all=True))
        for action in desk.registry.all():
            await desk.permissions.put_policy(
                Policy("admin", action.collection, action.slug, "trigger", can_approve=True))
        if await desk.users.by_email(email) is None:
            await desk.users.create(email, role="admin",
                                    password=os.environ["ACTIONDESK_ADMIN_PASSWORD"])
    finally:
        await desk.stop()
    print(f"set up: demo data {'seeded' if seeded else 'already there'}; sign in as {email}")


if __name__ == "__main__":
    asyncio.run(main())
