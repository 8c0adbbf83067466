"""Selections read in batches: rows straight from the driver, typed when read, on every
backend; keyset pages over a composite key; the checkpointed cursor's keys and ranges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from actiondesk.actions.batches import BatchCursor
from actiondesk.actions.selection import Selection
from actiondesk.data.datasource import Datasource
from tests.databases import BACKENDS, create_tables, scratch_database

metadata = sa.MetaData()
ledger = sa.Table(
    "ledger", metadata,
    sa.Column("account", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("amount", sa.Numeric(12, 2), nullable=False),
    sa.Column("booked_at", sa.DateTime, nullable=True),
    sa.Column("note", sa.String(40), nullable=True),
)
WHEN = dt.datetime(2026, 3, 1, 12, 30)
LINES = [{"account": a, "line": n, "amount": Decimal(f"{a}.{n:02d}"),
          "booked_at": WHEN if n % 2 else None, "note": f"a{a}-{n}"}
         for a in range(1, 6) for n in range(1, 8)]


@pytest.fixture(scope="module", params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("rows")) as url:
        create_tables(url, metadata, {ledger: LINES})
        yield url


async def selection_of(url: str, where: sa.ColumnElement[bool] | None = None
                       ) -> tuple[Datasource, Selection]:
    datasource = Datasource(url, models=[metadata])
    await datasource.connect()
    collection = datasource.collection("ledger")
    return datasource, Selection(datasource, collection,
                                 where if where is not None else sa.true(), description={})


async def test_batches_give_typed_read_only_rows_in_key_order(ledger_url: str) -> None:
    datasource, selection = await selection_of(ledger_url, ledger.c.account != 3)
    try:
        batches = [batch async for batch in selection.batches(size=4)]
    finally:
        await datasource.close()
    expected = [line for line in LINES if line["account"] != 3]
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 4, 4]
    rows = [row for batch in batches for row in batch]
    assert [(r["account"], r["line"]) for r in rows] == [
        (line["account"], line["line"]) for line in expected]
    first = rows[0]
    assert first == expected[0]
    assert isinstance(first["amount"], Decimal) and first["amount"] == Decimal("1.01")
    assert first["booked_at"] == WHEN and first.get("missing", "-") == "-"
    assert dict(first)["note"] == "a1-1" and list(first) == list(expected[0])
    assert batches[0].column("amount") == [line["amount"] for line in expected[:4]]
    assert batches[0].column("booked_at") == [WHEN, None, WHEN, None]
    assert batches[0].dicts()[1] == expected[1]
    with pytest.raises(TypeError):
        first["note"] = "changed"  # type: ignore[index]


async def test_sync_batches_read_the_same_rows(ledger_url: str) -> None:
    datasource, selection = await selection_of(ledger_url, ledger.c.line > 5)
    try:
        rows = [row for batch in selection.batches_sync(datasource.sync_engine, size=3)
                for row in batch]
    finally:
        await datasource.close()
    assert [(r["account"], r["line"], r["amount"]) for r in rows] == [
        (line["account"], line["line"], line["amount"]) for line in LINES if line["line"] > 5]


async def test_checkpointed_batches_give_keys_and_ranges(ledger_url: str) -> None:
    datasource, selection = await selection_of(ledger_url, ledger.c.account >= 4)
    try:
        cursor = BatchCursor(selection, datasource.engine, 5)
        seen = []
        async for batch in cursor:
            seen.append(batch.keys)
            count = await batch.conn.scalar(
                sa.select(sa.func.count()).select_from(ledger).where(batch.where))
            assert count == len(batch)
        await cursor.close(True)
    finally:
        await datasource.close()
    keys = [key for batch in seen for key in batch]
    assert keys == [(a, n) for a in (4, 5) for n in range(1, 8)]
    assert [len(b) for b in seen] == [5, 5, 4] and cursor.done == 14


async def test_pages_keep_typed_filter_values_and_lists(ledger_url: str) -> None:
    """A selection whose values are converted on the way in (a decimal, a datetime, an IN
    list): every page, compiled once on SQLite (``data.driver_reads``), gives its rows."""
    where = sa.and_(ledger.c.amount > Decimal("1.03"), ledger.c.booked_at == WHEN,
                    ledger.c.account.in_([1, 2, 4]))
    datasource, selection = await selection_of(ledger_url, where)
    try:
        pages = [[(r["account"], r["line"], r["amount"]) for r in batch]
                 async for batch in selection.batches(size=2)]
    finally:
        await datasource.close()
    expected = [(line["account"], line["line"], line["amount"]) for line in LINES
                if line["amount"] > Decimal("1.03") and line["booked_at"] == WHEN
                and line["account"] in (1, 2, 4)]
    assert [row for page in pages for row in page] == expected
    assert [len(page) for page in pages] == [2] * 5


async def test_a_failed_page_is_a_sqlalchemy_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(ledger.insert(), LINES)
    engine.dispose()
    datasource, selection = await selection_of(url)
    try:
        pages = selection.batches(size=10)
        assert len(await anext(pages)) == 10
        async with datasource.engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE ledger"))
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            await anext(pages)
        await pages.aclose()
    finally:
        await datasource.close()


def test_rows_compare_with_lists_of_dicts() -> None:
    from actiondesk.data.rows import Rows, Shape

    rows = Rows([(1, "a"), (2, "b")], Shape(["id", "name"], [None, str.upper]))
    assert rows == [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]
    assert rows[1:] == [{"id": 2, "name": "B"}] and rows.key(-1, ["id"]) == (2,)
    assert repr(rows[0]) == "Record({'id': 1, 'name': 'A'})"
