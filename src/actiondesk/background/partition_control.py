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
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from actiondesk.data.state import runs_table
from actiondesk.data.state_schema import run_partitions_table
from actiondesk.runs.control import LeaseControl

if TYPE_CHECKING:
    from actiondesk.data.state import StateStore

_p = run_partitions_table.c
_t = runs_table.c


class PartitionControl(LeaseControl):
    """The RunControl of one partition of a partitioned run (a partition's total is its
    planned range: a handler's own total is not recorded)."""

    def __init__(self, store: StateStore, run_id: str, number: int, *,
                 run_started_at: dt.datetime, **options: Any) -> None:
        super().__init__(store, run_id, **options)
        self.number = number
        self.run_started_at = run_started_at

    def _mine(self) -> sa.Update:
        return sa.update(run_partitions_table).where(
            _p.run_id == self.run_id, _p.number == self.number, _p.lease_owner == self.owner,
            _p.status == "running")

    def progress(self, done: int, checkpoint: str | None, total: int | None) -> list[sa.Update]:
        """The partition's row (only while we hold its lease), then what it adds to the
        run's progress since its last write."""
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {"done_count": done, "lease_expires_at": now + self.lease}
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        delta = done - self.recorded
        elapsed = max(0.001, (now - self.run_started_at).total_seconds())
        run = (
            sa.update(runs_table)
            .where(_t.id == self.run_id)
            .values(done_count=sa.func.coalesce(_t.done_count, 0) + delta,
                    rate=sa.cast(sa.func.coalesce(_t.done_count, 0) + delta, sa.Float)
                    / elapsed,
                    progress_at=now)
        )
        return [self._mine().values(**values), run]

    def extend(self, expires: dt.datetime) -> sa.Update:
        return self._mine().values(lease_expires_at=expires)

    def holder(self) -> sa.Select[dt.datetime | None, str | None]:
        return (sa.select(_t.cancel_requested_at, _p.lease_owner)
                .select_from(run_partitions_table.join(runs_table, _t.id == _p.run_id))
                .where(_p.run_id == self.run_id, _p.number == self.number))
