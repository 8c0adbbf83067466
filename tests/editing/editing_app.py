"""A desk whose collections have the built-in record actions: ``items`` holds a column of
every type (and a secret, hashed by the validate hook), ``owners`` is referred to by items
and slots, ``slots`` has a composite key. Roles: admin, a clerk whose edits of a price above
100 and deletes need approval, a manager who approves them, a viewer who may only read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk import Condition, Desk, Editing, InvalidValues
from actiondesk.data.urls import to_async_url
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.databases import scratch_database
from tests.live_server import live_server

metadata = sa.MetaData()
owners = sa.Table(
    "owners", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
items = sa.Table(
    "items", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("qty", sa.Integer, nullable=False, server_default="0"),
    sa.Column("big", sa.BigInteger, nullable=True),
    sa.Column("ratio", sa.Float, nullable=True),
    sa.Column("price", sa.Numeric(8, 3), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("day", sa.Date, nullable=True),
    sa.Column("at", sa.Time, nullable=True),
    sa.Column("seen", sa.DateTime(timezone=True), nullable=True),
    sa.Column("local", sa.DateTime, nullable=True),
    sa.Column("kind", sa.Enum("a", "b", "c", name="item_kind", native_enum=False),
              nullable=False),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("token", sa.Uuid, nullable=True),
    sa.Column("owner_id", sa.ForeignKey("owners.id"), nullable=True),
    sa.Column("secret", sa.String(100), nullable=True),
)
slots = sa.Table(
    "slots", metadata,
    sa.Column("owner_id", sa.ForeignKey("owners.id"), primary_key=True),
    sa.Column("slot_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", sa.String(20), nullable=False),
)

SECRET = "editing-secret"
EMAILS = {role: f"{role}@editing.test" for role in ("admin", "clerk", "manager", "viewer")}
ROLES = [
    RoleSpec("admin", is_admin=True, read_all=True),
    RoleSpec("clerk", read_all=True),
    RoleSpec("manager", read_all=True),
    RoleSpec("viewer", read_all=True),
]
EXPENSIVE = Condition("price", "greater_than", 100)
POLICIES = [
    *(Policy("admin", collection, slug) for collection in ("items", "owners", "slots")
      for slug in ("edit", "bulk-edit", "create", "delete")),
    Policy("clerk", "items", "edit", rule="approval", condition=EXPENSIVE,
           condition_on="values"),
    Policy("clerk", "items", "bulk-edit", rule="trigger"),
    Policy("clerk", "items", "create", rule="trigger"),
    Policy("clerk", "items", "delete", rule="approval"),
    Policy("clerk", "owners", "delete", rule="hidden"),
    Policy("manager", "items", "edit", rule="trigger", can_approve=True),
    Policy("manager", "items", "delete", rule="trigger", can_approve=True),
]


def check_item(operation: str, values: dict[str, Any]) -> dict[str, Any]:
    """The validate hook: refuses a label, hashes the secret."""
    if values.get("label") == "forbidden":
        raise InvalidValues({"label": "is not an allowed label"})
    if values.get("secret"):
        values["secret"] = "hashed:" + str(values["secret"])[::-1]
    return values


def make_desk(url: str, state_url: str) -> Desk:
    desk = Desk(database_url=url, state_url=state_url, secret_key=SECRET, models=[metadata],
                collections={"items": Editing(secret=["secret"], validate=check_item,
                                              defaults={"kind": "a", "active": True})})
    desk.collection("owners")
    desk.collection("slots")
    return desk


async def create_tables(url: str) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(owners.insert(), [{"id": i, "name": f"owner {i}"}
                                                 for i in (1, 2, 3)])
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class EditingServer:
    base: str
    url: str
    tokens: dict[str, str]

    def client(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.base + "/api", headers=bearer(self.tokens[role]),
                            timeout=60)

    def rows(self, query: str) -> list[Any]:
        async def read() -> list[Any]:
            engine = create_async_engine(to_async_url(self.url))
            try:
                async with engine.connect() as conn:
                    return list((await conn.execute(sa.text(query))).all())
            finally:
                await engine.dispose()

        return asyncio.run(read())


def serve(backend: str, tmp: Path, password: str | None = None) -> Iterator[EditingServer]:
    """The desk served over HTTP; its users sign in with ``password`` (None: tokens only)."""
    with scratch_database(backend, tmp) as url:
        asyncio.run(create_tables(url))
        desk = make_desk(url, f"sqlite:///{tmp / 'state.db'}")
        users = provision(desk, roles=ROLES, policies=POLICIES,
                          users={email: (role, password) for role, email in EMAILS.items()})
        tokens = {role: access_token(desk, users[email]) for role, email in EMAILS.items()}
        with live_server(desk) as base:
            yield EditingServer(base, url, tokens)
