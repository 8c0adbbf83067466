"""The approval workflow through a real server, on SQLite, PostgreSQL and MariaDB (the state
tables live in the same database as the data, so the exactly-once guard runs on each)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.approvals.model import EXPORT_COLUMNS, INTERRUPTED, NOT_STARTED
from actiondesk.data.state_schema.approvals import (
    approval_events_table,
    approval_records_table,
    approvals_table,
)
from actiondesk.data.urls import to_async_url
from tests.approvals.approvals_app import (
    build_desk,
    create_extra,
    handler_calls,
    items,
    serve,
)
from tests.auth_support import bearer
from tests.databases import BACKENDS, scratch_database
from tests.sample_schema import companies, create_and_seed
from tests.support import jsonapi

BIG = 100_000
SUPPORT, SUPPORT2 = "support@appr.test", "support2@appr.test"
MANAGER, MANAGER2 = "manager@appr.test", "manager2@appr.test"
LEAD, VIEWER, ADMIN = "lead@appr.test", "viewer@appr.test", "admin@appr.test"
REFUND = "/collections/companies/actions/refund"
VALUES = {"amount": "12.50", "pin": "1234", "on": "2026-05-01T10:00:00Z"}


def sql(url: str, statement: Any) -> Any:
    """Run one statement on the test database (its own engine and loop); scalar result."""

    async def run() -> Any:
        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.begin() as conn:
                result = await conn.execute(statement)
                return result.scalar() if result.returns_rows else None
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dataclass
class Server:
    backend: str
    base: str
    url: str
    tokens: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def api(self, email: str) -> httpx.Client:
        if email not in self.clients:
            self.clients[email] = httpx.Client(base_url=self.base + "/api",
                                               headers=bearer(self.tokens[email]), timeout=120)
        return self.clients[email]

    def calls(self, action: str) -> int:
        return int(sql(self.url, sa.select(sa.func.count()).select_from(handler_calls)
                       .where(handler_calls.c.action == action)))

    def request(self, email: str, ids: list[str], path: str = REFUND,
                values: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
        if values is None and path == REFUND:
            values = VALUES
        answer = self.api(email).post(path, json=jsonapi(ids, values, **attributes))
        assert answer.status_code == 202, answer.text
        approval: dict[str, Any] = answer.json()["approval"]
        return approval

    def decide(self, email: str, approval_id: str, verb: str = "approve",
               body: Any = None) -> httpx.Response:
        return self.api(email).post(f"/approvals/{approval_id}/{verb}", json=body)

    def get(self, email: str, approval_id: str) -> dict[str, Any]:
        answer = self.api(email).get(f"/approvals/{approval_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    backend: str = request.param
    with scratch_database(backend, tmp_path_factory.mktemp("approvals-" + backend)) as url:
        asyncio.run(create_and_seed(url))
        asyncio.run(create_extra(url, BIG if backend == "postgresql" else 30))
        with serve(build_desk(url, url)) as (base, tokens):
            found = Server(backend, base, url, tokens)
            try:
                yield found
            finally:
                found.close()


def note_of(server: Server, company: int) -> str | None:
    note: str | None = sql(server.url, sa.select(companies.c.note)
                           .where(companies.c.id == company))
    return note


# -- requesting -------------------------------------------------------------------------------


def test_a_request_answers_202_and_runs_nothing(server: Server) -> None:
    before = server.calls("refund")
    approval = server.request(SUPPORT, ["1", "3"])
    assert approval["status"] == "pending" and approval["record_count"] == 2
    assert approval["action"]["slug"] == "refund"
    assert approval["values"]["pin"] == "[redacted]" and approval["values"]["amount"] == "12.50"
    assert server.calls("refund") == before
    assert note_of(server, 1) == "note 1"

    mine = server.api(SUPPORT).get("/approvals", params={"box": "requested"}).json()
    assert approval["id"] in [a["id"] for a in mine["approvals"]]
    # Another requester does not see it; an approver does, in the box and the badge.
    other = server.api(SUPPORT2).get("/approvals", params={"box": "requested"}).json()
    assert approval["id"] not in [a["id"] for a in other["approvals"]]
    review = server.api(MANAGER).get("/approvals", params={"box": "to_review"}).json()
    assert approval["id"] in [a["id"] for a in review["approvals"]]
    assert server.api(MANAGER).get("/approvals/badge").json()["to_review"] >= 1
    assert server.api(SUPPORT).get("/approvals/badge").json()["to_review"] == 0

    detail = server.get(MANAGER, approval["id"])
    assert detail["records"]["ids"] == ["1", "3"] and detail["records"]["count"] == 2
    assert [e["kind"] for e in detail["timeline"]] == ["requested"]
    # Why it needs approval is frozen with the request.
    assert detail["timeline"][0]["message"] == (
        "role 'support' may trigger companies/refund with approval (rule: approval)")
    assert detail["can_decide"] and not detail["can_cancel"]
    refused = server.api(VIEWER).get(f"/approvals/{approval['id']}")
    assert refused.status_code == 403
    assert server.api(MANAGER).get("/approvals/" + "0" * 32).status_code == 404


# -- deciding ---------------------------------------------------------------------------------


def test_approval_by_a_manager_executes_once_for_the_requester(server: Server) -> None:
    approval = server.request(SUPPORT, ["4", "6"])
    answer = server.decide(MANAGER, approval["id"], body={"message": "ok, go"})
    assert answer.status_code == 200, answer.text
    done = answer.json()["approval"]
    assert done["status"] == "executed", done
    assert done["result"] == {"success": "refunded 12.50 on 2 companies"}
    assert done["approvers"] == [{"id": done["approvers"][0]["id"], "email": MANAGER}]
    assert note_of(server, 4) == note_of(server, 6) == "refunded 12.50"
    # The handler got the typed values, exactly as requested.
    detail = sql(server.url, sa.select(handler_calls.c.detail)
                 .where(handler_calls.c.run_id == done["run_id"]))
    assert detail == "Decimal:12.50;datetime"

    seen = server.get(SUPPORT, approval["id"])
    assert seen["status"] == "executed" and seen["result"]["success"].startswith("refunded")
    assert [e["kind"] for e in seen["timeline"]] == ["requested", "approved", "executed"]
    assert seen["timeline"][1]["message"] == "ok, go"
    # Audited as a run of the requester, with the approver named.
    run = server.api(SUPPORT).get(f"/runs/{done['run_id']}").json()
    assert run["caller"]["email"] == SUPPORT and run["status"] == "succeeded"
    assert run["caller"]["approvedBy"][0]["email"] == MANAGER
    assert run["selection"]["approval"]["id"] == approval["id"]
    assert run["values"]["pin"] == "[redacted]"
    # Deciding again: 409 with the state.
    again = server.decide(MANAGER2, approval["id"])
    assert again.status_code == 409 and again.json()["detail"]["status"] == "executed"


def test_a_file_result_is_kept_for_the_requester(server: Server) -> None:
    approval = server.request(SUPPORT, ["5"], path="/collections/companies/actions/report")
    done = server.decide(MANAGER, approval["id"]).json()["approval"]
    assert done["status"] == "executed" and done["has_file"]
    assert done["result_filename"] == "report.txt"
    got = server.api(SUPPORT).get(f"/approvals/{approval['id']}/file")
    assert got.status_code == 200 and got.content == b"company 5"
    assert "attachment" in got.headers["content-disposition"]


def test_a_sync_handler_reads_the_frozen_selection(server: Server) -> None:
    approval = server.request(SUPPORT, ["25", "27", "28"],
                              path="/collections/companies/actions/tag", values={})
    done = server.decide(MANAGER, approval["id"]).json()["approval"]
    assert done["status"] == "executed", done
    detail = sql(server.url, sa.select(handler_calls.c.detail)
                 .where(handler_calls.c.run_id == done["run_id"]))
    assert detail == "[25, 27, 28] 25 3"
    assert note_of(server, 27) == "tagged"


def test_reject_and_cancel(server: Server) -> None:
    before = server.calls("refund")
    rejected = server.request(SUPPORT, ["7"])
    answer = server.decide(MANAGER, rejected["id"], "reject", {"message": "not this one"})
    assert answer.status_code == 200
    assert answer.json()["approval"]["status"] == "rejected"
    assert answer.json()["approval"]["reason"] == "not this one"
    late = server.decide(MANAGER2, rejected["id"])
    assert late.status_code == 409 and late.json()["detail"]["status"] == "rejected"

    cancelled = server.request(SUPPORT, ["9"])
    assert server.decide(MANAGER, cancelled["id"], "cancel").status_code == 403
    assert server.decide(SUPPORT2, cancelled["id"], "cancel").status_code == 403
    answer = server.decide(SUPPORT, cancelled["id"], "cancel")
    assert answer.status_code == 200 and answer.json()["approval"]["status"] == "cancelled"
    late = server.decide(MANAGER, cancelled["id"])
    assert late.status_code == 409 and late.json()["detail"]["status"] == "cancelled"
    assert server.calls("refund") == before


def test_self_approval_is_refused_unless_the_policy_allows_it(server: Server) -> None:
    own = server.request(MANAGER, ["10"])
    refused = server.decide(MANAGER, own["id"])
    assert refused.status_code == 403 and "self-approval" in refused.json()["error"]
    assert own["id"] not in [a["id"] for a in server.api(MANAGER).get(
        "/approvals", params={"box": "to_review"}).json()["approvals"]]
    assert server.get(MANAGER, own["id"])["status"] == "pending"

    lead_own = server.request(LEAD, ["12"])
    answer = server.decide(LEAD, lead_own["id"])
    assert answer.status_code == 200 and answer.json()["approval"]["status"] == "executed"


def test_an_approver_without_the_right_is_refused(server: Server) -> None:
    approval = server.request(SUPPORT, ["13"])
    for email in (SUPPORT2, VIEWER, ADMIN):
        answer = server.decide(email, approval["id"])
        assert answer.status_code == 403, (email, answer.text)
        assert "may not approve" in answer.json()["error"]
        assert server.decide(email, approval["id"], "reject").status_code == 403
    assert server.get(SUPPORT, approval["id"])["status"] == "pending"


def test_two_distinct_approvers_when_the_policy_requires_two(server: Server) -> None:
    before = server.calls("wire")
    approval = server.request(SUPPORT, ["15"], path="/collections/companies/actions/wire",
                              values={})
    assert approval["approvals_required"] == 2
    first = server.decide(MANAGER, approval["id"])
    assert first.status_code == 200
    assert first.json()["approval"]["status"] == "pending"
    assert first.json()["approval"]["approvals"] == 1
    twice = server.decide(MANAGER, approval["id"])
    assert twice.status_code == 409 and "already approved" in twice.json()["error"]
    assert server.calls("wire") == before
    # Already approved by me: not in my box any more.
    assert server.get(MANAGER, approval["id"])["can_decide"] is False
    second = server.decide(MANAGER2, approval["id"])
    assert second.status_code == 200 and second.json()["approval"]["status"] == "executed"
    assert second.json()["approval"]["approvals"] == 2
    assert server.calls("wire") == before + 1


def test_an_expired_request_cannot_be_decided(server: Server) -> None:
    approval = server.request(SUPPORT, ["16"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    sql(server.url, sa.update(approvals_table).where(approvals_table.c.id == approval["id"])
        .values(expires_at=past))
    answer = server.decide(MANAGER, approval["id"])
    assert answer.status_code == 409 and answer.json()["detail"]["status"] == "expired"
    seen = server.get(SUPPORT, approval["id"])
    assert seen["status"] == "expired"
    assert [e["kind"] for e in seen["timeline"]] == ["requested", "expired"]
    assert approval["id"] not in [a["id"] for a in server.api(MANAGER).get(
        "/approvals", params={"box": "to_review"}).json()["approvals"]]


@pytest.mark.parametrize("body", [
    {"ids": ["1", "2", "3"]},
    {"values": {"amount": "99999"}},
    {"message": "fine", "data": {"attributes": {"ids": ["3"]}}},
    ["3"],
])
def test_an_approval_cannot_change_ids_or_values(server: Server, body: Any) -> None:
    approval = server.request(SUPPORT, ["18"])
    answer = server.decide(MANAGER, approval["id"], body=body)
    assert answer.status_code == 400, answer.text
    assert server.get(SUPPORT, approval["id"])["status"] == "pending"
    stored = sql(server.url, sa.select(sa.func.count()).select_from(approval_records_table)
                 .where(approval_records_table.c.approval_id == approval["id"]))
    assert stored == 1
    assert server.decide(SUPPORT, approval["id"], "cancel").status_code == 200


def test_stale_records_end_the_request_as_no_longer_applicable(server: Server) -> None:
    before = server.calls("refund")
    approval = server.request(SUPPORT, ["19", "21"])  # 19 live, 21 pending
    sql(server.url, companies.update().where(companies.c.id == 21).values(status="churned"))
    try:
        answer = server.decide(MANAGER, approval["id"])
    finally:
        sql(server.url, companies.update().where(companies.c.id == 21).values(status="pending"))
    assert answer.status_code == 200, answer.text
    done = answer.json()["approval"]
    assert done["status"] == "failed"
    assert done["reason"].startswith("no longer applicable: ")
    assert "churned companies cannot be refunded" in done["reason"]
    assert done["run_id"] is None
    assert server.calls("refund") == before
    assert note_of(server, 19) == "note 19"


def test_history_filters_and_csv_export(server: Server) -> None:
    approval = server.request(SUPPORT2, ["24"])
    server.decide(MANAGER2, approval["id"], "reject", {"message": "=cmd|' /C calc'!A0"})
    history = server.api(MANAGER).get("/approvals", params={
        "box": "history", "reviewer": MANAGER2, "status": "rejected"}).json()
    assert [a["id"] for a in history["approvals"]] == [approval["id"]]
    by_requester = server.api(ADMIN).get("/approvals", params={
        "box": "history", "requester": SUPPORT2}).json()
    assert approval["id"] in [a["id"] for a in by_requester["approvals"]]
    assert server.api(ADMIN).get("/approvals", params={
        "box": "history", "status": "nope"}).status_code == 400
    # A role that may neither approve nor requested anything sees no history.
    assert server.api(VIEWER).get("/approvals", params={"box": "history"}).json()["count"] == 0

    export = server.api(ADMIN).get("/approvals/export.csv", params={"requester": SUPPORT2})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    mine = [r for r in rows if r["id"] == approval["id"]]
    assert mine and mine[0]["status"] == "rejected" and mine[0]["requester"] == SUPPORT2
    assert mine[0]["reason"].startswith("'=")  # a formula is shown as text
    assert server.api(ADMIN).get("/approvals/export.csv",
                                 params={"status": "nope"}).status_code == 400


def test_the_readme_lists_the_export_columns() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"`{', '.join(EXPORT_COLUMNS)}`" in readme
    # The recovery paragraph quotes the reasons a recovered request ends with.
    for reason in (NOT_STARTED, INTERRUPTED):
        assert f"*\"{reason.split(':')[0]}\"*" in readme


def rows_of(url: str, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(statement)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_the_export_and_the_history_say_who_decided_when_and_the_canonical_values(
    server: Server,
) -> None:
    typed = {"amount": "1500", "pin": "4321", "on": "2026-05-01T12:00:00+02:00"}
    first, second, third = (str(r.id) for r in rows_of(server.url, sa.select(companies.c.id)
                            .where(companies.c.status != "churned")
                            .order_by(companies.c.id.desc()).limit(3)))
    rejected = server.request(SUPPORT, [first], values=typed)
    assert server.decide(MANAGER, rejected["id"], "reject",
                         {"message": "too much"}).status_code == 200
    approved = server.request(SUPPORT, [second], values={**typed, "amount": "2500.00"})
    assert server.decide(MANAGER2, approved["id"], "approve",
                         {"message": "fine"}).json()["approval"]["status"] == "executed"
    cancelled = server.request(SUPPORT, [third], values={**typed, "amount": "-0.50"})
    assert server.decide(SUPPORT, cancelled["id"], "cancel",
                         {"message": "typo"}).status_code == 200
    ids = {rejected["id"]: (MANAGER, "rejected", "too much"),
           approved["id"]: (MANAGER2, "approved", "fine"),
           cancelled["id"]: (SUPPORT, "cancelled", "typo")}

    export = server.api(ADMIN).get("/approvals/export.csv", params={"requester": SUPPORT})
    assert export.status_code == 200, export.text
    reader = csv.DictReader(io.StringIO(export.text))
    lines = {r["id"]: r for r in reader if r["id"] in ids}
    assert reader.fieldnames == EXPORT_COLUMNS
    assert set(lines) == set(ids)
    a, e = approvals_table.c, approval_events_table.c
    stored = {r.id: r for r in rows_of(server.url, sa.select(
        a.id, a.status, a.decided_at, a.created_at, a.reason, a.run_id)
        .where(a.id.in_(list(ids))))}
    events = {(r.approval_id, r.kind): r for r in rows_of(server.url, sa.select(
        e.approval_id, e.kind, e.actor_email, e.message).where(e.approval_id.in_(list(ids))))}
    for approval_id, (who, kind, message) in ids.items():
        line, row = lines[approval_id], stored[approval_id]
        event = events[(approval_id, kind)]
        assert (line["decision"], line["reviewer"], line["decision_message"]) == (
            kind, event.actor_email, event.message) == (kind, who, message)
        decided_at = dt.datetime.fromisoformat(line["decided_at"])
        assert decided_at.utcoffset() == dt.timedelta(0)
        assert decided_at == row.decided_at.replace(tzinfo=row.decided_at.tzinfo or dt.UTC)
        assert dt.datetime.fromisoformat(line["requested_at"]).utcoffset() == dt.timedelta(0)
        assert line["status"] == row.status and line["run_id"] == (row.run_id or "")
        assert line["reason"] == (row.reason or "")
    assert lines[approved["id"]]["approvers"] == MANAGER2
    assert lines[rejected["id"]]["approvers"] == ""
    # One form per value, whatever was typed: the secret stays redacted.
    assert [json.loads(lines[i]["values"])["amount"] for i in ids] == ["1500", "2500", "-0.5"]
    assert {json.loads(lines[i]["values"])["on"] for i in ids} == {"2026-05-01T10:00:00+00:00"}
    assert {json.loads(lines[i]["values"])["pin"] for i in ids} == {"[redacted]"}

    history = server.api(MANAGER).get("/approvals", params={"box": "history",
                                                            "requester": SUPPORT}).json()
    shown = {h["id"]: h for h in history["approvals"] if h["id"] in ids}
    for approval_id, (who, kind, message) in ids.items():
        assert shown[approval_id]["reviewer"]["email"] == who
        assert shown[approval_id]["decision"] == kind
        assert shown[approval_id]["decision_message"] == message
        assert shown[approval_id]["decided_at"] == lines[approval_id]["decided_at"] or (
            dt.datetime.fromisoformat(shown[approval_id]["decided_at"])
            == dt.datetime.fromisoformat(lines[approval_id]["decided_at"]))


# -- exactly once, at scale ---------------------------------------------------------------------

# 20 concurrent approvals and a 100,000-record request: on the server database only
# (the fixture seeds the 100,000 items there).
ON_POSTGRESQL = pytest.mark.parametrize("server", ["postgresql"], indirect=True)


@ON_POSTGRESQL
def test_parallel_approvals_execute_exactly_once(server: Server) -> None:
    for _ in range(3):
        before = server.calls("refund")
        approval = server.request(SUPPORT, ["22"])
        barrier = threading.Barrier(20)
        statuses: list[int] = []
        lock = threading.Lock()

        def press(email: str, approval_id: str = approval["id"],
                  barrier: threading.Barrier = barrier, statuses: list[int] = statuses,
                  lock: threading.Lock = lock) -> None:
            with httpx.Client(base_url=server.base + "/api",
                              headers=bearer(server.tokens[email]), timeout=120) as client:
                barrier.wait()
                code = client.post(f"/approvals/{approval_id}/approve").status_code
            with lock:
                statuses.append(code)

        threads = [threading.Thread(target=press, args=((MANAGER, MANAGER2, LEAD)[i % 3],))
                   for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(statuses) == [200] + [409] * 19, statuses
        assert server.calls("refund") == before + 1
        assert server.get(SUPPORT, approval["id"])["status"] == "executed"


@ON_POSTGRESQL
def test_a_large_select_all_request_is_stored_and_executed(server: Server) -> None:
    approval = server.request(SUPPORT, [], path="/collections/items/actions/flag-items",
                              values={}, all_records=True)
    assert approval["record_count"] == BIG
    stored = sql(server.url, sa.select(sa.func.count()).select_from(approval_records_table)
                 .where(approval_records_table.c.approval_id == approval["id"]))
    assert stored == BIG
    assert sql(server.url, sa.select(sa.func.count()).select_from(items)
               .where(items.c.flagged)) == 0
    page = server.api(MANAGER).get(f"/approvals/{approval['id']}/records",
                                   params={"page": 1000, "page_size": 100}).json()
    assert page["ids"][0] == "99901" and len(page["ids"]) == 100

    answer = server.decide(MANAGER, approval["id"])
    assert answer.status_code == 200, answer.text
    done = answer.json()["approval"]
    assert done["status"] == "executed" and done["result"] == {"success": f"{BIG} flagged"}
    assert sql(server.url, sa.select(sa.func.count()).select_from(items)
               .where(items.c.flagged)) == BIG
    assert server.calls("flag-items") == 1
