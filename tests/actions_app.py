"""A desk over the sample schema with actions covering every feature of the engine."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from actiondesk import (
    ActionContext,
    ActionError,
    Condition,
    Desk,
    Error,
    File,
    FormContext,
    Html,
    Redirect,
    Refresh,
    Success,
    Webhook,
)
from actiondesk import fields as f
from tests.sample_schema import companies, metadata, order_lines

# Lets a test hold a sync handler inside its worker thread while it checks the server still
# answers other requests.
SYNC_GATE = threading.Event()
SYNC_ENTERED = threading.Event()
CALLS: dict[str, int] = {"counted": 0}

ALL_TYPES = [
    f.String("s", required=True, min_length=2, max_length=10, pattern=r"[a-z]+"),
    f.Text("t"),
    f.Number("n", min=0, max=100),
    f.Decimal("d", min="0.01", max="1000"),
    f.Boolean("b"),
    f.Date("date"),
    f.DateOnly("day", min="2020-01-01"),
    f.Time("time"),
    f.DateTime("dt"),
    f.Enum("e", enum_values=["low", "high"]),
    f.Json("j"),
    f.File("file", max_file_bytes=1000),
    f.FileList("files", max_file_bytes=1000),
    f.StringList("sl", max_length=3),
    f.NumberList("nl"),
    f.EnumList("el", enum_values=["a", "b"]),
    f.Reference("ref", reference="companies"),
    f.String("password", secret=True),
    f.String("fixed", read_only=True, default="locked"),
]


def _describe(value: Any) -> Any:
    if isinstance(value, f.FileValue):
        return ["FileValue", value.filename, value.mime, value.content.decode("latin-1")]
    if isinstance(value, list):
        return [_describe(v) for v in value]
    return [type(value).__name__, str(value)]


def _capital_max(ctx: FormContext) -> str:
    return "999999"


async def _record_capital(ctx: FormContext) -> Any:
    if ctx.selection is None:
        return None
    record = await ctx.selection.record()
    return str(record["capital"])


def build_desk(url: str, state_url: str) -> Desk:
    desk = Desk(database_url=url, state_url=state_url, secret_key="k", models=[metadata],
                dev_mode=True)

    @desk.action(
        "companies",
        name="Mark as Live",
        enabled_if=Condition("status", "not_equal", "live"),
        disabled_reason="The company was already live!",
    )
    async def mark_as_live(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        async with ctx.async_db.begin() as conn:
            await conn.execute(
                companies.update().where(ctx.selection.where).values(status="live")
            )
        return Success("Company is now live!")

    @desk.action("companies", name="Deactivate", scope="bulk",
                 enabled_if=lambda row: row["active"], disabled_reason="already inactive")
    async def deactivate(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        async with ctx.async_db.begin() as conn:
            result = await conn.execute(
                companies.update().where(ctx.selection.where).values(active=False)
            )
        return Success(f"{result.rowcount} deactivated")

    @desk.action("companies", name="Count", scope="bulk")
    async def count(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        seen = []
        async for batch in ctx.selection.batches(size=7):
            seen.extend(row["id"] for row in batch)
        total = await ctx.selection.count()
        parent = ctx.parent.association if ctx.parent else None
        return Success(json.dumps({"ids": seen, "count": total, "parent": parent}))

    @desk.action("transactions", name="Count", scope="bulk")
    async def count_transactions(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        total = await ctx.selection.count()
        parent = ctx.parent.id if ctx.parent else None
        return Success(json.dumps({"count": total, "parent": parent}))

    @desk.action("companies", name="Echo", form=ALL_TYPES)
    async def echo(ctx: ActionContext) -> Success:
        shown = {k: _describe(v) for k, v in ctx.values.items() if k != "password"}
        shown["password_length"] = len(ctx.values["password"] or "")
        return Success(json.dumps(shown))

    @desk.action(
        "companies",
        name="Dynamic",
        form=[
            f.Enum("kind", enum_values=["refund", "charge"], default="charge", required=True),
            f.Text(
                "reason",
                visible_if=Condition("kind", "equal", "refund"),
                required=lambda ctx: ctx.values.get("kind") == "refund",
            ),
            f.Decimal(
                "amount",
                label=lambda ctx: f"Amount for {ctx.caller.email}",
                default=_record_capital,
                max=_capital_max,
                description=lambda ctx: "<b>html</b> is escaped by clients",
            ),
        ],
    )
    async def dynamic(ctx: ActionContext) -> Success:
        return Success(json.dumps({k: str(v) for k, v in ctx.values.items()}))

    @desk.action("companies", name="Html")
    async def html(ctx: ActionContext) -> Html:
        return Html('<p class="ok" onclick="x()">Paid<script>alert(1)</script>'
                    '<a href="javascript:alert(1)">x</a></p>')

    @desk.action("companies", name="Fail politely")
    async def fail_politely(ctx: ActionContext) -> Error:
        return Error("Card declined", html="<b>declined</b><img src=x onerror=alert(1)>")

    @desk.action("companies", name="Raise action error")
    async def raise_action_error(ctx: ActionContext) -> None:
        raise ActionError("Not today")

    @desk.action("companies", name="Crash")
    async def crash(ctx: ActionContext) -> None:
        raise RuntimeError("secret internal detail")

    @desk.action("companies", name="Bad redirect")
    async def bad_redirect(ctx: ActionContext) -> Redirect:
        return Redirect("javascript:alert(1)")

    @desk.action("companies", name="Nothing")
    async def nothing(ctx: ActionContext) -> None:
        return None

    @desk.action("companies", name="Hook")
    async def hook(ctx: ActionContext) -> Webhook:
        return Webhook("https://hooks.example.com/x", method="post",
                       headers={"X-Token": "t"}, body={"id": 1})

    @desk.action("companies", name="Go inside")
    async def go_inside(ctx: ActionContext) -> Redirect:
        return Redirect("/collections/transactions")

    @desk.action("companies", name="Go outside")
    async def go_outside(ctx: ActionContext) -> Redirect:
        return Redirect("https://example.com/track?id=1")

    @desk.action("companies", name="Refresh", form=[f.Number("n")])
    async def refresh(ctx: ActionContext) -> Refresh:
        return Refresh(["emitter_company_transactions"], message="Refreshed")

    @desk.action("companies", name="Download", download=True)
    async def download(ctx: ActionContext) -> File:
        assert ctx.selection is not None
        record = await ctx.selection.record()
        return File(filename=f'report "{record["id"]}"\r\n.txt',
                    content=f"company {record['name']}".encode(), mime="text/plain")

    @desk.action("companies", name="Stream", download=True)
    async def stream(ctx: ActionContext) -> File:
        async def chunks() -> Any:
            for i in range(3):
                yield f"chunk{i};".encode()

        return File(filename="stream.csv", stream=chunks(), mime="text/csv")

    @desk.action("companies", name="Sync update")
    def sync_update(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        SYNC_ENTERED.set()
        if not SYNC_GATE.wait(timeout=30):
            raise ActionError("gate never opened")
        with ctx.sync_db.begin() as conn:
            conn.execute(companies.update().where(ctx.selection.where).values(note="synced"))
        record = ctx.selection.record_sync(ctx.sync_db)
        return Success(f"note={record['note']}")

    @desk.action("companies", name="Counted", form=[f.Number("n")])
    async def counted(ctx: ActionContext) -> Success:
        CALLS["counted"] += 1
        return Success(f"call {CALLS['counted']}")

    @desk.action("order_lines", name="Relabel", scope="bulk", form=[f.String("label")])
    async def relabel(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        async with ctx.async_db.begin() as conn:
            result = await conn.execute(
                order_lines.update().where(ctx.selection.where).values(
                    label=ctx.values["label"]
                )
            )
        return Success(f"{result.rowcount} relabelled")

    @desk.action(name="Ping", form=[f.String("who", required=True)])
    async def ping(ctx: ActionContext) -> Success:
        return Success(f"pong {ctx.values['who']} from {ctx.caller.id}")

    @desk.action("companies", name="Recount all", scope="global")
    async def recount(ctx: ActionContext) -> Success:
        assert ctx.collection is not None and ctx.collection.name == "companies"
        assert ctx.selection is None
        async with ctx.async_db.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(companies)))
            return Success(f"{total.scalar_one()} companies")

    return desk


def state_url_in(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'state.db'}"
