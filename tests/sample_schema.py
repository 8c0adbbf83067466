"""A small schema covering every field type, composite keys and relationships, with data."""

from __future__ import annotations

import datetime as dt
import decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.data.urls import to_async_url

metadata = sa.MetaData()

companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column(
        "status",
        sa.Enum("pending", "live", "churned", name="sample_status", native_enum=False),
        nullable=False,
    ),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("capital", sa.Numeric(12, 2), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("founded", sa.Date, nullable=True),
    sa.Column("opens_at", sa.Time, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("meta", sa.JSON, nullable=True),
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("emitter_company_id", sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("beneficiary_company_id", sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("amount", sa.Numeric(12, 2), nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("company_id", sa.ForeignKey("companies.id"), nullable=True),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_code", sa.ForeignKey("orders.code"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", sa.String(100), nullable=False),
)

audit_log = sa.Table(  # no primary key: not a collection
    "audit_log",
    metadata,
    sa.Column("message", sa.String(200)),
)

ODD_CODES = ("A|1", "50%", "x/y z", "é-ü", "plain")
STATUSES = ("pending", "live", "churned")
BASE = dt.datetime(2026, 1, 1, 12, 0, 0)


def company_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(1, 31):
        rows.append(
            {
                "id": i,
                "name": f"Company {i:02d}" + (" 100%_sure" if i == 7 else ""),
                "status": STATUSES[i % 3],
                "note": None if i % 5 == 0 else f"note {i}",
                "rating": None if i % 4 == 0 else i / 10,
                "capital": decimal.Decimal(i * 1000) + decimal.Decimal("0.25"),
                "active": i % 2 == 0,
                "founded": None if i % 6 == 0 else dt.date(2000 + i % 20, 1 + i % 12, 1),
                "opens_at": dt.time(8 + i % 4, 30),
                "created_at": BASE - dt.timedelta(days=i),
                "meta": {"i": i},
            }
        )
    return rows


def transaction_rows() -> list[dict[str, object]]:
    return [
        {
            "id": i,
            "emitter_company_id": 1 + i % 3,
            "beneficiary_company_id": 10 + i % 5,
            "amount": decimal.Decimal(i) * decimal.Decimal("10.50"),
        }
        for i in range(1, 61)
    ]


def order_rows() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    orders_ = [{"code": code, "company_id": 1} for code in ODD_CODES]
    lines = [
        {"order_code": code, "line_no": n, "label": f"{code} line {n}"}
        for code in ODD_CODES
        for n in (1, 2)
    ]
    return orders_, lines


async def create_and_seed(url: str) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(companies.insert(), company_rows())
            await conn.execute(transactions.insert(), transaction_rows())
            orders_, lines = order_rows()
            await conn.execute(orders.insert(), orders_)
            await conn.execute(order_lines.insert(), lines)
            await conn.execute(audit_log.insert(), [{"message": "hello"}])
            if conn.dialect.name == "postgresql":
                # Explicit ids do not advance the sequences: a record created next would
                # collide with id 1.
                for table in (companies, transactions):
                    await conn.execute(sa.select(sa.func.setval(
                        sa.func.pg_get_serial_sequence(table.name, "id"),
                        sa.select(sa.func.max(table.c.id)).scalar_subquery())))
    finally:
        await engine.dispose()
