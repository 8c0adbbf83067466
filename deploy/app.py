"""The desk of the compose deployment: the demo dataset and actions, on PostgreSQL.

Every setting comes from ``ACTIONDESK_*`` environment variables (see compose.yaml), so the
servers, the workers and the set-up job build the same desk. Replace this module with your
own desk module; keep it importable as ``app:desk``.
"""

from __future__ import annotations

from actiondesk import ActionContext, Desk, Success
from actiondesk.demo.actions import register_demo_actions
from actiondesk.demo.models import DemoBase

desk = Desk(models=[DemoBase], title="actiondesk")
register_demo_actions(desk)


@desk.action("customers", name="Recheck customers", scope="bulk", background=True)
async def recheck_customers(ctx: ActionContext) -> Success:
    """A long run for the workers: reads its selection in batches, reporting progress."""
    batches = ctx.batches(size=100)
    async for _ in batches:
        pass
    return Success(f"{batches.done} customers rechecked")
