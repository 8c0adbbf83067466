"""Collections reflected from each real database, and the checks on their configuration."""

from __future__ import annotations

import asyncio
from pathlib import Path

from actiondesk import Desk, RelationshipKind


def reflect(url: str, **options: object) -> Desk:
    desk = Desk(database_url=url, secret_key="k", **options)  # type: ignore[arg-type]
    asyncio.run(desk.check())
    return desk


async def _load(desk: Desk) -> None:
    try:
        await desk.datasource.connect()
    finally:
        await desk.datasource.close()


def test_reflection_finds_tables_keys_and_relationships(sample_db: str) -> None:
    desk = Desk(database_url=sample_db, secret_key="k")
    asyncio.run(_load(desk))
    collections = desk.datasource.collections
    assert set(collections) == {"companies", "transactions", "orders", "order_lines"}
    assert any("audit_log" in note for note in desk.datasource.notes)
    assert collections["order_lines"].primary_key == ("order_code", "line_no")
    companies = collections["companies"]
    assert companies.fields["id"].primary_key and not companies.fields["name"].nullable
    assert companies.fields["note"].nullable
    assert companies.fields["capital"].type.value == "decimal"
    assert companies.fields["created_at"].type.value == "datetime"
    rel = companies.relationships["emitter_company_transactions"]
    assert rel.kind is RelationshipKind.ONE_TO_MANY and rel.target == "transactions"
    assert collections["order_lines"].relationships["orders"].fields == ("order_code",)


def test_include_exclude_and_relationship_names(sample_db: str) -> None:
    desk = Desk(
        database_url=sample_db,
        secret_key="k",
        exclude=["orders"],
        relationship_names={
            "companies.emitter_company_transactions": "emitted_transactions",
        },
    )
    asyncio.run(_load(desk))
    collections = desk.datasource.collections
    assert "orders" not in collections
    # A relationship to a left-out collection is dropped rather than leading nowhere.
    assert "orders" not in collections["order_lines"].relationships
    assert "emitted_transactions" in collections["companies"].relationships


def test_check_reports_every_problem_at_once(sample_db: str, tmp_path: Path) -> None:
    desk = Desk(
        database_url=sample_db,
        state_url=f"sqlite:///{tmp_path}/state.db",
        secret_key="k",
        include=["companies", "ghosts"],
        exclude=["audit_log"],
        relationship_names={"companies.nope": "x"},
    )
    problems = asyncio.run(desk.check())
    assert len(problems) == 3
    assert any("'ghosts'" in p for p in problems)
    assert any("'audit_log'" in p for p in problems)
    assert any("companies.nope" in p for p in problems)


def test_check_reports_an_unreachable_database(tmp_path: Path) -> None:
    desk = Desk(
        database_url="postgresql://nobody:pw@127.0.0.1:1/none",
        state_url=f"sqlite:///{tmp_path}/state.db",
        secret_key="k",
    )
    problems = asyncio.run(desk.check())
    assert len(problems) == 1 and "cannot read the database" in problems[0]
    assert "pw" not in problems[0]
