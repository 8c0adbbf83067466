"""Readable values through the records API, on every backend: how collections and fields read
(declared and default), record labels, the labels of referenced records carried by the answer
with one query per referenced collection (counted at the driver), and collection counts."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import Desk, FieldDisplay
from actiondesk.data.datasource import Datasource
from actiondesk.permissions.service import RoleSpec
from tests.auth_support import client, token_for
from tests.live_server import live_server
from tests.sample_schema import metadata


@dataclass
class Statements:
    """SQL statements the data database receives while ``counting``."""

    seen: list[str]
    counting: bool = False

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def add(self, sql: str) -> None:
        if self.counting:
            with self.lock:
                self.seen.append(sql)

    def during(self, call: Any) -> list[str]:
        self.seen.clear()
        self.counting = True
        try:
            call()
        finally:
            self.counting = False
        return list(self.seen)


@dataclass
class Served:
    admin: httpx.Client
    auditor: httpx.Client
    statements: Statements
    desk: Desk


def declare(desk: Desk) -> None:
    desk.display("companies", label="Firms", description="Who we work with.", fields={
        "capital": FieldDisplay(format="money", currency="EUR", description="Paid-in capital."),
        "status": FieldDisplay(enum_labels={"churned": "Gone"}),
        "rating": FieldDisplay(format="percent", decimals=1),
    })
    desk.display("order_lines", record_label="{order_code} line {line_no}")


@pytest.fixture(scope="module")
def served(sample_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = tmp_path_factory.mktemp("readable") / "state.db"
    desk = Desk(database_url=sample_db, state_url=f"sqlite:///{state}", secret_key="test-secret",
                models=[metadata])
    declare(desk)
    admin_token = token_for(desk)
    auditor_token = token_for(desk, "auditor@readable.test",
                              RoleSpec("auditor", readable=frozenset({"transactions"})))
    statements = Statements([])
    sa.event.listen(desk.datasource.engine.sync_engine, "before_cursor_execute",
                    lambda conn, cursor, sql, *rest: statements.add(sql))
    with live_server(desk) as base, client(base + "/api", admin_token) as admin, \
                client(base + "/api", auditor_token) as auditor:
        yield Served(admin, auditor, statements, desk)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_collections_read_as_declared_with_defaults_elsewhere(served: Served) -> None:
    by_name = {c["name"]: c for c in ok(served.admin.get("/collections"))["collections"]}
    companies = by_name["companies"]
    assert (companies["label"], companies["description"]) == ("Firms", "Who we work with.")
    assert companies["record_label"] == "name"  # the default: its name field
    fields = {f["name"]: f for f in companies["fields"]}
    assert fields["capital"]["format"] == "money" and fields["capital"]["currency"] == "EUR"
    assert fields["capital"]["description"] == "Paid-in capital."
    assert fields["rating"]["format"] == "percent" and fields["rating"]["decimals"] == 1
    # Enum labels: declared where given, the value humanised elsewhere.
    assert fields["status"]["enum_labels"] == {"pending": "Pending", "live": "Live",
                                               "churned": "Gone"}
    assert fields["created_at"]["label"] == "Created at"
    assert fields["created_at"]["format"] == "datetime"
    assert fields["founded"]["format"] == "date" and fields["active"]["format"] == "boolean"
    assert fields["id"]["label"] == "ID" and fields["id"]["format"] == "text"
    # A many-to-one key column reads as its relationship; it is not a number to format.
    tx_fields = {f["name"]: f for f in by_name["transactions"]["fields"]}
    assert tx_fields["emitter_company_id"]["label"] == "Emitter company"
    assert tx_fields["emitter_company_id"]["format"] == "text"
    assert tx_fields["amount"]["format"] == "number"
    assert by_name["transactions"]["label"] == "Transactions"
    assert by_name["transactions"]["record_label"] is None  # no name-like field: "#id"
    assert by_name["orders"]["record_label"] == "code"
    assert by_name["order_lines"]["record_label"] == "{order_code} line {line_no}"
    assert ok(served.admin.get("/collections/companies"))["label"] == "Firms"


def test_records_carry_their_label_and_referenced_labels(served: Served) -> None:
    page = ok(served.admin.get("/collections/transactions/records",
                               params={"page_size": 3, "sort": "id"}))
    assert [r["label"] for r in page["records"]] == ["#1", "#2", "#3"]
    # Transaction i is emitted by company 1 + i % 3 and received by company 10 + i % 5.
    assert page["references"] == {"companies": {
        "1": "Company 01", "2": "Company 02", "3": "Company 03", "11": "Company 11",
        "12": "Company 12", "13": "Company 13"}}
    lines = ok(served.admin.get("/collections/order_lines/records", params={"page_size": 2}))
    first = lines["records"][0]
    assert first["label"] == f"{first['values']['order_code']} line {first['values']['line_no']}"
    assert set(lines["references"]) == {"orders"}
    assert all(lines["references"]["orders"][r["values"]["order_code"].replace("%", "%25")
                                           .replace("|", "%7C").replace("/", "%2F")]
               == r["values"]["order_code"] for r in lines["records"])


def test_one_record_carries_the_labels_it_refers_to(served: Served) -> None:
    record = ok(served.admin.get("/collections/transactions/records/4"))
    assert record["references"] == {"companies": {"2": "Company 02", "14": "Company 14"}}
    company = ok(served.admin.get("/collections/companies/records/7"))
    assert company["label"] == "Company 07 100%_sure" and company["references"] == {}


def test_labels_of_a_collection_the_caller_may_not_read_are_not_sent(served: Served) -> None:
    page = ok(served.auditor.get("/collections/transactions/records", params={"page_size": 5}))
    assert page["references"] == {} and len(page["records"]) == 5
    assert ok(served.auditor.get("/collections/transactions/records/4"))["references"] == {}


@pytest.mark.parametrize("page_size", [5, 60])
def test_a_page_of_references_is_one_query_per_referenced_collection(
    served: Served, page_size: int
) -> None:
    """Two relationships to companies on every row: still one labels query, whatever the
    page size (no query per row)."""
    answer: dict[str, Any] = {}

    def call() -> None:
        answer.update(ok(served.admin.get("/collections/transactions/records",
                                          params={"page_size": page_size})))

    sql = served.statements.during(call)
    selects = [s for s in sql if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, sql  # the page, its count, the companies' labels
    assert len(answer["records"]) == min(page_size, 60)
    referenced = {str(r["values"][k]) for r in answer["records"]
                  for k in ("emitter_company_id", "beneficiary_company_id")}
    assert set(answer["references"]["companies"]) == referenced


def test_counts_exact_and_estimated(served: Served, sample_db: str) -> None:
    counted = ok(served.admin.get("/collections", params={"counts": "true"}))["collections"]
    assert {c["name"]: (c["count"], c["count_estimated"]) for c in counted} == {
        "companies": (30, False), "transactions": (60, False), "orders": (5, False),
        "order_lines": (10, False)}
    # Only the collections the caller may read are counted; without counts=true, no count.
    mine = ok(served.auditor.get("/collections", params={"counts": "true"}))["collections"]
    assert [(c["name"], c["count"]) for c in mine] == [("transactions", 60)]
    assert ok(served.admin.get("/collections"))["collections"][0]["count"] is None
    # Above the threshold, PostgreSQL and MariaDB answer from their statistics (after ANALYZE).
    datasource = Datasource(sample_db, models=[metadata])

    async def estimate() -> tuple[int, bool]:
        await datasource.connect()
        try:
            if datasource.dialect == "postgresql":
                async with datasource.engine.connect() as conn:
                    await conn.execute(sa.text("ANALYZE companies"))
                    await conn.commit()
            elif datasource.dialect != "sqlite":
                async with datasource.engine.connect() as conn:
                    await conn.execute(sa.text("ANALYZE TABLE companies"))
            found = await datasource.counts([datasource.collection("companies")],
                                            estimate_above=1)
        finally:
            await datasource.close()
        return found["companies"].count, found["companies"].estimated

    count, estimated = asyncio.run(estimate())
    if sample_db.startswith("sqlite"):
        assert (count, estimated) == (30, False)  # a local file: always counted
    else:
        assert estimated and count > 1


def test_bad_counts_parameter_is_a_named_client_error(served: Served) -> None:
    answer = served.admin.get("/collections", params={"counts": "maybe"})
    assert answer.status_code in (400, 422)
    assert "counts" in json.dumps(answer.json())


def test_labels_of_ids_in_one_query(served: Served) -> None:
    answer: dict[str, Any] = {}

    def call() -> None:
        answer.update(ok(served.admin.get("/collections/companies/labels",
                                          params={"ids": ["1", "2", "2", "999", "abc"]})))

    sql = served.statements.during(call)
    assert len([s for s in sql if s.lstrip().upper().startswith("SELECT")]) == 1, sql
    # Ids of no record (or that cannot be one) are left out.
    assert answer == {"collection": "companies",
                      "labels": {"1": "Company 01", "2": "Company 02"}}
    lines = ok(served.admin.get("/collections/order_lines/labels",
                                params={"ids": ["A%7C1|1", "x%2Fy z|2", "A%7C1"]}))
    assert lines["labels"] == {"A%7C1|1": "A|1 line 1", "x%2Fy z|2": "x/y z line 2"}


def test_labels_refusals_name_the_problem(served: Served) -> None:
    too_many = served.admin.get("/collections/companies/labels",
                                params={"ids": [str(i) for i in range(201)]})
    assert too_many.status_code in (400, 422) and "ids" in json.dumps(too_many.json())
    missing = served.admin.get("/collections/companies/labels")
    assert missing.status_code in (400, 422) and "ids" in json.dumps(missing.json())
    refused = served.auditor.get("/collections/companies/labels", params={"ids": ["1"]})
    assert refused.status_code == 403 and "companies" in refused.json()["error"]
    assert served.admin.get("/collections/nope/labels", params={"ids": ["1"]}).status_code == 404
