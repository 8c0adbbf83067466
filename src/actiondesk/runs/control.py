"""A background run's control: checkpoints, progress, its lease and cancellation, on the
runs table. ``ctx.batches()`` drives it through the ``RunControl`` protocol of
``actiondesk.actions.batches``."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from actiondesk.actions.batches import LeaseLost, RunCancelled
from actiondesk.data.state import runs_table

if TYPE_CHECKING:
    from actiondesk.data.state import StateStore

_t = runs_table.c
CANCEL_CHECK_SECONDS = 0.5


class LeasedRunControl:
    """A background run's side of the batches: checkpoint, progress, lease and cancel."""

    def __init__(
        self,
        store: StateStore,
        run_id: str,
        *,
        owner: str,
        lease: dt.timedelta,
        same_database: bool,
        checkpoint: str | None,
        done: int,
        total: int | None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.lease = lease
        self.same_database = same_database
        self.done = done
        self.total = total
        self._checkpoint = checkpoint
        self._checkpoint_taken = False
        self._cancel_checked = 0.0
        self.cancelled = False
        self.lost = False
        self._started = time.monotonic()
        self._done_at_start = done

    def take_checkpoint(self) -> str | None:
        """The checkpoint to resume from: for the first loop of the run only."""
        if self._checkpoint_taken:
            return None
        self._checkpoint_taken = True
        return self._checkpoint

    def _rate(self) -> float | None:
        elapsed = time.monotonic() - self._started
        if elapsed <= 0 or self.done <= self._done_at_start:
            return None
        return (self.done - self._done_at_start) / elapsed

    def _update(self, values: dict[str, Any]) -> sa.Update:
        now = dt.datetime.now(dt.UTC)
        return (
            sa.update(runs_table)
            .where(_t.id == self.run_id, _t.lease_owner == self.owner, _t.status == "running")
            .values(progress_at=now, lease_expires_at=now + self.lease, **values)
        )

    async def commit(
        self, conn: AsyncConnection, transaction: AsyncTransaction, done: int,
        checkpoint: str | None,
    ) -> None:
        """Commit a batch's transaction with its checkpoint (in it when the databases are
        the same); LeaseLost, with the batch rolled back, if another runner holds the run."""
        values: dict[str, Any] = {"done_count": done, "rate": None}
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        self.done = done
        values["rate"] = self._rate()
        if self.same_database:
            result = await conn.execute(self._update(values))
            if result.rowcount != 1:
                await transaction.rollback()
                self.lost = True
                raise LeaseLost(self.run_id)
            await transaction.commit()
            return
        await transaction.commit()
        await self._write(values)

    async def _write(self, values: dict[str, Any]) -> None:
        async with self.store.write() as state:
            result = await state.execute(self._update(values))
        if result.rowcount != 1:
            self.lost = True
            raise LeaseLost(self.run_id)

    async def report(self, done: int, total: int | None = None) -> None:
        """Progress of a handler that counts by itself (no checkpoint)."""
        self.done = done
        values: dict[str, Any] = {"done_count": done, "rate": self._rate()}
        if total is not None:
            self.total = total
            values["record_count"] = total
        await self._write(values)

    async def heartbeat(self) -> bool:
        """Extend the lease; False once another runner holds the run."""
        now = dt.datetime.now(dt.UTC)
        async with self.store.write() as state:
            result = await state.execute(
                sa.update(runs_table)
                .where(_t.id == self.run_id, _t.lease_owner == self.owner,
                       _t.status == "running")
                .values(lease_expires_at=now + self.lease)
            )
        if result.rowcount != 1:
            self.lost = True
        return not self.lost

    async def check(self, force: bool = False) -> None:
        """Raise RunCancelled or LeaseLost when the run must stop (a bounded number of
        reads: at most one per CANCEL_CHECK_SECONDS)."""
        if self.lost:
            raise LeaseLost(self.run_id)
        now = time.monotonic()
        if not force and now - self._cancel_checked < CANCEL_CHECK_SECONDS:
            return
        self._cancel_checked = now
        async with self.store.read() as state:
            row = (await state.execute(
                sa.select(_t.cancel_requested_at, _t.lease_owner).where(_t.id == self.run_id)
            )).first()
        if row is None or row.lease_owner != self.owner:
            self.lost = True
            raise LeaseLost(self.run_id)
        if row.cancel_requested_at is not None:
            self.cancelled = True
            raise RunCancelled(self.run_id)
