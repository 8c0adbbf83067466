"""How many records each collection holds, exactly where counting is cheap and from the
database's own statistics where it is not (a full count of a large PostgreSQL or InnoDB table
reads the whole table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.schema import Collection

# Above this many rows (by the statistics), the estimate is shown instead of a count.
ESTIMATE_ABOVE = 100_000


@dataclass(frozen=True)
class CollectionCount:
    count: int
    estimated: bool


async def _estimates(conn: AsyncConnection, dialect: str,
                     tables: Sequence[sa.Table]) -> dict[str, int]:
    """Row estimates by table name from the statistics; none on SQLite (counting is cheap
    there: the table is a local file)."""
    names = sorted({t.name for t in tables})
    if not names:
        return {}
    if dialect == "postgresql":
        query = sa.text(
            "SELECT c.relname, c.reltuples FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(current_schemas(false)) "
            "AND c.relname IN :names"
        ).bindparams(sa.bindparam("names", expanding=True))
    elif dialect in ("mysql", "mariadb"):
        query = sa.text(
            "SELECT table_name, table_rows FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name IN :names"
        ).bindparams(sa.bindparam("names", expanding=True))
    else:
        return {}
    rows = (await conn.execute(query, {"names": names})).all()
    # reltuples is -1 for a table never analysed: no estimate, so it is counted.
    return {str(name): int(rows_) for name, rows_ in rows if rows_ is not None}


async def count_collections(conn: AsyncConnection, dialect: str,
                            collections: Sequence[Collection],
                            estimate_above: int = ESTIMATE_ABOVE) -> dict[str, CollectionCount]:
    """Per collection: an exact count, or the statistics' estimate for a table they say holds
    more than ``estimate_above`` rows. One statement for the estimates, one per count."""
    estimates = await _estimates(conn, dialect, [c.table for c in collections])
    counted: dict[str, CollectionCount] = {}
    for collection in collections:
        estimate = estimates.get(collection.table.name, -1)
        if estimate > estimate_above:
            counted[collection.name] = CollectionCount(estimate, True)
            continue
        query = sa.select(sa.func.count()).select_from(collection.table)
        counted[collection.name] = CollectionCount(int((await conn.execute(query)).scalar_one()),
                                                   False)
    return counted
