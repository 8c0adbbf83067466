"""Executing actions over HTTP: scopes, selections, results, errors, audit — every backend."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.actions_app import CALLS, SYNC_ENTERED, SYNC_GATE
from tests.conftest import admin_api
from tests.support import execute, jsonapi, record, refused


def caller_id(api: httpx.Client) -> str:
    me: str = api.get("/me").json()["user"]["id"]
    return me


def test_single_action_changes_the_record_and_is_audited(actions_api: httpx.Client) -> None:
    assert record(actions_api, "companies", "3")["status"] == "pending"
    response = execute(actions_api, "mark-as-live", jsonapi(["3"], collection_name="companies"))
    assert response.status_code == 200 and response.json() == {"success": "Company is now live!"}
    assert record(actions_api, "companies", "3")["status"] == "live"
    run_id = response.headers["x-actiondesk-run-id"]
    audit = actions_api.get(f"/runs/{run_id}").json()
    assert audit["status"] == "succeeded" and audit["selection"]["ids"] == ["3"]
    assert audit["action_slug"] == "mark-as-live" and audit["result_kind"] == "success"


def test_enabled_if_refuses_with_the_reason_and_audits_it(actions_api: httpx.Client) -> None:
    response = execute(actions_api, "mark-as-live", jsonapi(["1"]))
    body = refused(response, 403)
    assert "The company was already live!" in body["error"]
    audit = actions_api.get(f"/runs/{body['detail']['run_id']}").json()
    assert audit["status"] == "refused" and audit["status_code"] == 403


def test_bulk_condition_counts_records_that_do_not_qualify(actions_api: httpx.Client) -> None:
    # ids 12, 14 are active (even); 13 is not.
    body = refused(execute(actions_api, "deactivate", jsonapi(["12", "13", "14"])), 403)
    assert "1 of the 3 selected records: already inactive" in body["error"]
    assert record(actions_api, "companies", "12")["active"] is True


def test_actions_list_shows_enabled_state_per_selection(actions_api: httpx.Client) -> None:
    listed = actions_api.get("/collections/companies/actions", params={"ids": ["1"]}).json()
    by_slug = {a["slug"]: a for a in listed["actions"]}
    assert by_slug["mark-as-live"]["enabled"] is False
    assert by_slug["mark-as-live"]["disabled_reason"] == "The company was already live!"
    assert by_slug["html"]["enabled"] is True
    assert by_slug["download"]["download"] is True
    assert by_slug["recount-all"]["scope"] == "global" and by_slug["recount-all"]["enabled"]
    two = actions_api.get("/collections/companies/actions", params={"ids": ["5", "8"]}).json()
    states = {a["slug"]: a for a in two["actions"]}
    assert states["html"]["enabled"] is False
    assert "exactly one" in states["html"]["disabled_reason"]
    assert states["count"]["enabled"] is True
    none = actions_api.get("/collections/companies/actions").json()["actions"]
    assert {a["slug"]: a["enabled"] for a in none}["count"] is False
    globals_ = actions_api.get("/actions").json()["actions"]
    assert [a["slug"] for a in globals_] == ["ping"]


def test_actions_list_for_a_posted_selection(actions_api: httpx.Client) -> None:
    """Select-all, exclusions and parent records: the enabled state of the same selection the
    action would run on, without running anything."""
    def states(body: dict[str, Any], collection: str = "companies") -> dict[str, Any]:
        response = actions_api.post(f"/collections/{collection}/actions", json=body)
        assert response.status_code == 200, response.text
        return {a["slug"]: a for a in response.json()["actions"]}

    ids_12_to_14 = {"filters": json.dumps(
        {"field": "id", "operator": "in", "value": [12, 13, 14]})}
    everything = states(jsonapi(all_records=True, all_records_subset_query=ids_12_to_14))
    # 13 is inactive: the bulk action's condition fails for it, counted as on execution.
    assert everything["deactivate"]["enabled"] is False
    assert "1 of the 3 selected records" in everything["deactivate"]["disabled_reason"]
    assert everything["count"]["enabled"] is True
    assert everything["html"]["enabled"] is False  # a single action never runs on select-all
    assert "exactly one" in everything["html"]["disabled_reason"]
    assert everything["recount-all"]["enabled"] is True
    excluded = states(jsonapi(all_records=True, all_records_subset_query=ids_12_to_14,
                              all_records_ids_excluded=["13"]))
    assert excluded["deactivate"]["enabled"] is True
    empty = states(jsonapi(all_records=True, all_records_subset_query={"filters": json.dumps(
        {"field": "id", "operator": "equal", "value": -1})}))
    assert empty["count"]["enabled"] is False
    assert "empty" in empty["count"]["disabled_reason"] or "no record" in (
        empty["count"]["disabled_reason"])
    parent = {"parent_collection_name": "companies", "parent_collection_id": "1",
              "parent_association_name": "emitter_company_transactions"}
    inside = states(jsonapi(["3"], **parent), collection="transactions")
    assert inside["count"]["enabled"] is True
    # Transaction 1 was emitted by company 2: outside company 1's relationship.
    outside = states(jsonapi(["1"], **parent), collection="transactions")
    assert outside["count"]["enabled"] is False
    calls_before = len(CALLS)
    states(jsonapi(all_records=True))
    assert len(CALLS) == calls_before  # nothing ran


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"data": {"type": "wrong"}}, 400, "data.type"),
        (jsonapi(all_records=True, all_records_subset_query={"filters": "{bad"}), 400,
         "data.attributes.all_records_subset_query.filters"),
        (jsonapi(all_records=True, all_records_subset_query={"filters": json.dumps(
            {"field": "nope", "operator": "equal", "value": 1})}), 200, None),
    ],
)
def test_actions_list_for_a_posted_selection_rejects_bad_documents(
    actions_api: httpx.Client, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = actions_api.post("/collections/companies/actions", json=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in refused(response, status).get("fields", {})
    else:  # an unknown field: every record action disabled with the filter's error
        count = {a["slug"]: a for a in response.json()["actions"]}["count"]
        assert count["enabled"] is False and "subset_query" in count["disabled_reason"]


@pytest.mark.parametrize(
    ("slug", "body", "status", "field"),
    [
        ("html", jsonapi([]), 400, "data.attributes.ids"),
        ("html", jsonapi(["1", "2"]), 400, "data.attributes.ids"),
        ("count", jsonapi([]), 400, "data.attributes.ids"),
        ("html", jsonapi(["999"]), 404, "data.attributes.ids"),
        ("count", jsonapi(["1", "nope"]), 404, "data.attributes.ids"),
        ("html", jsonapi(["1"], collection_name="transactions"), 400,
         "data.attributes.collection_name"),
        ("html", jsonapi(all_records=True), 400, "data.attributes.all_records"),
        ("count", jsonapi(all_records=True, all_records_subset_query={
            "filters": json.dumps({"field": "nope", "operator": "equal", "value": 1})}), 400,
         "data.attributes.all_records_subset_query"),
        ("count", jsonapi(all_records=True, all_records_subset_query={"filters": "{bad"}), 400,
         "data.attributes.all_records_subset_query.filters"),
        ("count", jsonapi(all_records=True, all_records_subset_query={
            "filters": json.dumps({"field": "id", "operator": "greater_than", "value": 500})}),
         400, "data.attributes.all_records"),
        ("count", {"data": {"attributes": {"ids": "1,2"}}}, 400, "data.attributes.ids"),
        ("count", {"data": {"type": "other", "attributes": {}}}, 400, "data.type"),
        ("count", {"data": {"attributes": {"ids": ["1"], "evil": 1}}}, 400, "data.attributes"),
        ("count", {"data": []}, 400, "data"),
        ("count", [1, 2], 400, "body"),
        ("count", jsonapi(["1"], parent_collection_name="companies"), 400,
         "data.attributes.parent_collection_id"),
        ("count", jsonapi(["1"], parent_collection_name="companies", parent_collection_id="1",
                          parent_association_name="nope"), 400,
         "data.attributes.parent_association_name"),
    ],
)
def test_bad_selections_are_clear_4xx_and_run_nothing(
    actions_api: httpx.Client, slug: str, body: Any, status: int, field: str
) -> None:
    before = actions_api.get("/runs", params={"action": slug}).json()["count"]
    response = execute(actions_api, slug, body)
    payload = refused(response, status)
    assert field in payload.get("fields", {}), payload
    assert actions_api.get("/runs", params={"action": slug}).json()["count"] == before


def test_unknown_action_and_collection_are_404(actions_api: httpx.Client) -> None:
    refused(execute(actions_api, "nope", jsonapi(["1"])), 404)
    refused(execute(actions_api, "html", jsonapi(["1"]), collection="ghosts"), 404)
    refused(execute(actions_api, "html", jsonapi(["1"]), collection=None), 404)
    refused(actions_api.get("/collections/ghosts/actions"), 404)


def test_malformed_json_and_oversized_bodies(actions_api: httpx.Client) -> None:
    response = actions_api.post("/collections/companies/actions/count", content=b"{nope",
                                headers={"content-type": "application/json"})
    assert refused(response, 400)["fields"] == {"body": "not valid JSON"}
    filler = b"a" * (26 * 2**20)
    huge = b'{"data": {"attributes": {"ids": ["1"], "values": {"x": "' + filler + b'"}}}}'
    refused(actions_api.post("/collections/companies/actions/count", content=huge), 413)


def test_select_all_with_filter_search_and_exclusions(actions_api: httpx.Client) -> None:
    body = jsonapi(
        all_records=True,
        all_records_subset_query={
            "filters": json.dumps({"field": "id", "operator": "less_than", "value": 20}),
            "search": "company 1",
        },
        all_records_ids_excluded=["11", "15"],
    )
    response = execute(actions_api, "count", body)
    assert response.status_code == 200, response.text
    result = json.loads(response.json()["success"])
    assert result["ids"] == [10, 12, 13, 14, 16, 17, 18, 19]
    assert result["count"] == 8
    audit = actions_api.get(f"/runs/{response.headers['x-actiondesk-run-id']}").json()
    assert audit["selection"]["all_records"] is True and audit["selection"]["count"] == 8
    assert audit["record_count"] == 8
    assert audit["selection"]["excluded_ids"] == ["11", "15"]


def test_parent_context_restricts_the_selection(actions_api: httpx.Client) -> None:
    parent = {
        "parent_collection_name": "companies",
        "parent_collection_id": "1",
        "parent_association_name": "emitter_company_transactions",
    }
    response = execute(actions_api, "count", jsonapi(all_records=True, **parent),
                   collection="transactions")
    assert json.loads(response.json()["success"]) == {"count": 20, "parent": "1"}
    # Transaction 1 was emitted by company 2: outside company 1's relationship.
    body = refused(execute(actions_api, "count", jsonapi(["1", "3"], **parent),
                     collection="transactions"), 404)
    assert body["detail"]["missing_ids"] == ["1"]
    missing_parent = {**parent, "parent_collection_id": "999"}
    refused(execute(actions_api, "count", jsonapi(["3"], **missing_parent),
              collection="transactions"), 404)
    wrong_target = {**parent, "parent_association_name": "orders"}
    refused(execute(actions_api, "count", jsonapi(["3"], **wrong_target),
                    collection="transactions"), 400)


def test_composite_keys(actions_api: httpx.Client) -> None:
    ids = ["A%7C1|1", "x%2Fy z|2"]
    response = execute(actions_api, "relabel", jsonapi(ids, {"label": "renamed"}),
                   collection="order_lines")
    assert response.json() == {"success": "2 relabelled"}
    assert record(actions_api, "order_lines", "A%7C1|1")["label"] == "renamed"
    assert record(actions_api, "order_lines", "A%7C1|2")["label"] == "A|1 line 2"
    refused(execute(actions_api, "relabel", jsonapi(["A%7C1"], {"label": "x"}),
              collection="order_lines"), 404)


@pytest.mark.parametrize(
    ("slug", "status", "expected"),
    [
        ("html", 200, {"html": '<p class="ok">Paid<a rel="noopener noreferrer">x</a></p>'}),
        ("fail-politely", 400, {"error": "Card declined",
                                "html": '<b>declined</b><img src="x">'}),
        ("raise-action-error", 400, {"error": "Not today"}),
        ("hook", 200, {"webhook": {"url": "https://hooks.example.com/x", "method": "POST",
                                   "headers": {"X-Token": "t"}, "body": {"id": 1}}}),
        ("go-inside", 200, {"redirectTo": "/collections/transactions"}),
        ("go-outside", 200, {"redirectTo": "https://example.com/track?id=1"}),
        ("refresh", 200, {"success": "Refreshed",
                          "refresh": {"relationships": ["emitter_company_transactions"]}}),
    ],
)
def test_result_shapes(
    actions_api: httpx.Client, slug: str, status: int, expected: dict[str, Any]
) -> None:
    response = execute(actions_api, slug, jsonapi(["2"]))
    assert response.status_code == status, response.text
    assert response.json() == expected


def test_nothing_is_204(actions_api: httpx.Client) -> None:
    response = execute(actions_api, "nothing", jsonapi(["2"]))
    assert response.status_code == 204 and response.content == b""


def test_file_results_download_with_a_safe_name(actions_api: httpx.Client) -> None:
    response = execute(actions_api, "download", jsonapi(["2"]))
    assert response.status_code == 200
    assert response.content == b"company Company 02"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="report 2.txt"')
    assert "\r" not in disposition and "\n" not in disposition
    assert "Content-Disposition" in response.headers["access-control-expose-headers"]
    streamed = execute(actions_api, "stream", jsonapi(["2"]))
    assert streamed.content == b"chunk0;chunk1;chunk2;"
    assert streamed.headers["content-type"].startswith("text/csv")


def test_a_crash_is_a_generic_500_with_the_run_id(actions_api: httpx.Client) -> None:
    body = refused(execute(actions_api, "crash", jsonapi(["2"])), 500)
    assert "secret internal detail" not in json.dumps(body)
    audit = actions_api.get(f"/runs/{body['detail']['run_id']}").json()
    assert audit["status"] == "failed" and "secret internal detail" in audit["message"]
    bad = refused(execute(actions_api, "bad-redirect", jsonapi(["2"])), 400)
    assert "javascript" not in json.dumps(bad)


def test_global_actions(actions_api: httpx.Client) -> None:
    response = execute(actions_api, "ping", jsonapi(values={"who": "ops"}), collection=None)
    assert response.json() == {"success": "pong ops from " + caller_id(actions_api)}
    refused(execute(actions_api, "ping", jsonapi(values={}), collection=None), 422)
    on_collection = execute(actions_api, "recount-all", jsonapi())
    assert on_collection.json() == {"success": "30 companies"}


def test_sync_handlers_run_in_a_thread_and_do_not_block_the_server(
    actions_server: str,
) -> None:
    SYNC_GATE.clear()
    SYNC_ENTERED.clear()
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        with admin_api(actions_server) as api:
            result["r"] = execute(api, "sync-update", jsonapi(["4"]))

    worker = threading.Thread(target=call)
    worker.start()
    try:
        assert SYNC_ENTERED.wait(timeout=30)
        # The handler is parked in its thread; the event loop must still answer.
        with admin_api(actions_server) as other:
            assert other.get("/collections/companies/records/4").status_code == 200
    finally:
        SYNC_GATE.set()
        worker.join(timeout=60)
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json() == {"success": "note=synced"}


def test_idempotency_key_replays_the_first_result(actions_api: httpx.Client) -> None:
    before = CALLS["counted"]
    headers = {"Idempotency-Key": "key-123"}
    first = execute(actions_api, "counted", jsonapi(["2"], {"n": 1}), headers=headers)
    second = execute(actions_api, "counted", jsonapi(["2"], {"n": 1}), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert first.headers["x-actiondesk-run-id"] == second.headers["x-actiondesk-run-id"]
    assert CALLS["counted"] == before + 1
    third = execute(actions_api, "counted", jsonapi(["2"], {"n": 1}),
                headers={"Idempotency-Key": "key-456"})
    assert third.json() != first.json() and CALLS["counted"] == before + 2
    other_values = execute(actions_api, "counted", jsonapi(["2"], {"n": 2}), headers=headers)
    assert refused(other_values, 409)["detail"]["run_id"] == first.headers["x-actiondesk-run-id"]
    other_ids = execute(actions_api, "counted", jsonapi(["3"], {"n": 1}), headers=headers)
    assert other_ids.status_code == 409
    assert CALLS["counted"] == before + 2
    file_headers = {"Idempotency-Key": "file-key"}
    file_first = execute(actions_api, "stream", jsonapi(["2"]), headers=file_headers)
    file_again = execute(actions_api, "stream", jsonapi(["2"]), headers=file_headers)
    assert file_first.content == file_again.content == b"chunk0;chunk1;chunk2;"
    assert file_again.headers["content-disposition"].startswith('attachment; filename="stream')
