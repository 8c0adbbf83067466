"""The approvals test desk with a plain bulk action ("Touch") every role may trigger, and a
role that may not read companies: what the activity and notification tests run against."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from actiondesk import ActionContext, Desk, Success
from actiondesk.permissions.service import Policy, RoleSpec
from tests.approvals.approvals_app import POLICIES, ROLES, USERS, build_desk, create_extra
from tests.auth_support import access_token, bearer, provision
from tests.databases import scratch_database
from tests.live_server import live_server
from tests.sample_schema import create_and_seed

SUPPORT, SUPPORT2 = "support@appr.test", "support2@appr.test"
MANAGER, MANAGER2 = "manager@appr.test", "manager2@appr.test"
VIEWER, ADMIN, OUTSIDER = "viewer@appr.test", "admin@appr.test", "outsider@appr.test"
REFUND_VALUES = {"amount": "12.50", "pin": "1234", "on": "2026-05-01T10:00:00Z"}


def activity_desk(url: str, **settings: Any) -> Desk:
    desk = build_desk(url, url, **settings)

    @desk.action("companies", name="Touch", scope="bulk")
    async def touch(ctx: ActionContext) -> Success:
        return Success("touched")

    @desk.action("orders", name="Touch order", scope="bulk")
    async def touch_order(ctx: ActionContext) -> Success:
        return Success("touched")

    return desk


@dataclass
class Served:
    base: str
    url: str
    tokens: dict[str, str]
    desk: Desk
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def api(self, email: str) -> httpx.Client:
        if email not in self.clients:
            self.clients[email] = httpx.Client(base_url=self.base + "/api",
                                               headers=bearer(self.tokens[email]), timeout=60)
        return self.clients[email]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@contextmanager
def serve_activity(backend: str, tmp: Any, **settings: Any) -> Iterator[Served]:
    """A fresh database of ``backend`` with the sample data, served with the roles, policies
    and users of the approvals tests, plus Touch for everyone and an outsider."""
    with scratch_database(backend, tmp) as url:
        asyncio.run(create_and_seed(url))
        asyncio.run(create_extra(url))
        desk = activity_desk(url, **settings)
        policies = [*POLICIES, *(Policy(role, "companies", "touch", rule="trigger")
                                 for role in ("support", "manager", "viewer")),
                    Policy("support", "orders", "touch-order", rule="trigger")]
        users = provision(desk, roles=[*ROLES, RoleSpec("outsider", readable=frozenset({"items"}))],
                          policies=policies,
                          users={**{e: (r, None) for e, r in USERS.items()},
                                 OUTSIDER: ("outsider", None)})
        tokens = {email: access_token(desk, user) for email, user in users.items()}
        with live_server(desk) as base:
            served = Served(base, url, tokens, desk)
            try:
                yield served
            finally:
                served.close()
