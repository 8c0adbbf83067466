"""The demo's background action: *Audit balances* walks the selected accounts in checkpointed
batches and compares each balance with its incomes minus its outcomes. It pauses between
batches (``Seconds per batch``), so the demo shows what a long run looks like: its progress
moving on the run page, Cancel stopping it between two batches, and a restarted server resuming
it from its last checkpoint instead of starting again."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk import fields as f
from actiondesk.actions.context import ActionContext
from actiondesk.actions.results import Success
from actiondesk.demo.models import Account, Income, Outcome
from actiondesk.desk import Desk

ACCOUNTS = cast(sa.Table, Account.__table__)
INCOMES = cast(sa.Table, Income.__table__)
OUTCOMES = cast(sa.Table, Outcome.__table__)
BATCH_SIZE = 25
DEFAULT_PAUSE = 0.5
MAX_PAUSE = 10


async def _sums(conn: AsyncConnection, table: sa.Table, keys: list[int]) -> dict[int, Decimal]:
    """The total amount of ``table`` (incomes or outcomes) per account, for ``keys``."""
    result = await conn.execute(
        sa.select(table.c.account_id, sa.func.sum(table.c.amount))
        .where(table.c.account_id.in_(keys)).group_by(table.c.account_id))
    return {int(account): Decimal(str(total)) for account, total in result}


def register_background_demo(desk: Desk) -> None:
    """Declare *Audit balances* on ``desk`` (a desk over the demo models)."""

    @desk.action(
        "accounts",
        name="Audit balances",
        scope="bulk",
        background=True,
        description="Compare each selected account's balance with its incomes minus its "
        "outcomes. Runs in the background: follow its progress, cancel it, or restart the "
        "server and see it resume.",
        form=[f.Number("pause", label="Seconds per batch", default=DEFAULT_PAUSE,
                       min=0, max=MAX_PAUSE,
                       description=f"A pause after each batch of {BATCH_SIZE} accounts, so "
                       "the demo run lasts long enough to watch.")],
    )
    async def audit_balances(ctx: ActionContext) -> Success:
        pause = float(ctx.values.get("pause") or 0)
        differ = 0
        batches = ctx.batches(size=BATCH_SIZE)
        async for batch in batches:
            keys = [int(row["id"]) for row in batch.rows]
            incomes = await _sums(batch.conn, INCOMES, keys)
            outcomes = await _sums(batch.conn, OUTCOMES, keys)
            for key, row in zip(keys, batch.rows, strict=True):
                expected = incomes.get(key, Decimal(0)) - outcomes.get(key, Decimal(0))
                differ += Decimal(str(row["balance"])) != expected
            if pause:
                await asyncio.sleep(pause)
        return Success(f"{batches.done} accounts audited: {differ} balances differ from "
                       "their incomes minus outcomes")
