"""A desk over the sample schema whose actions need approval, with the roles that request
and approve them. Handlers write each call to a ``handler_calls`` table of the user's
database, so tests count executions across server threads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk import ActionContext, Condition, Desk, File, Success
from actiondesk import fields as f
from actiondesk.data.urls import to_async_url
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, provision
from tests.live_server import live_server
from tests.sample_schema import companies, metadata

SECRET = "approvals-secret"
extra = sa.MetaData()
handler_calls = sa.Table(
    "handler_calls",
    extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("caller", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
)
items = sa.Table(
    "items",
    extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("flagged", sa.Boolean, nullable=False),
)

NOT_CHURNED = Condition("status", "not_equal", "churned")
ROLES = [
    RoleSpec("admin", is_admin=True, read_all=True),
    RoleSpec("support", read_all=True),
    RoleSpec("manager", read_all=True),
    RoleSpec("lead", read_all=True),
    RoleSpec("viewer", read_all=True),
]
POLICIES = [
    Policy("support", "companies", "refund", rule="approval"),
    Policy("support", "companies", "wire", rule="approval"),
    Policy("support", "companies", "report", rule="approval"),
    Policy("support", "items", "flag-items", rule="approval"),
    Policy("manager", "companies", "refund", rule="approval", can_approve=True),
    Policy("manager", "companies", "wire", rule="trigger", can_approve=True,
           approvals_required=2),
    Policy("manager", "companies", "report", rule="trigger", can_approve=True),
    Policy("manager", "items", "flag-items", rule="trigger", can_approve=True),
    Policy("support", "companies", "tag", rule="approval"),
    Policy("manager", "companies", "tag", rule="trigger", can_approve=True),
    Policy("lead", "companies", "refund", rule="approval", can_approve=True,
           self_approval=True),
    Policy("viewer", "companies", "refund", rule="trigger"),
]
USERS = {
    "support@appr.test": "support",
    "support2@appr.test": "support",
    "manager@appr.test": "manager",
    "manager2@appr.test": "manager",
    "lead@appr.test": "lead",
    "viewer@appr.test": "viewer",
    "admin@appr.test": "admin",
}


async def _called(ctx: ActionContext, detail: str | None = None) -> None:
    async with ctx.async_db.begin() as conn:
        await conn.execute(handler_calls.insert().values(
            action=ctx.action.slug, run_id=ctx.run_id, caller=ctx.caller.email, detail=detail))


def build_desk(url: str, state_url: str, *, approval_ttl: dt.timedelta | None = None,
               **settings: Any) -> Desk:
    desk = Desk(database_url=url, state_url=state_url, secret_key=SECRET,
                models=[metadata, extra], approval_ttl=approval_ttl, **settings)

    @desk.action("companies", name="Refund", scope="bulk", enabled_if=NOT_CHURNED,
                 disabled_reason="churned companies cannot be refunded",
                 form=[f.Decimal("amount", required=True), f.String("pin", secret=True),
                       f.Date("on")])
    async def refund(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        amount = ctx.values["amount"]
        shown = f"{type(amount).__name__}:{amount};{type(ctx.values['on']).__name__}"
        async with ctx.async_db.begin() as conn:
            await conn.execute(companies.update().where(ctx.selection.where)
                               .values(note=f"refunded {amount}"))
        await _called(ctx, shown)
        return Success(f"refunded {amount} on {await ctx.selection.count()} companies")

    @desk.action("companies", name="Wire", scope="bulk")
    async def wire(ctx: ActionContext) -> Success:
        await _called(ctx)
        return Success("wired")

    @desk.action("companies", name="Report", download=True)
    async def report(ctx: ActionContext) -> File:
        assert ctx.selection is not None
        record = await ctx.selection.record()
        await _called(ctx)
        return File(filename="report.txt", content=f"company {record['id']}".encode(),
                    mime="text/plain")

    @desk.action("companies", name="Tag", scope="bulk")
    def tag(ctx: ActionContext) -> Success:
        # A sync handler: the frozen selection is read from its worker thread.
        assert ctx.selection is not None
        seen = [row["id"] for batch in ctx.selection.batches_sync(ctx.sync_db, size=2)
                for row in batch]
        first = ctx.selection.record_sync(ctx.sync_db)["id"]
        with ctx.sync_db.begin() as conn:
            conn.execute(companies.update().where(ctx.selection.where).values(note="tagged"))
            conn.execute(handler_calls.insert().values(
                action="tag", run_id=ctx.run_id, caller=ctx.caller.email,
                detail=f"{seen} {first} {ctx.selection.count_sync(ctx.sync_db)}"))
        return Success("tagged")

    @desk.action("items", name="Flag items", scope="bulk")
    async def flag_items(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        changed = 0
        async with ctx.async_db.begin() as conn:
            async for where in ctx.selection.where_batches(5000):
                done = await conn.execute(items.update().where(where).values(flagged=True))
                changed += done.rowcount
        await _called(ctx, str(changed))
        return Success(f"{changed} flagged")

    return desk


@contextmanager
def serve(
    desk: Desk, policies: Sequence[Policy] = POLICIES
) -> Iterator[tuple[str, dict[str, str]]]:
    """``desk`` over HTTP with the roles, ``policies`` and users above: its base URL, and a
    bearer token per user's email."""
    users = provision(desk, roles=ROLES, policies=policies,
                      users={email: (role, None) for email, role in USERS.items()})
    tokens = {email: access_token(desk, user) for email, user in users.items()}
    with live_server(desk) as base:
        yield base, tokens


async def create_extra(url: str, item_count: int = 0) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(extra.create_all)
            for start in range(0, item_count, 10_000):
                await conn.execute(items.insert(), [
                    {"id": i, "flagged": False}
                    for i in range(start + 1, min(start + 10_000, item_count) + 1)])
    finally:
        await engine.dispose()
