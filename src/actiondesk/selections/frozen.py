"""The selection of an approved request: the record ids frozen at request time, read back
from the state database in batches, so memory stays flat whatever the request's size.

Handlers get it as their ``ctx.selection``. ``batches()``, ``records()``, ``record()``,
``where_batches()`` and the ``*_sync`` variants work for any size; ``count()`` is the number of
records frozen. ``where`` (one ``IN`` list) is offered only up to ``MAX_WHERE_IDS`` ids, since
the ids live in another database and cannot be a subquery: a handler for larger requests uses
``where_batches()`` (one set-based clause per batch) or ``batches()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio.from_thread
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.actions.results import ActionError
from actiondesk.actions.selection import DEFAULT_BATCH_SIZE, Row, Selection, pk_in
from actiondesk.data.record_ids import decode_id
from actiondesk.data.rows import Rows, driver_rows
from actiondesk.data.schema import Collection
from actiondesk.data.state_schema.approvals import approval_records_table
from actiondesk.errors import NotFoundError

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.data.state import StateStore

MAX_WHERE_IDS = 10_000
_r = approval_records_table.c
Keys = list[tuple[Any, ...]]


class FrozenSelection(Selection):
    """The records of an approval request, exactly as frozen when it was requested."""

    def __init__(
        self,
        datasource: Datasource,
        collection: Collection,
        store: StateStore,
        approval_id: str,
        record_count: int,
        *,
        description: dict[str, Any],
    ) -> None:
        self._where: ColumnElement[bool] | None = None
        super().__init__(datasource, collection, sa.false(), description=description,
                         id_count=record_count)
        self.store = store
        self.approval_id = approval_id
        self.record_count = record_count

    async def load(self) -> FrozenSelection:
        """Prepare ``where`` when the ids fit in one ``IN`` list."""
        if self.record_count <= MAX_WHERE_IDS:
            keys: Keys = []
            async for batch in self.key_batches(DEFAULT_BATCH_SIZE):
                keys.extend(batch)
            self._where = pk_in(self.collection, keys)
        return self

    @property
    def where(self) -> ColumnElement[bool]:
        if self._where is None:
            raise ActionError(
                f"this approved request holds {self.record_count:,} records, more than the "
                f"{MAX_WHERE_IDS:,} that fit in one WHERE clause: the action must use "
                "selection.where_batches() or selection.batches()"
            )
        return self._where

    @where.setter
    def where(self, value: ColumnElement[bool]) -> None:
        # Selection.__init__ assigns it; the frozen ids are what counts.
        return

    # -- the frozen ids ---------------------------------------------------------------------

    async def key_page(self, after: int, size: int) -> tuple[Keys, int]:
        """Up to ``size`` keys after sequence number ``after``, and the last number read."""
        query = (
            sa.select(_r.seq, _r.record_id)
            .where(_r.approval_id == self.approval_id, _r.seq > after)
            .order_by(_r.seq)
            .limit(size)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        keys = []
        for _, record_id in rows:
            try:
                keys.append(decode_id(self.collection, record_id))
            except NotFoundError:
                # The key no longer fits the table (the schema changed): that record is
                # gone, which the check before execution reports.
                continue
        return keys, (rows[-1][0] if rows else after)

    async def key_batches(self, size: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[Keys]:
        """The frozen primary keys, ``size`` at a time, in the order they were selected."""
        after = -1
        while True:
            keys, last = await self.key_page(after, size)
            if last == after:
                return
            if keys:
                yield keys
            after = last

    def rows_query(self, keys: Keys) -> sa.Select[Any]:
        return sa.select(self.collection.table).where(pk_in(self.collection, keys)).order_by(
            *self.key_order()
        )

    # -- Selection's interface ----------------------------------------------------------------

    def count_query(self, extra: ColumnElement[bool] | None = None) -> sa.Select[Any]:
        # Only when ``where`` is offered; ``count_matching`` works for any size.
        return super().count_query(extra)

    async def count(self) -> int:
        return self.record_count

    async def count_matching(self, clause: ColumnElement[bool]) -> int:
        found = 0
        async for keys in self.key_batches():
            query = sa.select(sa.func.count()).select_from(self.collection.table).where(
                pk_in(self.collection, keys), clause
            )
            async with self.datasource.engine.connect() as conn:
                found += int((await conn.execute(query)).scalar_one())
        return found

    async def where_batches(
        self, size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[ColumnElement[bool]]:
        async for keys in self.key_batches(size):
            yield pk_in(self.collection, keys)

    async def batches(self, size: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[Rows]:
        async for keys in self.key_batches(size):
            async with self.datasource.engine.connect() as conn:
                rows = driver_rows(await conn.execute(self.rows_query(keys)))
            if rows:
                yield rows

    async def records(self, limit: int = 100) -> list[Row]:
        async for rows in self.batches(limit):
            return rows.dicts()
        return []

    def count_sync(self, engine: sa.Engine) -> int:
        return self.record_count

    def batches_sync(
        self, engine: sa.Engine, size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Rows]:
        # A sync handler runs in a worker thread; the frozen ids are read through the event
        # loop that started it.
        after = -1
        while True:
            keys, last = anyio.from_thread.run(self.key_page, after, size)
            if last == after:
                return
            after = last
            if not keys:
                continue
            with engine.connect() as conn:
                rows = driver_rows(conn.execute(self.rows_query(keys)))
            if rows:
                yield rows

    def records_sync(self, engine: sa.Engine, limit: int = 100) -> list[Row]:
        for rows in self.batches_sync(engine, limit):
            return rows.dicts()
        return []
