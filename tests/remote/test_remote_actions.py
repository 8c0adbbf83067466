"""Remote actions through a real desk server and a real remote service process, over SQLite,
PostgreSQL and MariaDB: discovery, every scope and result shape, Jet's format, WSGI, Forest
endpoints, and every way a remote can fail (each a clear 502/504 and an audited failed run)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.remote.remote_app import SECRET
from tests.support import execute, jsonapi, refused


def executed(calls: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = calls.get("/calls").json()
    return found


def audit(api: httpx.Client, response: httpx.Response) -> dict[str, Any]:
    run_id = response.headers.get("x-actiondesk-run-id") or response.json()["detail"]["run_id"]
    found: dict[str, Any] = api.get(f"/runs/{run_id}").json()
    return found


def failure(api: httpx.Client, response: httpx.Response, status: int) -> tuple[str, dict[str, Any]]:
    body = refused(response, status)
    run_record = api.get(f"/runs/{body['detail']['run_id']}").json()
    assert run_record["status"] == "failed" and run_record["status_code"] == status
    return body["error"], run_record


# -- discovery --------------------------------------------------------------------------------


def test_remote_actions_are_listed_with_local_ones(rapi: httpx.Client) -> None:
    listed = {a["slug"]: a for a in rapi.get("/collections/companies/actions").json()["actions"]}
    assert listed["mark-as-live"].get("remote") is None  # the local one kept its slug
    ship = listed["ship"]
    assert ship["remote"] == {"provider": "native", "stale": False}
    assert ship["scope"] == "single" and ship["has_form"] is True
    assert listed["tag-many"]["scope"] == "bulk"
    assert listed["report"]["download"] is True
    assert listed["account-transfer"]["remote"]["provider"] == "jet"
    assert listed["notify"]["scope"] == "bulk"
    assert listed["company-stats"]["scope"] == "global"  # Jet: neither instance nor bulk
    assert listed["ship-by-endpoint"]["remote"] == {"provider": "endpoints", "endpoint": True,
                                                    "stale": False}
    assert listed["wsgi-count"]["remote"]["provider"] == "wsgi"
    for skipped in ("bad-scope", "typo", "bad-field", "bad-reference", "bad-condition", "ghost"):
        assert skipped not in listed
    transactions = {a["slug"] for a in
                    rapi.get("/collections/transactions/actions").json()["actions"]}
    assert {"notify", "count-transactions"} <= transactions  # Jet: a list of models
    global_ = {a["slug"]: a for a in rapi.get("/actions").json()["actions"]}
    assert {"recount", "recompute-stats", "wsgi-ping"} <= set(global_)


def test_remote_settings_show_every_provider_and_skipped_declaration(rapi: httpx.Client) -> None:
    body = rapi.get("/settings/remote").json()
    providers = {p["name"]: p for p in body["providers"]}
    native = providers["native"]
    assert native["status"] == "ok" and native["error"] is None
    reasons = {s["name"]: s["reason"] for s in native["skipped"]}
    assert "scope 'sometimes'" in reasons["Bad scope"]
    assert "unknown collection 'nope'" in reasons["Unknown collection"]
    assert "unknown key(s) enabledIf" in reasons["Typo"]
    assert "unknown type 'nope'" in reasons["Bad field"]
    assert "'ghosts'" in reasons["Bad reference"]
    assert "already used" in reasons["Mark as Live"]
    assert "unknown field 'nope'" in reasons["Bad condition"]
    assert any(s["name"] is None and "JSON object" in s["reason"] for s in native["skipped"])
    assert "ForeignKey needs" in {s["name"]: s["reason"] for s in
                                  providers["jet"]["skipped"]}["broken_fk"]
    assert providers["down"]["status"] == "unavailable"
    assert "cannot be reached" in providers["down"]["error"]
    assert providers["slowlist"]["status"] == "unavailable"
    assert "within 1 s" in providers["slowlist"]["error"]
    assert "refused the message (HTTP 401)" in providers["wrongkey"]["error"]
    assert "wrong signature" in providers["wrongkey"]["error"]
    assert providers["endpoints"]["status"] == "endpoints-only"
    shown = json.dumps(body)
    assert SECRET not in shown and "not-the-secret" not in shown


def test_remote_settings_are_for_admins_only(remote_server: str) -> None:
    response = httpx.get(remote_server + "/api/settings/remote")
    assert response.status_code == 401
    refresh = httpx.post(remote_server + "/api/settings/remote/refresh?provider=nope",
                         headers={"Authorization": "Bearer x"})
    assert refresh.status_code == 401


def test_refresh_of_an_unknown_provider_is_404(rapi: httpx.Client) -> None:
    response = rapi.post("/settings/remote/refresh", params={"provider": "nope"})
    assert response.status_code == 404 and response.json()["fields"] == {
        "provider": "unknown provider"}


# -- execution: scopes -----------------------------------------------------------------------


def _echo(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    echoed: dict[str, Any] = json.loads(response.json()["success"])
    return echoed


def test_single_action_sends_typed_values_and_caller(rapi: httpx.Client,
                                                     calls: httpx.Client) -> None:
    values = {"s": "abc", "n": 5, "d": "12.50", "b": True, "day": "2026-02-03",
              "at": "2026-02-03T10:00:00Z", "t": "08:30", "e": "high", "j": {"k": [1]},
              "f": {"filename": "a.txt", "mime": "text/plain",
                    "content": base64.b64encode(b"hello").decode()},
              "sl": ["x", "y"], "ref": "2", "pin": "1234", "why": "because"}
    response = execute(rapi, "ship", jsonapi(["4"], values))
    echoed = _echo(response)
    assert echoed["ids"] == ["4"] and echoed["caller"] == "admin@test.example"
    sent = echoed["values"]
    assert sent["d"] == "12.50" and sent["day"] == "2026-02-03"
    assert sent["at"].startswith("2026-02-03T10:00:00") and sent["t"] == "08:30:00"
    assert sent["pin"] == "1234" and sent["ref"] == "2" and sent["j"] == {"k": [1]}
    assert echoed["file"] == ["a.txt", "text/plain", "hello"]
    record = audit(rapi, response)
    assert record["status"] == "succeeded" and record["values"]["pin"] == "[redacted]"
    assert record["values"]["f"] == {"filename": "a.txt", "mime": "text/plain", "size": 5}
    message = executed(calls)[0]
    assert message["name"] == "EXECUTE_ACTION"
    assert message["params"]["action"] == "Ship" and message["params"]["collection"] == "companies"
    assert message["params"]["run_id"] == response.headers["x-actiondesk-run-id"]


def test_values_are_validated_here_before_anything_is_sent(rapi: httpx.Client,
                                                           calls: httpx.Client) -> None:
    response = execute(rapi, "ship", jsonapi(["4"], {"s": "A", "n": 500, "ref": "999"}))
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert {"s", "n", "ref"} <= set(fields)
    assert executed(calls) == []


def test_enabled_if_from_the_remote_declaration_is_enforced_here(rapi: httpx.Client,
                                                                 calls: httpx.Client) -> None:
    response = execute(rapi, "tag-many", jsonapi(["2", "3"]))  # 3 is inactive
    assert response.status_code == 403
    assert "Only active companies can be tagged" in response.json()["error"]
    assert executed(calls) == []
    assert execute(rapi, "tag-many", jsonapi(["2", "4"])).status_code == 200


def test_bulk_select_all_is_sent_in_batches(rapi: httpx.Client, calls: httpx.Client) -> None:
    subset = {"filters": json.dumps({"field": "id", "operator": "greater_than", "value": 3})}
    response = execute(rapi, "count", jsonapi(all_records=True, all_records_subset_query=subset,
                                          all_records_ids_excluded=["10"]))
    echoed = _echo(response)
    assert echoed["batch"]["last"] is True  # the answer to the last batch is the result
    messages = [m["params"] for m in executed(calls)]
    ids = [i for m in messages for i in m["ids"]]
    assert ids == [str(i) for i in range(4, 31) if i != 10]
    assert [m["batch"]["index"] for m in messages] == [0, 1, 2, 3]
    assert [m["batch"]["size"] for m in messages] == [7, 7, 7, 5]
    assert all(m["batch"]["records"] == 26 for m in messages)
    assert [m["batch"]["last"] for m in messages] == [False, False, False, True]
    assert audit(rapi, response)["record_count"] == 26


def test_a_small_selection_is_one_message_without_batch(rapi: httpx.Client,
                                                        calls: httpx.Client) -> None:
    echoed = _echo(execute(rapi, "count", jsonapi(["5", "6", "7"])))
    assert echoed["ids"] == ["5", "6", "7"] and echoed["batch"] is None
    assert len(executed(calls)) == 1


def test_an_error_on_an_early_batch_stops_the_run(rapi: httpx.Client,
                                                  calls: httpx.Client) -> None:
    response = execute(rapi, "fail-batch", jsonapi(all_records=True))
    assert response.status_code == 400 and response.json() == {"error": "batch 1 failed"}
    assert [m["params"]["batch"]["index"] for m in executed(calls)] == [0, 1]
    assert audit(rapi, response)["status"] == "error"


def test_parent_context_and_related_selection(rapi: httpx.Client, calls: httpx.Client) -> None:
    response = execute(rapi, "count-transactions", jsonapi(
        all_records=True, parent_collection_name="companies", parent_collection_id="1",
        parent_association_name="emitter_company_transactions"), collection="transactions")
    echoed = _echo(response)
    assert echoed["parent"] == {"collection": "companies", "id": "1",
                                "association": "emitter_company_transactions"}
    ids = [i for m in executed(calls) for i in m["params"]["ids"]]
    assert ids == [str(i) for i in range(1, 61) if 1 + i % 3 == 1]


def test_composite_ids_travel_encoded(rapi: httpx.Client) -> None:
    ids = ["A%7C1|1", "50%25|2", "x%2Fy z|1"]
    echoed = _echo(execute(rapi, "relabel-lines", jsonapi(ids), collection="order_lines"))
    assert sorted(echoed["ids"]) == sorted(ids)


def test_global_action_without_collection(rapi: httpx.Client) -> None:
    echoed = _echo(execute(rapi, "recount", jsonapi(values={"who": "me"}), collection=None))
    assert echoed["ids"] == [] and echoed["values"] == {"who": "me"}


# -- execution: result shapes ----------------------------------------------------------------


def test_file_result_is_relayed_as_a_download(rapi: httpx.Client) -> None:
    response = execute(rapi, "report", jsonapi(["3"]))
    assert response.status_code == 200 and response.content == b"report 3"
    assert response.headers["content-type"].startswith("text/plain")
    assert "attachment" in response.headers["content-disposition"]
    assert "report-%C3%A9.txt" in response.headers["content-disposition"]
    record = audit(rapi, response)
    assert record["result_kind"] == "file" and record["result_filename"] == "report-é.txt"


@pytest.mark.parametrize(("slug", "status", "expected"), [
    ("show-html", 200, {"html": '<p class="ok">Paid</p>'}),
    ("hook", 200, {"webhook": {"url": "https://hooks.example.com/x", "method": "POST",
                               "headers": {"X-T": "1"}, "body": {"a": 1}}}),
    ("go-inside", 200, {"redirectTo": "/collections/transactions"}),
    ("go-outside", 200, {"redirectTo": "https://example.com/track?id=1"}),
    ("refresh", 200, {"success": "Refreshed",
                      "refresh": {"relationships": ["emitter_company_transactions"]}}),
    ("decline", 400, {"error": "Card declined", "html": "<b>no</b><img src=\"x\">"}),
    ("raise", 400, {"error": "Not today"}),
])
def test_result_shapes_are_those_of_local_actions(rapi: httpx.Client, slug: str, status: int,
                                                  expected: dict[str, Any]) -> None:
    response = execute(rapi, slug, jsonapi(["2"]))
    assert response.status_code == status, response.text
    assert response.json() == expected


def test_nothing_is_204(rapi: httpx.Client) -> None:
    response = execute(rapi, "nothing", jsonapi(["2"]))
    assert response.status_code == 204 and audit(rapi, response)["result_kind"] == "none"


def test_an_unsafe_redirect_from_a_remote_is_refused(rapi: httpx.Client) -> None:
    error, record = failure(rapi, execute(rapi, "evil-redirect", jsonapi(["2"])), 502)
    assert "unusable result" in error and "javascript" in error
    assert "remote provider 'native'" in record["message"]


def test_a_crash_in_the_remote_is_a_502_without_its_details(rapi: httpx.Client) -> None:
    error, _ = failure(rapi, execute(rapi, "crash", jsonapi(["2"])), 502)
    assert "failed (HTTP 500)" in error and "secret internal detail" not in error


# -- Jet's format ------------------------------------------------------------------------------


def test_jet_action_gets_jets_params_and_result(rapi: httpx.Client, calls: httpx.Client) -> None:
    form = rapi.post("/collections/companies/actions/account-transfer/form",
                     json=jsonapi(["5"])).json()
    fields = {f["name"]: f for f in form["fields"]}
    assert fields["to_company"]["type"] == "reference"
    assert fields["to_company"]["reference"] == "companies"
    assert fields["amount"]["type"] == "decimal" and fields["amount"]["required"]
    response = execute(rapi, "account-transfer", jsonapi(["5"], {"to_company": "6",
                                                              "amount": "10.5"}))
    assert response.status_code == 200 and response.json() == {"success": "moved 10.5 from 5"}
    params = executed(calls)[0]["params"]
    assert params["action"] == "transfer" and params["model"] == "app.Company"
    assert params["id"] == "5" and params["ids"] == ["5"]
    assert params["data"]["to_company"] == "6" and "values" not in params


def test_jet_result_true_and_false(rapi: httpx.Client) -> None:
    done = execute(rapi, "notify", jsonapi(["1", "2"], collection_name="transactions"),
               collection="transactions")
    assert done.status_code == 200 and done.json() == {"success": "Done"}
    refused = execute(rapi, "refuse", jsonapi(["1"]))
    assert refused.status_code == 400 and "reported a failure" in refused.json()["error"]
    assert execute(rapi, "recompute-stats", jsonapi(), collection=None).status_code == 200
    assert execute(rapi, "company-stats", jsonapi()).status_code == 200


# -- WSGI remote -------------------------------------------------------------------------------


def test_wsgi_mounted_remote_lists_and_executes(rapi: httpx.Client) -> None:
    assert execute(rapi, "wsgi-count", jsonapi(["1", "2"])).json() == {
        "success": "wsgi Wsgi count 2"}
    assert execute(rapi, "wsgi-ping", jsonapi(), collection=None).json() == {
        "success": "wsgi Wsgi ping 0"}


# -- Forest endpoints --------------------------------------------------------------------------


def test_endpoint_action_sends_its_jsonapi_request_signed(rapi: httpx.Client,
                                                          calls: httpx.Client) -> None:
    response = execute(rapi, "ship-by-endpoint", jsonapi(["1", "2", "3"], {"fee": "2.5"}))
    assert response.status_code == 200 and response.json() == {"success": "shipped 3"}
    call = executed(calls)[0]
    assert call["endpoint"] == "ship" and call["method"] == "POST"
    attributes = call["document"]["data"]["attributes"]
    assert call["document"]["data"]["type"] == "custom-action-requests"
    assert attributes["ids"] == ["1", "2", "3"] and attributes["values"] == {"fee": "2.5"}
    assert attributes["collection_name"] == "companies"
    assert attributes["smart_action_id"] == "companies-ship-by-endpoint"
    meta = call["document"]["meta"]
    assert meta["caller"]["email"] == "admin@test.example"
    assert meta["run_id"] == response.headers["x-actiondesk-run-id"]


def test_endpoint_action_validates_first_and_batches_select_all(rapi: httpx.Client,
                                                                calls: httpx.Client) -> None:
    assert execute(rapi, "ship-by-endpoint", jsonapi(["1"], {"fee": "-1"})).status_code == 422
    assert executed(calls) == []
    response = execute(rapi, "ship-by-endpoint", jsonapi(all_records=True, values={"fee": "0"}))
    assert response.json() == {"success": "shipped 2"}  # the last batch's answer: 30 = 4*7+2
    batches = [c["document"]["meta"]["batch"] for c in executed(calls)]
    assert len(batches) == 5 and batches[-1]["last"] is True


def test_endpoint_file_with_http_method_and_error(rapi: httpx.Client,
                                                  calls: httpx.Client) -> None:
    response = execute(rapi, "export-by-endpoint", jsonapi(["1"]))
    assert response.status_code == 200 and response.content == b"col\n1\n"
    assert 'filename="export.csv"' in response.headers["content-disposition"]
    assert executed(calls)[0]["method"] == "PUT"
    refused = execute(rapi, "refused-by-endpoint", jsonapi(["1"]))
    assert refused.status_code == 400 and refused.json() == {"error": "cannot ship"}


# -- failures: each a clear 502/504 and an audited failed run ---------------------------------


@pytest.mark.parametrize(("slug", "status", "words"), [
    ("non-json", 502, "not JSON (text/html"),
    ("wrong-shape", 502, "has none of success, error"),
    ("list-json", 502, "not an object"),
    ("bad-webhook", 502, "webhook URL 'ftp://x'"),
    ("empty-error", 502, "error must be non-empty text"),
    ("huge", 502, "more than the 1,000,000 bytes allowed"),
    ("huge-chunked", 502, "more than the 1,000,000 bytes allowed"),
    ("slow", 504, "did not answer within 2 s"),
    ("drip", 504, "did not answer within 2 s"),
    ("unsigned", 502, "cannot be trusted: not signed"),
    ("bad-signature", 502, "cannot be trusted: wrong signature"),
    ("wrong-nonce", 502, "signed for another request"),
    ("expired", 502, "cannot be trusted: expired"),
    ("status-500", 502, "failed (HTTP 500): the database is down"),
])
def test_a_remote_answering_garbage_is_a_clear_upstream_error(
    rapi: httpx.Client, slug: str, status: int, words: str
) -> None:
    error, record = failure(rapi, execute(rapi, slug, jsonapi(["1"])), status)
    assert words in error and "remote provider 'garbage'" in error
    assert record["message"] == error


def test_actions_of_an_unreachable_provider_answer_502(rapi: httpx.Client,
                                                       remote_server: str) -> None:
    # 'down' never answered, so it has no actions; a provider that answered and then went
    # away is tested with a process that dies below.
    providers = {p["name"]: p for p in rapi.get("/settings/remote").json()["providers"]}
    assert providers["down"]["actions"] == []


def test_signature_refused_by_the_remote_is_named(rapi: httpx.Client) -> None:
    refreshed = rapi.post("/settings/remote/refresh", params={"provider": "wrongkey"}).json()
    wrongkey = {p["name"]: p for p in refreshed["providers"]}["wrongkey"]
    assert wrongkey["status"] == "unavailable" and "HTTP 401" in wrongkey["error"]


def test_record_ids_in_paths_are_quoted(rapi: httpx.Client) -> None:
    path = f"/collections/order_lines/records/{quote('A%7C1|1', safe='')}"
    assert rapi.get(path).status_code == 200
