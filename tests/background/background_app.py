"""A desk with background actions over one ``items`` table, for the runner tests.

Every handler adds 1 to ``counter`` of the records it processes, inside the batch's
transaction: after a run, the counters prove how many times each record was processed.
``env_desk.py`` builds the same desk from ``ACTIONDESK_*`` variables for server and worker
subprocesses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk import ActionContext, ActionError, Desk, Success
from actiondesk import fields as f
from actiondesk.data.urls import to_async_url
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.support import jsonapi

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("counter", sa.Integer, nullable=False),
)

ITEMS = 120
SLUGS = ("process", "explode", "touch", "sync-touch", "refuse-politely", "first-batches",
         "split", "split-slowly")
PARTS = 4
ROLES = [RoleSpec("admin", is_admin=True, read_all=True), RoleSpec("ops", read_all=True),
         RoleSpec("viewer", read_all=True), RoleSpec("clerk", read_all=True),
         RoleSpec("boss", read_all=True)]
POLICIES = [
    *(Policy("ops", "items", slug) for slug in SLUGS),
    Policy("ops", None, "count-down"),
    Policy("clerk", "items", "process", rule="approval"),
    Policy("boss", "items", "process", can_approve=True),
    Policy("clerk", "items", "hang", rule="approval"),
    Policy("boss", "items", "hang", can_approve=True),
]
USERS = {"admin@bg.test": "admin", "ops@bg.test": "ops", "ops2@bg.test": "ops",
         "viewer@bg.test": "viewer", "clerk@bg.test": "clerk", "boss@bg.test": "boss"}
ADMIN, OPS, OPS2, VIEWER = "admin@bg.test", "ops@bg.test", "ops2@bg.test", "viewer@bg.test"
CLERK, BOSS = "clerk@bg.test", "boss@bg.test"
SECRET = "background-test-secret"


def build_desk(
    data_url: str | None = None, state_url: str | None = None, **options: Any
) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET,
                models=[metadata], **options)

    @desk.action("items", name="Process", scope="bulk", background=True,
                 form=[f.Number("delay"), f.Number("batch"), f.Boolean("ranges")])
    async def process(ctx: ActionContext) -> Success:
        delay = float(ctx.values.get("delay") or 0)
        batches = ctx.batches(size=int(ctx.values.get("batch") or 10),
                              rows=not ctx.values.get("ranges"))
        async for batch in batches:
            await batch.conn.execute(
                items.update().where(batch.where)
                .values(counter=items.c.counter + 1, status="done"))
            if delay:
                await asyncio.sleep(delay)
        return Success(f"{batches.done} processed")

    @desk.action("items", name="Explode", scope="bulk", background=True)
    async def explode(ctx: ActionContext) -> None:
        async for batch in ctx.batches(size=10):
            await batch.conn.execute(
                items.update().where(batch.where).values(counter=items.c.counter + 1))
            if batch.number == 2:
                raise RuntimeError("boom at batch 2")

    @desk.action("items", name="Refuse politely", scope="bulk", background=True)
    async def refuse_politely(ctx: ActionContext) -> None:
        raise ActionError("not today")

    @desk.action("items", name="Touch", scope="bulk", background_above=5)
    async def touch(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        async with ctx.async_db.begin() as conn:
            result = await conn.execute(items.update().where(ctx.selection.where)
                                        .values(counter=items.c.counter + 1))
        return Success(f"{result.rowcount} touched")

    @desk.action("items", name="Sync touch", scope="bulk", background=True)
    def sync_touch(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        seen = 0
        for batch in ctx.selection.batches_sync(ctx.sync_db, size=25):
            with ctx.sync_db.begin() as conn:
                conn.execute(items.update().where(items.c.id.in_([r["id"] for r in batch]))
                             .values(counter=items.c.counter + 1))
            seen += len(batch)
        return Success(f"{seen} touched in a thread")

    @desk.action("items", name="First batches", scope="bulk", form=[f.Number("stop")])
    async def first_batches(ctx: ActionContext) -> Success:
        # Inline (no background): batches work the same; leaving early keeps the batch.
        batches = ctx.batches(size=10)
        async for batch in batches:
            await batch.conn.execute(
                items.update().where(batch.where).values(counter=items.c.counter + 1))
            if batch.number == ctx.values["stop"]:
                break
        return Success(f"{batches.done} done")

    @desk.action("items", name="Hang", scope="bulk", form=[f.Number("delay")])
    async def hang(ctx: ActionContext) -> Success:
        # Inline: its effect is committed, then it waits (for a test to kill its server).
        assert ctx.selection is not None
        async with ctx.async_db.begin() as conn:
            await conn.execute(items.update().where(ctx.selection.where)
                               .values(counter=items.c.counter + 1))
        await asyncio.sleep(float(ctx.values.get("delay") or 0))
        return Success("hung")

    def combine(parts: list[dict[str, Any]]) -> Success:
        return Success(f"{sum(p['done'] for p in parts)} processed in {len(parts)} partitions, "
                       f"from {parts[0]['first']}")

    async def split_handler(ctx: ActionContext) -> dict[str, Any]:
        delay = float(ctx.values.get("delay") or 0)
        fail = ctx.values.get("fail")
        batches = ctx.batches(size=int(ctx.values.get("batch") or 10))
        first = None
        async for batch in batches:
            first = batch.rows[0]["id"] if first is None else first
            await batch.conn.execute(
                items.update().where(batch.where)
                .values(counter=items.c.counter + 1, status="done"))
            if fail is not None and fail in batch.rows.column("id"):
                raise RuntimeError(f"boom at {fail}")
            if delay:
                await asyncio.sleep(delay)
        return {"done": batches.done, "first": first}

    partition_form = [f.Number("delay"), f.Number("batch"), f.Number("fail")]
    desk.action("items", name="Split", scope="bulk", partitions=PARTS, combine=combine,
                form=partition_form)(split_handler)
    desk.action("items", name="Split slowly", scope="bulk", partitions=PARTS, max_parallel=2,
                form=partition_form)(split_handler)

    @desk.action(name="Count down", background=True)
    async def count_down(ctx: ActionContext) -> Success:
        for done in range(4):
            await ctx.progress(done, 3)
        return Success("lift-off")

    return desk


async def create_items(url: str, count: int = ITEMS) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
            for start in range(0, count, 5000):
                await conn.execute(items.insert(), [
                    {"id": i, "status": "new", "counter": 0}
                    for i in range(start + 1, min(start + 5000, count) + 1)])
    finally:
        await engine.dispose()


def counters(url: str) -> list[int]:
    async def read() -> list[int]:
        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.select(items.c.counter).order_by(items.c.id))
                return [int(r[0]) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def tokens_for(desk: Desk) -> dict[str, str]:
    users = provision(desk, roles=ROLES, policies=POLICIES,
                      users={email: (role, None) for email, role in USERS.items()})
    return {email: access_token(desk, user) for email, user in users.items()}


ALL = {"all_records": True}


@dataclass
class Api:
    """Clients of one running server, per user."""

    base: str
    tokens: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def __call__(self, email: str = OPS) -> httpx.Client:
        if email not in self.clients:
            self.clients[email] = httpx.Client(base_url=self.base + "/api", timeout=60,
                                               headers=bearer(self.tokens[email]))
        return self.clients[email]

    def start(self, slug: str = "process", email: str = OPS, ids: list[str] | None = None,
              values: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
        """Execute a background action; the queued run (asserting the 202)."""
        if not ids and not attributes:
            attributes = dict(ALL)
        answer = self(email).post(f"/collections/items/actions/{slug}",
                                  json=jsonapi(ids, values, **attributes))
        assert answer.status_code == 202, answer.text
        run: dict[str, Any] = answer.json()["run"]
        assert answer.headers["location"].endswith(f"/api/runs/{run['id']}")
        return run

    def run(self, run_id: str, email: str = OPS) -> dict[str, Any]:
        answer = self(email).get(f"/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def wait(self, run_id: str, until: Any = None, email: str = OPS,
             timeout: float = 90) -> dict[str, Any]:
        """Poll the run until ``until(run)`` (default: it finished)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id, email)
            if (until(run) if until else run["status"] not in ("queued", "running")):
                return run
            assert time.monotonic() < deadline, f"run never got there: {run}"
            time.sleep(0.05)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


@contextmanager
def api_of(base: str, tokens: dict[str, str]) -> Iterator[Api]:
    api = Api(base, tokens)
    try:
        yield api
    finally:
        api.close()


def lease(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)
