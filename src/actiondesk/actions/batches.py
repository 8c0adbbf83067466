"""Checkpointed batches: how a handler walks a large selection, one transaction per batch.

``async for batch in ctx.batches(size=1000)`` reads the selection in primary-key order
(keyset pagination, so memory stays flat). Each batch is read and processed inside its own
transaction on the user's database (``batch.conn``); the transaction commits when the handler
asks for the next batch (or returns), and the run's checkpoint (the last key, how many records
are done) is written then. When the data and the state database are the same server database,
the checkpoint is written in the batch's own transaction: a batch is committed exactly once
even if the runner dies and the run resumes elsewhere. Otherwise the checkpoint follows the
commit, so a crash between the two makes that one batch run again (at least once).

Between batches the cursor looks for a cancellation: the run then stops, with every committed
batch counted. A handler leaving the loop early (``break``) keeps the batch it was given:
it commits when the handler returns; an exception rolls the open batch back.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.actions.selection import (
    DEFAULT_BATCH_SIZE,
    Row,
    Selection,
    _dicts,
    pk_after,
    pk_in,
)
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.state import runs_table

if TYPE_CHECKING:
    from actiondesk.data.state import StateStore

_t = runs_table.c
CANCEL_CHECK_SECONDS = 0.5
MAX_BATCH_SIZE = 100_000


class RunCancelled(Exception):
    """Someone cancelled the run; raised by ``ctx.batches()`` between two batches."""


class LeaseLost(Exception):
    """Another runner took this run over (our lease expired): stop without writing."""


@dataclass(frozen=True)
class Batch:
    """One batch of selected records and the transaction it is processed in.

    ``rows`` are the records (dicts), ``keys`` their primary keys, ``where`` a clause matching
    exactly them (for one set-based statement), ``conn`` a connection to the user's database
    inside the batch's transaction: write with it so the work commits with the checkpoint.
    With ``ctx.batches(rows=False)`` the records are not read: ``rows`` and ``keys`` are
    empty, ``where`` is a primary-key range, and ``size`` says how many records it holds.
    """

    rows: list[Row]
    keys: list[tuple[Any, ...]]
    where: ColumnElement[bool]
    conn: AsyncConnection
    number: int
    size: int

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class RunControl:
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


class BatchCursor:
    """``ctx.batches()``: an async iterator of Batch, one transaction each."""

    def __init__(
        self,
        selection: Selection,
        engine: AsyncEngine,
        size: int = DEFAULT_BATCH_SIZE,
        *,
        rows: bool = True,
        control: RunControl | None = None,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch size must be a whole number from 1 to {MAX_BATCH_SIZE:,}")
        self.selection = selection
        self.engine = engine
        self.size = size
        self.control = control
        self.rows = rows or self._frozen
        self.done = control.done if control is not None else 0
        self.batches = 0
        token = control.take_checkpoint() if control is not None else None
        self._after: Any = self._parse(token)
        self._open: tuple[AsyncConnection, AsyncTransaction, int, str | None] | None = None
        self._exhausted = False

    # -- where the selection is read from --------------------------------------------------

    @property
    def _frozen(self) -> bool:
        return hasattr(self.selection, "approval_id")

    def _parse(self, token: str | None) -> Any:
        if token is None:
            return -1 if self._frozen else None
        if self._frozen:
            return int(token)
        return decode_id(self.selection.collection, token)

    def _range(self, upto: tuple[Any, ...] | None) -> ColumnElement[bool]:
        """The selected records after the checkpoint, up to ``upto`` included."""
        collection = self.selection.collection
        clauses = [self.selection.where]
        if self._after is not None:
            clauses.append(pk_after(collection, self._after))
        if upto is not None:
            clauses.append(sa.not_(pk_after(collection, upto)))
        return sa.and_(*clauses)

    async def _bounds(self, conn: AsyncConnection) -> tuple[int, tuple[Any, ...] | None]:
        """Without rows: how many records the next batch holds and its last key (read from
        the index, one row per batch; the last batch is counted)."""
        collection = self.selection.collection
        columns = [collection.fields[n].column for n in collection.primary_key]
        last = (await conn.execute(
            sa.select(*columns).where(self._range(None))
            .order_by(*self.selection._order()).offset(self.size - 1).limit(1)
        )).first()
        if last is not None:
            return self.size, tuple(last)
        rest = int((await conn.execute(
            sa.select(sa.func.count()).select_from(collection.table).where(self._range(None))
        )).scalar_one())
        return rest, None

    async def _read(self, conn: AsyncConnection) -> tuple[list[Row], Any, str]:
        """The next batch's rows, the position after it and that position as a checkpoint."""
        selection = self.selection
        collection = selection.collection
        if self._frozen:
            after = self._after
            while True:
                keys, last = await selection._page(after, self.size)  # type: ignore[attr-defined]
                if last == after:
                    return [], after, str(after)
                after = last
                if keys:
                    rows = _dicts(await conn.execute(selection._rows_query(keys)))  # type: ignore[attr-defined]
                    return rows, last, str(last)
        rows = _dicts(await conn.execute(selection._batch_query(self.size, self._after)))
        if not rows:
            return [], self._after, ""
        key = tuple(rows[-1][n] for n in collection.primary_key)
        return rows, key, encode_id(collection, list(key))

    # -- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> BatchCursor:
        return self

    async def __anext__(self) -> Batch:
        await self._commit_open()
        if self._exhausted:
            raise StopAsyncIteration
        if self.control is not None:
            await self.control.check()
        conn = await self.engine.connect()
        transaction = await conn.begin()
        try:
            if self.rows:
                batch = await self._next_rows(conn)
            else:
                batch = await self._next_range(conn)
        except BaseException:
            await transaction.rollback()
            await conn.close()
            raise
        if batch is None:
            await transaction.rollback()
            await conn.close()
            self._exhausted = True
            raise StopAsyncIteration
        self._open = (conn, transaction, batch[0].size, batch[1])
        return batch[0]

    async def _next_rows(self, conn: AsyncConnection) -> tuple[Batch, str] | None:
        rows, after, token = await self._read(conn)
        if not rows:
            return None
        if len(rows) < self.size and not self._frozen:
            self._exhausted = True
        collection = self.selection.collection
        keys = [tuple(row[n] for n in collection.primary_key) for row in rows]
        # A key range for a live selection (no parameter per record: any size works).
        where = pk_in(collection, keys) if self._frozen else self._range(after)
        self._after = after
        self.batches += 1
        return Batch(rows=rows, keys=keys, where=where, conn=conn, number=self.batches,
                     size=len(rows)), token

    async def _next_range(self, conn: AsyncConnection) -> tuple[Batch, str] | None:
        count, upto = await self._bounds(conn)
        if count == 0:
            return None
        where = self._range(upto)
        if upto is None:
            self._exhausted = True
            # The rest: its last key is the checkpoint (read once, at the end).
            collection = self.selection.collection
            columns = [collection.fields[n].column for n in collection.primary_key]
            upto = tuple((await conn.execute(
                sa.select(*columns).where(where)
                .order_by(*[c.desc() for c in columns]).limit(1))).one())
        self._after = upto
        self.batches += 1
        token = encode_id(self.selection.collection, list(upto))
        return Batch(rows=[], keys=[], where=where, conn=conn, number=self.batches,
                     size=count), token

    async def _commit_open(self) -> None:
        if self._open is None:
            return
        conn, transaction, count, token = self._open
        self._open = None
        try:
            done = self.done + count
            if self.control is not None:
                await self.control.commit(conn, transaction, done, token)
            else:
                await transaction.commit()
            self.done = done
        finally:
            await conn.close()

    async def close(self, ok: bool) -> None:
        """After the handler: commit the batch it was given (``ok``) or roll it back."""
        if self._open is None:
            return
        if ok:
            await self._commit_open()
            return
        conn, transaction, _, _ = self._open
        self._open = None
        try:
            await transaction.rollback()
        finally:
            await conn.close()
