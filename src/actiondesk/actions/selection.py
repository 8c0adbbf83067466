"""What an action applies to, resolved on the server and never materialised as a whole.

A selection is either a list of ids, or every record matching a filter and search minus the
excluded ids; either one may be restricted to a parent record's relationship. Handlers read
it in keyset-paginated batches, ask for the count, or use ``where`` in one set-based statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.data.driver_reads import DriverRead
from actiondesk.data.rows import Rows, driver_rows
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
    if len(keys) == 1:
        # One record (the most common selection): a plain comparison, which the statements
        # built on it compile and cache like any other.
        return sa.and_(*(column == value for column, value in zip(columns, keys[0],
                                                                   strict=True)))
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
        self._pages: dict[tuple[int, bool], sa.Select[Any]] = {}
        self._driver_pages: dict[tuple[int, bool], DriverRead | None] = {}

    @property
    def is_id_list(self) -> bool:
        return self._id_count is not None

    def key_order(self) -> list[ColumnElement[Any]]:
        return [self.collection.fields[n].column.asc() for n in self.collection.primary_key]

    def page_query(self, size: int, first: bool) -> sa.Select[Any]:
        """The keyset page statement of a run: built once per batch size, the position as
        parameters ``after_0, after_1, ...`` (one per primary-key column), so every batch
        reuses one compiled statement."""
        query = self._pages.get((size, first))
        if query is None:
            query = sa.select(self.collection.table).where(self.where).order_by(
                *self.key_order())
            if not first:
                after: tuple[Any, ...] = tuple(sa.bindparam(f"after_{i}")
                                               for i in range(len(self.collection.primary_key)))
                query = query.where(pk_after(self.collection, after))
            query = query.limit(size)
            self._pages[(size, first)] = query
        return query

    def page_params(self, after: tuple[Any, ...] | None) -> dict[str, Any]:
        return {} if after is None else {f"after_{i}": v for i, v in enumerate(after)}

    async def page(self, conn: AsyncConnection, size: int, after: tuple[Any, ...] | None
                   ) -> Rows:
        """Up to ``size`` selected records after the key ``after``, straight from the driver
        (on aiosqlite, one call to its thread per page: ``data.driver_reads``)."""
        first = after is None
        key = (size, first)
        if key not in self._driver_pages:
            changing = [] if first else [f"after_{i}" for i in range(len(after or ()))]
            self._driver_pages[key] = DriverRead.compile(self.page_query(size, first), conn,
                                                         changing)
        read = self._driver_pages[key]
        if read is not None:
            return await read.fetch(conn, self.page_params(after))
        return driver_rows(await conn.execute(self.page_query(size, first),
                                              self.page_params(after)))

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

    async def batches(self, size: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[Rows]:
        """The selected records, ``size`` at a time, in primary-key order (keyset paging:
        memory stays flat whatever the selection's size). The batches are read on one
        connection outside any transaction (autocommit reads; SQLite takes no lock between
        two reads), so a handler may update the rows it was given between batches. A batch
        is a sequence of read-only records (``row["name"]``), as the driver returned them."""
        after: tuple[Any, ...] | None = None
        async with self.datasource.read() as conn:
            while True:
                rows = await self.page(conn, size, after)
                if not rows:
                    return
                yield rows
                if len(rows) < size:
                    return
                after = rows.key(-1, self.collection.primary_key)

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
    ) -> Iterator[Rows]:
        """``batches`` for sync handlers, on the sync engine they are given."""
        after: tuple[Any, ...] | None = None
        while True:
            with engine.connect() as conn:
                rows = driver_rows(conn.execute(self.page_query(size, after is None),
                                                self.page_params(after)))
            if not rows:
                return
            yield rows
            if len(rows) < size:
                return
            after = rows.key(-1, self.collection.primary_key)

    def records_sync(self, engine: sa.Engine, limit: int = 100) -> list[Row]:
        with engine.connect() as conn:
            return row_dicts(conn.execute(self.batch_query(limit, None)))

    def record_sync(self, engine: sa.Engine) -> Row:
        rows = self.records_sync(engine, 1)
        if not rows:
            raise LookupError("the selection is empty")
        return rows[0]
