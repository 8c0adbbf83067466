"""Tests of the deterministic demo dataset and of seeding it into SQLite.

``random.Random`` here only feeds demo data (S311 does not apply: not security).
"""

import random
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Enum, String, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.demo import DEMO_COUNTS, DemoBase, seed_demo
from actiondesk.demo.seed import BASE_DATE, DEMO_SEED, generate_rows

Rows = dict[str, list[dict[str, object]]]


@pytest.fixture(scope="module")
def rows() -> Rows:
    return generate_rows()


def test_generate_rows_is_deterministic(rows: Rows) -> None:
    assert generate_rows() == rows
    assert generate_rows(random.Random(DEMO_SEED)) == rows  # noqa: S311


def test_other_seed_gives_other_rows(rows: Rows) -> None:
    assert generate_rows(random.Random(1)) != rows  # noqa: S311


def test_counts_and_order_match_demo_counts(rows: Rows) -> None:
    assert list(rows) == list(DEMO_COUNTS)
    assert {name: len(table_rows) for name, table_rows in rows.items()} == DEMO_COUNTS


def test_rows_match_table_columns(rows: Rows) -> None:
    for name, table_rows in rows.items():
        columns = set(DemoBase.metadata.tables[name].columns.keys())
        for row in table_rows:
            assert set(row) == columns, name


def test_ids_are_explicit_and_sequential(rows: Rows) -> None:
    for name, table_rows in rows.items():
        assert [row["id"] for row in table_rows] == list(range(1, len(table_rows) + 1)), name


def test_foreign_keys_reference_existing_rows(rows: Rows) -> None:
    seen: set[str] = set()
    for name, table_rows in rows.items():
        table = DemoBase.metadata.tables[name]
        for fk in table.foreign_keys:
            target = fk.column.table.name
            assert target in seen, f"{name} inserted before {target}"
            ids = {row[fk.column.name] for row in rows[target]}
            for row in table_rows:
                value = row[fk.parent.name]
                if value is None:
                    assert fk.parent.nullable, f"{name}.{fk.parent.name}"
                else:
                    assert value in ids, f"{name}.{fk.parent.name}={value}"
        seen.add(name)


def test_values_fit_column_types(rows: Rows) -> None:
    for name, table_rows in rows.items():
        for column in DemoBase.metadata.tables[name].columns:
            for row in table_rows:
                value = row[column.name]
                if value is None:
                    assert column.nullable, f"{name}.{column.name}"
                elif isinstance(column.type, Enum):
                    assert value in column.type.enums, f"{name}.{column.name}={value}"
                elif isinstance(column.type, String) and column.type.length is not None:
                    assert isinstance(value, str)
                    assert len(value) <= column.type.length, f"{name}.{column.name}={value}"


def test_status_distributions(rows: Rows) -> None:
    companies = Counter(row["status"] for row in rows["companies"])
    assert 0.4 < companies["live"] / 400 < 0.6
    assert 0.2 < companies["pending"] / 400 < 0.4
    assert 0.1 < companies["churned"] / 400 < 0.3
    transactions = Counter(row["status"] for row in rows["transactions"])
    assert 0.55 < transactions["validated"] / 5000 < 0.65
    assert 0.25 < transactions["to_validate"] / 5000 < 0.35
    assert 0.05 < transactions["rejected"] / 5000 < 0.15


def test_transactions_are_consistent(rows: Rows) -> None:
    cent = Decimal("0.01")
    for row in rows["transactions"]:
        assert row["emitter_company_id"] != row["beneficiary_company_id"]
        amount, vat, fee = row["amount"], row["vat_amount"], row["fee_amount"]
        assert isinstance(amount, Decimal)
        assert amount > 0
        assert amount == amount.quantize(cent)
        assert vat == (amount * Decimal("0.2")).quantize(cent)
        assert isinstance(fee, Decimal)
        assert abs(fee - amount * Decimal("0.005")) <= Decimal("0.005")
    references = [row["reference"] for row in rows["transactions"]]
    assert len(set(references)) == len(references)


def test_ibans_have_valid_check_digits(rows: Rows) -> None:
    for row in rows["transactions"]:
        for key in ("emitter_iban", "beneficiary_iban"):
            iban = row[key]
            assert isinstance(iban, str)
            rearranged = iban[4:] + iban[:4]
            assert int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1, iban


def test_emails_and_stripe_ids(rows: Rows) -> None:
    for name in ("customers", "users"):
        emails = [row["email"] for row in rows[name]]
        assert len(set(emails)) == len(emails), name
    for row in rows["customers"]:
        stripe_id = row["stripe_id"]
        assert isinstance(stripe_id, str)
        assert stripe_id.startswith("cus_")
        assert len(stripe_id) == 18
        assert stripe_id[4:].isalnum()


def test_timestamps_are_fixed_in_the_past(rows: Rows) -> None:
    for name, table_rows in rows.items():
        for row in table_rows:
            for value in row.values():
                if isinstance(value, datetime):
                    assert value <= BASE_DATE, name
                    assert value.microsecond == 0, name


def test_account_balances_match_movements(rows: Rows) -> None:
    balances: defaultdict[object, Decimal] = defaultdict(Decimal)
    for income in rows["incomes"]:
        assert isinstance(income["amount"], Decimal)
        balances[income["account_id"]] += income["amount"]
    for outcome in rows["outcomes"]:
        assert isinstance(outcome["amount"], Decimal)
        balances[outcome["account_id"]] -= outcome["amount"]
    for account in rows["accounts"]:
        assert account["balance"] == balances[account["id"]]


@pytest.mark.asyncio
async def test_seed_sqlite_once(tmp_path: Path, rows: Rows) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    assert await seed_demo(url) is True
    assert await seed_demo(url) is False

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            for name, expected in DEMO_COUNTS.items():
                table = DemoBase.metadata.tables[name]
                count = await conn.scalar(select(func.count()).select_from(table))
                assert count == expected, name
            transactions = DemoBase.metadata.tables["transactions"]
            query = select(transactions).order_by(transactions.c.id).limit(50)
            stored = (await conn.execute(query)).mappings().all()
    finally:
        await engine.dispose()
    assert [dict(row) for row in stored] == rows["transactions"][:50]
