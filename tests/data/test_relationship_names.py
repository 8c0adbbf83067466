"""Relationship names of self-referencing and CamelCase foreign keys (Chinook's
``employee.reports_to`` and ``Customer.SupportRepId``): each side named after the key column,
each renameable on its own, on every database."""

from __future__ import annotations

import asyncio
import re
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from actiondesk import Desk
from tests.conftest import admin_api, served
from tests.databases import BACKENDS, create_tables, scratch_database

metadata = sa.MetaData()
employee = sa.Table(
    "employee", metadata,
    sa.Column("employee_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_name", sa.String(40), nullable=False),
    sa.Column("reports_to", sa.ForeignKey("employee.employee_id"), nullable=True),
)
customer = sa.Table(
    "Customer", metadata,
    sa.Column("CustomerId", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("LastName", sa.String(40), nullable=False),
    sa.Column("SupportRepId", sa.ForeignKey("employee.employee_id"), nullable=True),
)
audit_events = sa.Table(
    "audit_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
)
genre = sa.Table(
    "Genre", metadata,
    sa.Column("GenreId", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ParentGenreId", sa.ForeignKey("Genre.GenreId"), nullable=True),
)


ROWS = {
    employee: [
        {"employee_id": 1, "last_name": "Adams", "reports_to": None},
        {"employee_id": 2, "last_name": "Edwards", "reports_to": 1},
        {"employee_id": 3, "last_name": "Peacock", "reports_to": 2},
        {"employee_id": 4, "last_name": "Park", "reports_to": 2},
    ],
    customer: [{"CustomerId": 10, "LastName": "Gonçalves", "SupportRepId": 3}],
    genre: [{"GenreId": 1, "ParentGenreId": None}],
}


@pytest.fixture(scope="module", params=BACKENDS)
def chinook(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("chinook")) as url:
        create_tables(url, metadata, ROWS)
        yield url


def _rels(desk: Desk, collection: str) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    rels = desk.datasource.collections[collection].relationships
    return {name: (r.kind.value, r.target, r.fields) for name, r in rels.items()}


def _checked(url: str, **options: Any) -> tuple[Desk, list[str]]:
    desk = Desk(database_url=url, secret_key="k", **options)
    return desk, asyncio.run(desk.check())


def test_each_side_of_a_self_reference_has_its_own_name(chinook: str) -> None:
    desk, problems = _checked(chinook)
    assert problems == []
    assert _rels(desk, "employee") == {
        "reports_to": ("many_to_one", "employee", ("reports_to",)),
        "reports_to_employee": ("one_to_many", "employee", ("employee_id",)),
        "Customer": ("one_to_many", "Customer", ("employee_id",)),
    }
    # A CamelCase key column loses its Id suffix and is written in snake_case.
    assert _rels(desk, "Customer") == {
        "support_rep": ("many_to_one", "employee", ("SupportRepId",)),
    }
    assert _rels(desk, "Genre") == {
        "parent_genre": ("many_to_one", "Genre", ("ParentGenreId",)),
        "parent_genre_genre": ("one_to_many", "Genre", ("GenreId",)),
    }


def test_each_side_is_renamed_on_its_own(chinook: str) -> None:
    desk, problems = _checked(chinook, relationship_names={
        "employee.reports_to_employee": "direct_reports",
        "Customer.support_rep": "rep",
    })
    assert problems == []
    assert set(_rels(desk, "employee")) == {"reports_to", "direct_reports", "Customer"}
    assert set(_rels(desk, "Customer")) == {"rep"}

    desk, problems = _checked(chinook, relationship_names={"employee.reports_to": "manager"})
    assert problems == []
    assert set(_rels(desk, "employee")) == {"manager", "reports_to_employee", "Customer"}


def test_a_rename_onto_a_taken_name_or_an_unknown_one_is_reported(chinook: str) -> None:
    _, problems = _checked(chinook, relationship_names={
        "employee.reports_to": "last_name",               # a column of employee
        "employee.reports_to_employee": "Customer",       # another relationship
        "employee.employee_2": "x",                       # the old, shared name
    })
    assert len(problems) == 3, problems
    assert any("'employee.reports_to'" in p and "'last_name'" in p for p in problems)
    assert any("'employee.reports_to_employee'" in p and "'Customer'" in p for p in problems)
    assert any("no relationship 'employee.employee_2'" in p for p in problems)


def test_both_sides_lead_to_the_right_records_over_http(chinook: str, tmp_path: Path) -> None:
    desk = Desk(database_url=chinook, state_url=f"sqlite:///{tmp_path}/state.db",
                secret_key="k", relationship_names={"employee.reports_to_employee": "reports"})
    with served(desk) as base, admin_api(base) as api:
        schema = api.get("/collections/employee").json()
        assert {r["name"]: r["kind"] for r in schema["relationships"]} == {
            "reports_to": "many_to_one", "reports": "one_to_many", "Customer": "one_to_many",
        }
        reports = api.get("/collections/employee/records/2/relationships/reports").json()
        assert sorted(r["id"] for r in reports["records"]) == ["3", "4"]
        assert reports["count"] == 2
        manager = api.get("/collections/employee/records/3/relationships/reports_to").json()
        assert [r["id"] for r in manager["records"]] == ["2"]
        customers = api.get("/collections/employee/records/3/relationships/Customer").json()
        assert [r["id"] for r in customers["records"]] == ["10"]
        gone = api.get("/collections/employee/records/2/relationships/reports_to_employee")
        assert gone.status_code == 404 and "reports_to" in gone.json()["detail"]


def test_the_readme_relationships_example(
    chinook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Relationships\n", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"^```python\n(.*?)^```$", section, re.S | re.M)
    monkeypatch.setenv("ACTIONDESK_DATABASE_URL", chinook)
    monkeypatch.setenv("ACTIONDESK_STATE_URL", f"sqlite:///{tmp_path}/state.db")
    monkeypatch.setenv("ACTIONDESK_SECRET_KEY", "readme-example-secret-key-0123456789")
    script = tmp_path / "readme_example.py"
    script.write_text(example, encoding="utf-8")
    desk: Desk = runpy.run_path(str(script))["desk"]
    assert asyncio.run(desk.check()) == []
    assert set(desk.datasource.collections) == {"employee", "Customer", "Genre"}
    assert set(_rels(desk, "employee")) == {"manager", "direct_reports", "Customer"}
    assert _rels(desk, "Customer") == {"rep": ("many_to_one", "employee", ("SupportRepId",))}
