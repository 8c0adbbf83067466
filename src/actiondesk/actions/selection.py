"""What an action applies to, resolved on the server and never materialised as a whole.

A selection is either a list of ids, or every record matching a filter and search minus the
excluded ids; either one may be restricted to a parent record's relationship. Handlers read
it in keyset-paginated batches, ask for the count, or use ``where`` in one set-based statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.data.schema import Collection

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource

DEFAULT_BATCH_SIZE = 1000
Row = dict[str, Any]


def row_dicts(result: sa.Result[Any] | sa.CursorResult[Any]) -> list[Row]:
    # The keys once per batch: building a mapping view per row dominated batch reading.
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def pk_in(collection: Collection, keys: Sequence[tuple[Any, ...]]) -> ColumnElement[bool]:
    """Rows whose primary key is one of ``keys``."""
    if not keys:
        return sa.false()
    columns = [collection.fields[n].column for n in collection.primary_key]
    if len(columns) == 1:
        return columns[0].in_([k[0] for k in keys])
    return sa.tuple_(*columns).in_([tuple(k) for k in keys])


def pk_after(collection: Collection, key: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows whose primary key sorts after ``key`` (row-value comparison for composite keys)."""
    columns = [collection.fields[n].column for n in collection.primary_key]
    if len(columns) == 1:
        first: ColumnElement[bool] = columns[0] > key[0]
        return first
    # Expanded rather than a row-value comparison so every backend can use the index.
    clauses = []
    for i in range(len(columns)):
        equal = [columns[j] == key[j] for j in range(i)]
        clauses.append(sa.and_(*equal, columns[i] > key[i]))
    return sa.or_(*clauses)


def related_scope(
    target: Collection, target_fields: Sequence[str], values: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows of ``target`` whose ``target_fields`` equal ``values`` (no rows if any is null)."""
    if any(v is None for v in values):
        return sa.false()
    return sa.and_(
        *(target.fields[n].column == v for n, v in zip(target_fields, values, strict=True))
    )


class Selection:
    """The records an action applies to."""

    def __init__(
        self,
        datasource: Datasource,
        collection: Collection,
        where: ColumnElement[bool],
        *,
        description: dict[str, Any],
        id_count: int | None = None,
    ) -> None:
        self.datasource = datasource
        self.collection = collection
        self.where = where
        self.description = description
        self._id_count = id_count

    @property
    def is_id_list(self) -> bool:
        return self._id_count is not None

    def key_order(self) -> list[ColumnElement[Any]]:
        return [self.collection.fields[n].column.asc() for n in self.collection.primary_key]

    def _key(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[n] for n in self.collection.primary_key)

    def batch_query(self, size: int, after: tuple[Any, ...] | None) -> sa.Select[Any]:
        query = sa.select(self.collection.table).where(self.where).order_by(*self.key_order())
        if after is not None:
            query = query.where(pk_after(self.collection, after))
        return query.limit(size)

    def count_query(self, extra: ColumnElement[bool] | None = None) -> sa.Select[Any]:
        where = self.where if extra is None else sa.and_(self.where, extra)
        return sa.select(sa.func.count()).select_from(self.collection.table).where(where)

    async def count(self) -> int:
        return int(await self.datasource.scalar(self.count_query()))

    async def count_matching(self, clause: ColumnElement[bool]) -> int:
        """How many selected records also meet ``clause`` (one set-based query)."""
        return int(await self.datasource.scalar(self.count_query(clause)))

    async def where_batches(
        self, size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[ColumnElement[bool]]:
        """The selection as WHERE clauses for set-based statements, one after the other.

        A live selection is one clause (``where``); an approved request too large for one
        ``IN`` list gives one clause per batch of ``size`` frozen ids. Handlers written with
        it work on both."""
        yield self.where

    async def batches(self, size: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[list[Row]]:
        """The selected records, ``size`` at a time, in primary-key order (keyset paging:
        memory stays flat whatever the selection's size). Each batch is read on its own
        connection, so a handler may update the rows it was given between batches."""
        after: tuple[Any, ...] | None = None
        while True:
            async with self.datasource.read() as conn:
                result = await conn.execute(self.batch_query(size, after))
                rows = row_dicts(result)
            if not rows:
                return
            yield rows
            if len(rows) < size:
                return
            after = self._key(rows[-1])

    async def records(self, limit: int = 100) -> list[Row]:
        """Up to ``limit`` selected records (for forms and small actions)."""
        async with self.datasource.read() as conn:
            result = await conn.execute(self.batch_query(limit, None))
            return row_dicts(result)

    async def record(self) -> Row:
        """The one selected record (single actions)."""
        rows = await self.records(1)
        if not rows:
            raise LookupError("the selection is empty")
        return rows[0]

    def count_sync(self, engine: sa.Engine) -> int:
        with engine.connect() as conn:
            return int(conn.execute(self.count_query()).scalar_one())

    def batches_sync(
        self, engine: sa.Engine, size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[list[Row]]:
        """``batches`` for sync handlers, on the sync engine they are given."""
        after: tuple[Any, ...] | None = None
        while True:
            with engine.connect() as conn:
                rows = row_dicts(conn.execute(self.batch_query(size, after)))
            if not rows:
                return
            yield rows
            if len(rows) < size:
                return
            after = self._key(rows[-1])

    def records_sync(self, engine: sa.Engine, limit: int = 100) -> list[Row]:
        with engine.connect() as conn:
            return row_dicts(conn.execute(self.batch_query(limit, None)))

    def record_sync(self, engine: sa.Engine) -> Row:
        rows = self.records_sync(engine, 1)
        if not rows:
            raise LookupError("the selection is empty")
        return rows[0]
