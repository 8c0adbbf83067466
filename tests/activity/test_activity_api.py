"""A record's activity through a real server, on SQLite, PostgreSQL and MariaDB: runs that
named the record, select-all runs whose selection includes it, approval requests (frozen ids)
and their executions; who sees what; paging and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.activity.activity_app import (
    ADMIN,
    MANAGER,
    OUTSIDER,
    REFUND_VALUES,
    SUPPORT,
    VIEWER,
    Served,
    serve_activity,
)
from tests.databases import BACKENDS
from tests.support import jsonapi

TOUCH = "/collections/companies/actions/touch"
REFUND = "/collections/companies/actions/refund"
LIVE = {"field": "status", "operator": "equal", "value": "live"}  # companies 1, 4, 7, 10...
ALL_LIVE = {"filters": LIVE}


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_activity(request.param, tmp_path_factory.mktemp("activity")) as found:
        yield found


def activity(served: Served, email: str, record_id: str, **params: Any) -> list[dict[str, Any]]:
    answer = served.api(email).get(f"/collections/companies/records/{record_id}/activity",
                                   params=params)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def run(served: Served, email: str, path: str, body: dict[str, Any], status: int = 200
        ) -> dict[str, Any]:
    answer = served.api(email).post(path, json=body)
    assert answer.status_code == status, answer.text
    return {"run_id": answer.headers.get("X-Actiondesk-Run-Id"),
            **answer.json()}


def test_runs_that_named_or_selected_the_record_are_its_activity(served: Served) -> None:
    single = run(served, SUPPORT, TOUCH, jsonapi(["4"]))
    several = run(served, SUPPORT, TOUCH, jsonapi(["4", "5", "6"]))
    select_all = run(served, SUPPORT, TOUCH,
                     jsonapi([], all_records=True, all_records_subset_query=ALL_LIVE,
                             all_records_ids_excluded=["7"]))

    four = activity(served, SUPPORT, "4")
    assert [e["run_id"] for e in four[:3]] == [select_all["run_id"], several["run_id"],
                                               single["run_id"]]
    assert [e["matched"] for e in four[:3]] == ["filter", "ids", "ids"]
    assert four[0]["select_all"] is True and four[0]["action"]["name"] == "Touch"
    assert four[0]["caller"]["email"] == SUPPORT and four[0]["status"] == "succeeded"

    def ran_on(record_id: str) -> set[str]:
        return {e["run_id"] for e in activity(served, ADMIN, record_id)}

    assert several["run_id"] in ran_on("5") and single["run_id"] not in ran_on("5")
    # 5 is churned (not in the filter), 7 live but excluded, 10 live: only 10 was selected.
    assert select_all["run_id"] not in ran_on("5") | ran_on("7")
    assert select_all["run_id"] in ran_on("10")
    assert not ran_on("11") & {single["run_id"], several["run_id"], select_all["run_id"]}


def test_approval_requests_and_their_execution_match_the_frozen_ids(served: Served) -> None:
    request = run(served, SUPPORT, REFUND,
                  jsonapi([], REFUND_VALUES, all_records=True, all_records_subset_query=ALL_LIVE),
                  status=202)
    approval_id = request["approval"]["id"]
    entry = activity(served, SUPPORT, "13")[0]
    assert entry["kind"] == "approval_request" and entry["matched"] == "frozen"
    assert entry["approval"]["id"] == approval_id and entry["approval"]["status"] == "pending"
    # The approver sees the request waiting for them on the record, not the requester's runs.
    seen = activity(served, MANAGER, "13")
    assert [e["approval"]["id"] for e in seen] == [approval_id]

    decided = served.api(MANAGER).post(f"/approvals/{approval_id}/approve", json={})
    assert decided.status_code == 200, decided.text
    executed = activity(served, SUPPORT, "13")
    assert executed[0]["kind"] == "run" and executed[0]["matched"] == "frozen"
    assert executed[0]["caller"]["approved_by"][0]["email"] == MANAGER
    assert executed[0]["approval"]["status"] == "executed"
    assert executed[1]["approval"]["status"] == "executed"  # the request, updated
    # A churned company was not frozen with the request.
    assert approval_id not in {(e["approval"] or {}).get("id")
                               for e in activity(served, ADMIN, "14")}


def test_odd_ids_and_a_search_match_exactly(served: Served) -> None:
    """Ids holding the id encoding's escapes ("A|1" is "A%7C1"), and a select-all by search."""
    path = "/collections/orders/actions/touch-order"
    named = run(served, SUPPORT, path, jsonapi(["A%7C1", "50%25"]))
    searched = run(served, SUPPORT, path, jsonapi([], all_records=True,
                                                  all_records_subset_query={"search": "x/y"}))

    def ran_on(record_id: str) -> list[str]:
        answer = served.api(SUPPORT).get(
            f"/collections/orders/records/{quote(record_id, safe='')}/activity")
        assert answer.status_code == 200, answer.text
        return [e["run_id"] for e in answer.json()["entries"]]

    assert ran_on("A%7C1") == ran_on("50%25") == [named["run_id"]]
    assert ran_on("x%2Fy z") == [searched["run_id"]]
    assert ran_on("plain") == []


def test_each_caller_sees_only_what_they_may(served: Served) -> None:
    mine = run(served, SUPPORT, TOUCH, jsonapi(["23"]))
    theirs = run(served, VIEWER, TOUCH, jsonapi(["23"]))
    assert {e["run_id"] for e in activity(served, SUPPORT, "23")} == {mine["run_id"]}
    assert {e["run_id"] for e in activity(served, VIEWER, "23")} == {theirs["run_id"]}
    assert {e["run_id"] for e in activity(served, MANAGER, "23")} == set()
    assert {e["run_id"] for e in activity(served, ADMIN, "23")} == {mine["run_id"],
                                                                   theirs["run_id"]}
    refused = served.api(OUTSIDER).get("/collections/companies/records/22/activity")
    assert refused.status_code == 403 and "companies" in refused.json()["error"]


def test_pages_follow_the_cursor(served: Served) -> None:
    made = [run(served, SUPPORT, TOUCH, jsonapi(["26"]))["run_id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"before": cursor} if cursor else {})}
        answer = served.api(SUPPORT).get("/collections/companies/records/26/activity",
                                         params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(e["run_id"] for e in body["entries"])
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == made[::-1]
    # A page that ends exactly with the last run says there is no next page.
    exact = served.api(SUPPORT).get("/collections/companies/records/26/activity",
                                    params={"limit": 5}).json()
    assert [e["run_id"] for e in exact["entries"]] == made[::-1] and exact["next"] is None


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("/collections/companies/records/4/activity", {"before": "yesterday"}, 400, "before"),
    ("/collections/companies/records/4/activity", {"limit": 0}, 400, "limit"),
    ("/collections/companies/records/4/activity", {"limit": 101}, 400, "limit"),
    ("/collections/companies/records/not-a-number/activity", {}, 404, None),
    ("/collections/nothing/records/4/activity", {}, 404, None),
])
def test_bad_input_is_a_clear_client_error(served: Served, path: str, params: dict[str, Any],
                                           status: int, field: str | None) -> None:
    answer = served.api(SUPPORT).get(path, params=params)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"]
    if field is not None:
        assert any(field in name for name in body.get("fields", {})), body
