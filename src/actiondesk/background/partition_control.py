"""One partition's side of ``ctx.batches()``: its checkpoint and lease on its partition row,
its progress added to the run's, the run's cancellation.

Every committed batch moves the partition's checkpoint and adds the batch to the run's
``done_count`` (so the run shows done/total/rate/eta over all its partitions). When the data
and the state database are the same server database, both writes are made in the batch's own
transaction, and only while this runner holds the partition's lease: a batch is committed
exactly once even if the worker dies and another one resumes the partition.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from actiondesk.actions.batches import LeaseLost, RunCancelled
from actiondesk.data.state import runs_table
from actiondesk.data.state_schema import run_partitions_table

if TYPE_CHECKING:
    from actiondesk.data.state import StateStore

_p = run_partitions_table.c
_t = runs_table.c
CANCEL_CHECK_SECONDS = 0.5


class PartitionControl:
    """The RunControl of one partition of a partitioned run."""

    def __init__(
        self,
        store: StateStore,
        run_id: str,
        number: int,
        *,
        owner: str,
        lease: dt.timedelta,
        same_database: bool,
        checkpoint: str | None,
        done: int,
        total: int | None,
        run_started_at: dt.datetime,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.number = number
        self.owner = owner
        self.lease = lease
        self.same_database = same_database
        self.done = done
        self.total = total
        self.run_started_at = run_started_at
        self._checkpoint = checkpoint
        self._checkpoint_taken = False
        self._cancel_checked = 0.0
        self.cancelled = False
        self.lost = False

    def take_checkpoint(self) -> str | None:
        if self._checkpoint_taken:
            return None
        self._checkpoint_taken = True
        return self._checkpoint

    def _statements(self, done: int, checkpoint: str | None) -> tuple[sa.Update, sa.Update]:
        """The partition's row (only while we hold its lease) and the run's progress."""
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {"done_count": done, "lease_expires_at": now + self.lease}
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        mine = (
            sa.update(run_partitions_table)
            .where(_p.run_id == self.run_id, _p.number == self.number,
                   _p.lease_owner == self.owner, _p.status == "running")
            .values(**values)
        )
        delta = done - self.done
        elapsed = max(0.001, (now - self.run_started_at).total_seconds())
        run = (
            sa.update(runs_table)
            .where(_t.id == self.run_id)
            .values(done_count=sa.func.coalesce(_t.done_count, 0) + delta,
                    rate=sa.cast(sa.func.coalesce(_t.done_count, 0) + delta, sa.Float)
                    / elapsed,
                    progress_at=now)
        )
        return mine, run

    async def _apply(self, conn: AsyncConnection, done: int, checkpoint: str | None) -> bool:
        mine, run = self._statements(done, checkpoint)
        if (await conn.execute(mine)).rowcount != 1:
            return False
        await conn.execute(run)
        return True

    async def commit(
        self, conn: AsyncConnection, transaction: AsyncTransaction, done: int,
        checkpoint: str | None,
    ) -> None:
        if self.same_database:
            if not await self._apply(conn, done, checkpoint):
                await transaction.rollback()
                self.lost = True
                raise LeaseLost(self.run_id)
            await transaction.commit()
            self.done = done
            return
        await transaction.commit()
        await self._write(done, checkpoint)

    async def _write(self, done: int, checkpoint: str | None) -> None:
        async with self.store.write() as state:
            applied = await self._apply(state, done, checkpoint)
        if not applied:
            self.lost = True
            raise LeaseLost(self.run_id)
        self.done = done

    async def report(self, done: int, total: int | None = None) -> None:
        await self._write(done, None)

    async def heartbeat(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        async with self.store.write() as state:
            result = await state.execute(
                sa.update(run_partitions_table)
                .where(_p.run_id == self.run_id, _p.number == self.number,
                       _p.lease_owner == self.owner, _p.status == "running")
                .values(lease_expires_at=now + self.lease))
        if result.rowcount != 1:
            self.lost = True
        return not self.lost

    async def check(self, force: bool = False) -> None:
        """RunCancelled when the run is cancelled, LeaseLost when another runner took this
        partition over (at most one read per CANCEL_CHECK_SECONDS)."""
        if self.lost:
            raise LeaseLost(self.run_id)
        now = time.monotonic()
        if not force and now - self._cancel_checked < CANCEL_CHECK_SECONDS:
            return
        self._cancel_checked = now
        async with self.store.read() as state:
            row = (await state.execute(
                sa.select(_t.cancel_requested_at, _p.lease_owner)
                .select_from(run_partitions_table.join(runs_table, _t.id == _p.run_id))
                .where(_p.run_id == self.run_id, _p.number == self.number)
            )).first()
        if row is None or row.lease_owner != self.owner:
            self.lost = True
            raise LeaseLost(self.run_id)
        if row.cancel_requested_at is not None:
            self.cancelled = True
            raise RunCancelled(self.run_id)
