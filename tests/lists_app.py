"""A desk over the sample schema for the list features (exports, saved views), served once
per backend, with users of three roles: an admin who exports, a support user who reads and
exports two collections, and a reader who may not export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from actiondesk import Desk
from actiondesk.permissions.service import RoleSpec
from tests.auth_support import PASSWORD, access_token, client, provision
from tests.live_server import live_server
from tests.sample_schema import metadata

ROLES = (
    RoleSpec("admin", is_admin=True, read_all=True, can_export=True),
    RoleSpec("support", readable=frozenset({"companies", "transactions"}), can_export=True),
    RoleSpec("reader", read_all=True),
)
USERS = {"admin@lists.example": "admin", "sam@lists.example": "support",
         "rita@lists.example": "reader", "sue@lists.example": "support"}


@dataclass(frozen=True)
class ListsSite:
    base: str
    desk: Desk
    tokens: dict[str, str]  # by email
    data_url: str  # actiondesk's tables are in it too

    def api(self, email: str = "admin@lists.example") -> httpx.Client:
        return client(self.base + "/api", self.tokens[email])


def build_desk(data_url: str, state_url: str) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key="lists-secret",
                models=[metadata])
    desk.exports.batch_size = 7  # several keyset steps on the sample's 30 companies
    desk.view("companies", "Live companies",
              filter={"field": "status", "operator": "equal", "value": "live"},
              sort="-capital", columns=["id", "name", "capital"], page_size=10)
    desk.view("companies", "Admins' churned", roles=["admin"],
              filter={"field": "status", "operator": "equal", "value": "churned"})
    return desk


def serve_lists(data_url: str) -> Iterator[ListsSite]:
    """Served with actiondesk's tables in the same database, so the runs and views are
    stored on the backend under test."""
    desk = build_desk(data_url, data_url)
    users = provision(desk, roles=ROLES,
                      users={email: (role, PASSWORD if email.startswith("sam") else None)
                             for email, role in USERS.items()})
    tokens = {email: access_token(desk, user) for email, user in users.items()}
    with live_server(desk) as base:
        yield ListsSite(base, desk, tokens, data_url)
