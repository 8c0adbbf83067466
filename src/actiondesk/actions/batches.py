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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.actions.selection import (
    DEFAULT_BATCH_SIZE,
    Selection,
    pk_after,
    pk_in,
)
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.rows import EMPTY, Record, Rows, driver_rows
from actiondesk.data.schema import Collection
from actiondesk.data.urls import is_file_url

MAX_BATCH_SIZE = 100_000


class RunCancelled(Exception):
    """Someone cancelled the run; raised by ``ctx.batches()`` between two batches."""


class LeaseLost(Exception):
    """Another runner took this run over (our lease expired): stop without writing."""


@dataclass(frozen=True)
class Batch:
    """One batch of selected records and the transaction it is processed in.

    ``rows`` are the records (read-only mappings, straight from the driver), ``keys`` their
    primary keys (tuples, built when asked for), ``where`` a clause matching exactly them (for
    one set-based statement), ``conn`` a connection to the user's database inside the batch's
    transaction: write with it so the work commits with the checkpoint. With
    ``ctx.batches(rows=False)`` the records are not read: ``rows`` and ``keys`` are empty,
    ``where`` is a primary-key range, and ``size`` says how many records it holds.
    """

    rows: Rows
    _where: Callable[[], ColumnElement[bool]] = field(repr=False, compare=False)
    conn: AsyncConnection
    number: int
    size: int
    key_names: tuple[str, ...] = ()

    @cached_property
    def where(self) -> ColumnElement[bool]:
        # Built when asked for: a handler that writes with its own clause never pays for it.
        return self._where()

    @property
    def keys(self) -> list[tuple[Any, ...]]:
        return [self.rows.key(i, self.key_names) for i in range(len(self.rows))]

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Record]:
        return iter(self.rows)


class RunControl(Protocol):
    """A background run's side of the batches (checkpoint, progress, lease, cancellation),
    implemented by the runs layer; ``ctx.batches()`` only calls it."""

    done: int
    total: int | None

    def take_checkpoint(self) -> str | None:
        """The checkpoint to resume from: for the first loop of the run only."""

    async def commit(
        self, conn: AsyncConnection, transaction: AsyncTransaction, done: int,
        checkpoint: str | None,
    ) -> None:
        """Commit a batch's transaction with its checkpoint."""

    async def report(self, done: int, total: int | None = None) -> None:
        """Progress of a handler that counts by itself."""

    async def check(self, force: bool = False) -> None:
        """Raise RunCancelled or LeaseLost when the run must stop."""


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
        self._conn: AsyncConnection | None = None
        self._immediate: bool | None = None  # a SQLite file: BEGIN IMMEDIATE (looked up once)
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
        return self._between(self._after, upto)

    def _between(self, lower: Any, upto: tuple[Any, ...] | None) -> ColumnElement[bool]:
        """The selected records after ``lower``, up to ``upto`` included."""
        collection = self.selection.collection
        clauses = [self.selection.where]
        if lower is not None:
            clauses.append(pk_after(collection, lower))
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
            .order_by(*self.selection.key_order()).offset(self.size - 1).limit(1)
        )).first()
        if last is not None:
            return self.size, tuple(last)
        rest = int((await conn.execute(
            sa.select(sa.func.count()).select_from(collection.table).where(self._range(None))
        )).scalar_one())
        return rest, None

    async def _read(self, conn: AsyncConnection) -> tuple[Rows, Any, str]:
        """The next batch's rows, the position after it and that position as a checkpoint."""
        selection = self.selection
        collection = selection.collection
        if self._frozen:
            after = self._after
            while True:
                keys, last = await selection.key_page(after, self.size)  # type: ignore[attr-defined]
                if last == after:
                    return EMPTY, after, str(after)
                after = last
                if keys:
                    rows = driver_rows(await conn.execute(selection.rows_query(keys)))  # type: ignore[attr-defined]
                    return rows, last, str(last)
        rows = await selection.page(conn, self.size, self._after)
        if not rows:
            return EMPTY, self._after, ""
        key = rows.key(-1, collection.primary_key)
        return rows, key, encode_id(collection, list(key))

    # -- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> BatchCursor:
        return self

    async def __anext__(self) -> Batch:
        await self._commit_open()
        if self._exhausted:
            await self._release()
            raise StopAsyncIteration
        if self.control is not None:
            try:
                await self.control.check()
            except BaseException:
                await self._release()
                raise
        # One connection for the whole walk, one transaction per batch.
        if self._conn is None:
            self._conn = await self.engine.connect()
        conn = self._conn
        if self._immediate is None:
            self._immediate = is_file_url(conn.engine.url)
        transaction = await conn.begin()
        try:
            if self._immediate:
                # The file's write lock for the whole batch, taken in this process's turn
                # (``data.sqlite_driver``): the handler's first write never has to upgrade a
                # read lock (which fails at once when another connection holds it).
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            if self.rows:
                batch = await self._next_rows(conn)
            else:
                batch = await self._next_range(conn)
        except BaseException:
            await transaction.rollback()
            await self._release()
            raise
        if batch is None:
            await transaction.rollback()
            await self._release()
            self._exhausted = True
            raise StopAsyncIteration
        self._open = (conn, transaction, batch[0].size, batch[1])
        return batch[0]

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _next_rows(self, conn: AsyncConnection) -> tuple[Batch, str] | None:
        rows, after, token = await self._read(conn)
        if not rows:
            return None
        if len(rows) < self.size and not self._frozen:
            self._exhausted = True
        collection = self.selection.collection
        names = tuple(collection.primary_key)
        # A key range for a live selection (no parameter per record: any size works).
        where: Callable[[], ColumnElement[bool]]
        if self._frozen:
            where = partial(_keys_in, collection, rows, names)
        else:
            where = partial(self._between, self._after, after)
        self._after = after
        self.batches += 1
        return Batch(rows=rows, _where=where, conn=conn, number=self.batches,
                     size=len(rows), key_names=names), token

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
        return Batch(rows=EMPTY, _where=lambda: where, conn=conn, number=self.batches,
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
        except BaseException:
            await self._release()
            raise

    async def close(self, ok: bool) -> None:
        """After the handler: commit the batch it was given (``ok``) or roll it back, and
        give the connection back."""
        try:
            if self._open is None:
                return
            if ok:
                await self._commit_open()
                return
            _, transaction, _, _ = self._open
            self._open = None
            await transaction.rollback()
        finally:
            await self._release()


def _keys_in(collection: Collection, rows: Rows, names: tuple[str, ...]) -> ColumnElement[bool]:
    return pk_in(collection, [rows.key(i, names) for i in range(len(rows))])
