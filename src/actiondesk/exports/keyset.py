"""A list's records in its own order, a batch at a time: keyset pagination on the sort keys
and then the primary key, so memory stays flat and a batch never skips or repeats a record,
whatever the sort (descending keys and empty values included)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.data.datasource import SortKey
from actiondesk.data.schema import Collection, Field

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource

DEFAULT_BATCH = 2000
_MYSQL = mysql.dialect()


class _SingleFloat(ColumnElement[float]):
    """A value as MySQL's 4-byte FLOAT: the column's values read back as the nearest double
    ("2.7"), which compares greater than the column's own 2.7f; cast, they are equal."""

    inherit_cache = True
    type = sa.Float()

    def __init__(self, value: Any) -> None:
        self.value = sa.bindparam(None, value, type_=sa.Float(), unique=True)


@compiles(_SingleFloat)
def _single_float(element: _SingleFloat, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.value, **kw)} AS FLOAT)"


def _single_precision(field: Field, dialect: str) -> bool:
    if dialect not in ("mysql", "mariadb") or not isinstance(field.column.type, sa.Float):
        return False
    return str(field.column.type.compile(dialect=_MYSQL)).startswith("FLOAT")


def key_fields(collection: Collection, sort: Sequence[SortKey]) -> list[tuple[Field, bool]]:
    """The sort's fields (descending or not), then the primary key's not already sorted by:
    the order the list uses (``Datasource.order_by``), which makes every row's key unique."""
    keys = [(collection.fields[k.field], k.descending) for k in sort]
    sorted_by = {k.field for k in sort}
    keys += [(collection.fields[n], False) for n in collection.primary_key
             if n not in sorted_by]
    return keys


def after_clause(keys: Sequence[tuple[Field, bool]], values: Sequence[Any],
                 dialect: str) -> ColumnElement[bool]:
    """Rows that come after the row whose keys are ``values`` in the ORDER BY of ``keys``.

    Empty values sort where the database puts them: PostgreSQL takes NULL as the largest
    value, SQLite and MySQL/MariaDB as the smallest."""
    terms: list[ColumnElement[bool]] = []
    prefix: list[ColumnElement[bool]] = []
    for (field, descending), value in zip(keys, values, strict=True):
        column = field.column
        nulls_first = descending if dialect == "postgresql" else not descending
        if value is not None and _single_precision(field, dialect):
            value = _SingleFloat(value)
        if value is None:
            if nulls_first:
                terms.append(sa.and_(*prefix, column.is_not(None)))
            prefix.append(column.is_(None))
            continue
        terms.append(sa.and_(*prefix, column < value if descending else column > value))
        if field.nullable and not nulls_first:
            terms.append(sa.and_(*prefix, column.is_(None)))
        prefix.append(column == value)
    return sa.or_(*terms) if terms else sa.false()


async def ordered_batches(
    datasource: Datasource,
    collection: Collection,
    *,
    fields: Sequence[Field],
    where: ColumnElement[bool] | None,
    sort: Sequence[SortKey],
    size: int = DEFAULT_BATCH,
) -> AsyncIterator[list[sa.Row[Any]]]:
    """The rows matching ``where`` in the list's order, ``size`` at a time, each starting with
    the values of ``fields`` (then the sort keys it needs). Each batch is read on its own
    connection, so a slow reader holds no connection or snapshot in between."""
    order = datasource.order_by(collection, sort)  # checks the sort fields first
    keys = key_fields(collection, sort)
    selected = list(fields) + [f for f, _ in keys if f not in fields]
    key_at = [selected.index(f) for f, _ in keys]
    base = sa.select(*(f.column for f in selected)).order_by(*order).limit(size)
    if where is not None:
        base = base.where(where)
    after: list[Any] | None = None
    while True:
        query = base
        if after is not None:
            query = query.where(after_clause(keys, after, datasource.dialect))
        async with datasource.read() as conn:
            rows = list((await conn.execute(query)).all())
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = rows[-1]
        after = [last[i] for i in key_at]
