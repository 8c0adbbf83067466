"""In-app notifications through a real server, on SQLite, PostgreSQL and MariaDB: approvers
hear of new requests, requesters of decisions; each caller sees and marks only their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.activity.activity_app import (
    ADMIN,
    MANAGER,
    MANAGER2,
    REFUND_VALUES,
    SUPPORT,
    VIEWER,
    Served,
    serve_activity,
)
from tests.databases import BACKENDS
from tests.support import jsonapi

REFUND = "/collections/companies/actions/refund"
LEAD = "lead@appr.test"


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_activity(request.param, tmp_path_factory.mktemp("notify")) as found:
        yield found


def notes(served: Served, email: str, **params: Any) -> dict[str, Any]:
    answer = served.api(email).get("/notifications", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def about(served: Served, email: str, approval_id: str) -> list[dict[str, Any]]:
    return [n for n in notes(served, email, page_size=100)["notifications"]
            if n["approval_id"] == approval_id]


def request_refund(served: Served, ids: list[str]) -> str:
    answer = served.api(SUPPORT).post(REFUND, json=jsonapi(ids, REFUND_VALUES))
    assert answer.status_code == 202, answer.text
    approval_id: str = answer.json()["approval"]["id"]
    return approval_id


def test_approvers_hear_of_a_request_and_the_requester_of_its_decision(served: Served
                                                                        ) -> None:
    approval_id = request_refund(served, ["4", "6"])
    for approver in (MANAGER, MANAGER2, LEAD):
        [note] = about(served, approver, approval_id)
        assert note["kind"] == "requested" and note["read_at"] is None
        assert note["title"] == f"{SUPPORT} asks for approval: Refund (2 records of companies)"
        assert note["link"] == f"/approvals/{approval_id}"
    for bystander in (SUPPORT, VIEWER, ADMIN):
        assert about(served, bystander, approval_id) == []

    rejected = served.api(MANAGER).post(f"/approvals/{approval_id}/reject",
                                        json={"message": "wrong amount"})
    assert rejected.status_code == 200, rejected.text
    [note] = about(served, SUPPORT, approval_id)
    assert note["kind"] == "rejected"
    assert note["title"] == (
        f"Your request Refund (2 records of companies) was rejected by {MANAGER}")
    assert note["body"].endswith("Message: wrong amount")
    assert [n["kind"] for n in about(served, MANAGER2, approval_id)] == ["requested"]


def test_an_executed_request_is_told_to_its_requester(served: Served) -> None:
    approval_id = request_refund(served, ["10"])
    approved = served.api(MANAGER).post(f"/approvals/{approval_id}/approve", json={})
    assert approved.status_code == 200 and approved.json()["approval"]["status"] == "executed"
    kinds = [n["kind"] for n in about(served, SUPPORT, approval_id)]
    assert kinds == ["executed"]


def test_each_caller_reads_and_marks_only_their_own(served: Served) -> None:
    approval_id = request_refund(served, ["13"])
    [mine] = about(served, MANAGER, approval_id)
    [theirs] = about(served, MANAGER2, approval_id)
    before = notes(served, MANAGER2)["unread"]
    # Someone else's id is ignored, not marked.
    marked = served.api(MANAGER).post("/notifications/read", json={"ids": [theirs["id"]]})
    assert marked.status_code == 200
    assert notes(served, MANAGER2)["unread"] == before
    assert served.api(MANAGER).get("/notifications/unread").json()["unread"] >= 1

    marked = served.api(MANAGER).post("/notifications/read", json={"ids": [mine["id"]]})
    assert marked.status_code == 200
    [read] = about(served, MANAGER, approval_id)
    assert read["read_at"] is not None
    unread = notes(served, MANAGER, unread_only=True)["notifications"]
    assert read["id"] not in {n["id"] for n in unread}
    assert all(n["read_at"] is None for n in unread)
    everything = served.api(MANAGER).post("/notifications/read", json={"all": True})
    assert everything.json() == {"unread": 0}
    assert notes(served, MANAGER)["unread"] == 0
    assert notes(served, MANAGER2)["unread"] == before


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), [
    ("POST", "/notifications/read", {}, 400, "ids"),
    ("POST", "/notifications/read", {"ids": "all"}, 422, "ids"),
    ("POST", "/notifications/read", {"ids": ["x"], "extra": 1}, 422, "extra"),
    ("GET", "/notifications?page_size=0", None, 400, "page_size"),
    ("GET", "/notifications?page=0", None, 400, "page"),
])
def test_bad_input_names_the_field(served: Served, method: str, path: str, body: Any,
                                   status: int, field: str) -> None:
    answer = served.api(SUPPORT).request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert any(field in name for name in answer.json()["fields"]), answer.json()


def test_notifications_need_a_signed_in_caller_and_deliveries_an_admin(served: Served) -> None:
    assert httpx.get(served.base + "/api/notifications").status_code == 401
    assert served.api(SUPPORT).get("/notifications/deliveries").status_code == 403
    assert served.api(ADMIN).get("/notifications/deliveries").json() == []
