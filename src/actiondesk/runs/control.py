"""A background run's control: checkpoints, progress, its lease and cancellation. ``ctx.batches()``
drives it through the ``RunControl`` protocol of ``actiondesk.actions.batches``.

``LeaseControl`` holds what every leased unit of work shares — a whole run here, a partition of
one in ``actiondesk.background.partition_control`` — and asks its subclass only for the
statements: the progress write (the first statement only applies while this runner holds the
lease), the lease extension, and the read of the lease owner and the run's cancellation."""

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


class LeaseControl:
    """The batches' side of a leased unit of work: its checkpoint and progress written with
    each batch (in the batch's transaction when the data and the state database are the same,
    so a batch is committed exactly once), its lease, and the run's cancellation."""

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
        self.recorded = done  # the done count last written to the state database
        self.total = total
        self._checkpoint = checkpoint
        self._checkpoint_taken = False
        self._cancel_checked = 0.0
        self.cancelled = False
        self.lost = False
        self._started = time.monotonic()
        self._done_at_start = done

    # -- the statements (a subclass's) -------------------------------------------------------

    def progress(self, done: int, checkpoint: str | None, total: int | None) -> list[sa.Update]:
        """Record ``done`` (and the checkpoint, the new total): the first statement updates
        exactly one row while this runner holds the lease, the others follow it."""
        raise NotImplementedError

    def extend(self, expires: dt.datetime) -> sa.Update:
        """Move the lease to ``expires``: one row while this runner holds it."""
        raise NotImplementedError

    def holder(self) -> sa.Select[dt.datetime | None, str | None]:
        """The run's ``cancel_requested_at`` and the lease's owner (no row: gone)."""
        raise NotImplementedError

    # -- the RunControl protocol -------------------------------------------------------------

    def take_checkpoint(self) -> str | None:
        """The checkpoint to resume from: for the first loop of the run only."""
        if self._checkpoint_taken:
            return None
        self._checkpoint_taken = True
        return self._checkpoint

    async def commit(
        self, conn: AsyncConnection, transaction: AsyncTransaction, done: int,
        checkpoint: str | None,
    ) -> None:
        """Commit a batch's transaction with its checkpoint (in it when the databases are
        the same); LeaseLost, with the batch rolled back, if another runner holds the run."""
        if self.same_database:
            if not await self._apply(conn, done, checkpoint, None):
                await transaction.rollback()
                self.lost = True
                raise LeaseLost(self.run_id)
            await transaction.commit()
            self.done = self.recorded = done
            return
        await transaction.commit()
        self.done = done
        await self._write(done, checkpoint, None)

    async def report(self, done: int, total: int | None = None) -> None:
        """Progress of a handler that counts by itself (no checkpoint)."""
        self.done = done
        if total is not None:
            self.total = total
        await self._write(done, None, total)

    async def heartbeat(self) -> bool:
        """Extend the lease; False once another runner holds it."""
        async with self.store.write() as state:
            result = await state.execute(self.extend(dt.datetime.now(dt.UTC) + self.lease))
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
            row = (await state.execute(self.holder())).first()
        if row is None or row[1] != self.owner:
            self.lost = True
            raise LeaseLost(self.run_id)
        if row[0] is not None:
            self.cancelled = True
            raise RunCancelled(self.run_id)

    # -- writing -----------------------------------------------------------------------------

    async def _apply(self, conn: AsyncConnection, done: int, checkpoint: str | None,
                     total: int | None) -> bool:
        first, *rest = self.progress(done, checkpoint, total)
        if (await conn.execute(first)).rowcount != 1:
            return False
        for statement in rest:
            await conn.execute(statement)
        return True

    async def _write(self, done: int, checkpoint: str | None, total: int | None) -> None:
        async with self.store.write() as state:
            applied = await self._apply(state, done, checkpoint, total)
        if not applied:
            self.lost = True
            raise LeaseLost(self.run_id)
        self.recorded = done


class LeasedRunControl(LeaseControl):
    """A whole run's control, on its row of the runs table."""

    def _rate(self, done: int) -> float | None:
        elapsed = time.monotonic() - self._started
        if elapsed <= 0 or done <= self._done_at_start:
            return None
        return (done - self._done_at_start) / elapsed

    def _mine(self) -> sa.Update:
        return sa.update(runs_table).where(
            _t.id == self.run_id, _t.lease_owner == self.owner, _t.status == "running")

    def progress(self, done: int, checkpoint: str | None, total: int | None) -> list[sa.Update]:
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {"done_count": done, "rate": self._rate(done),
                                  "progress_at": now, "lease_expires_at": now + self.lease}
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        if total is not None:
            values["record_count"] = total
        return [self._mine().values(**values)]

    def extend(self, expires: dt.datetime) -> sa.Update:
        return self._mine().values(lease_expires_at=expires)

    def holder(self) -> sa.Select[dt.datetime | None, str | None]:
        return sa.select(_t.cancel_requested_at, _t.lease_owner).where(_t.id == self.run_id)
