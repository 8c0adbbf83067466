"""Background runs on the in-process runner, through a real server, on every backend.

The server's state database is the data database itself on PostgreSQL and MariaDB (so a batch
and its checkpoint commit together), and a separate SQLite file on SQLite.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.background.background_app import (
    ADMIN,
    BOSS,
    CLERK,
    ITEMS,
    OPS2,
    VIEWER,
    Api,
    api_of,
    build_desk,
    counters,
    create_items,
    lease,
    tokens_for,
)
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server
from tests.support import jsonapi


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, str]]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp("bg-" + backend)
    with scratch_database(backend, tmp) as url:
        asyncio.run(create_items(url))
        state = f"sqlite:///{tmp / 'state.db'}" if backend == "sqlite" else url
        desk = build_desk(url, state, run_lease=lease(3))
        tokens = tokens_for(desk)
        with live_server(desk) as base, api_of(base, tokens) as api:
            yield api, url


@pytest.fixture
def api(server: tuple[Api, str]) -> Api:
    asyncio.run(create_items(server[1]))
    return server[0]


@pytest.fixture
def url(server: tuple[Api, str]) -> str:
    return server[1]


def test_execute_answers_202_and_the_runner_finishes_the_run(api: Api, url: str) -> None:
    queued = api.start(values={"batch": 25})
    assert queued["status"] in ("queued", "running") and queued["background"]
    assert queued["runner"] == "inprocess" and queued["record_count"] == ITEMS
    assert queued["progress"]["total"] == ITEMS
    run = api.wait(queued["id"])
    assert run["status"] == "succeeded", run
    assert run["result"] == {"success": f"{ITEMS} processed"}
    progress = run["progress"]
    assert progress["done"] == progress["total"] == ITEMS and progress["percent"] == 100.0
    assert progress["eta_seconds"] is None and run["attempts"] == 1
    assert counters(url) == [1] * ITEMS
    assert "request_values" not in run


def test_key_range_batches_without_reading_the_records(api: Api, url: str) -> None:
    run = api.wait(api.start(values={"batch": 50, "ranges": True},
                             **{"all_records": True, "all_records_ids_excluded": ["7"]})["id"])
    assert run["status"] == "succeeded" and run["result"] == {"success": f"{ITEMS - 1} processed"}
    assert counters(url) == [1] * 6 + [0] + [1] * (ITEMS - 7)


def test_progress_is_visible_while_it_runs(api: Api) -> None:
    queued = api.start(values={"batch": 10, "delay": 0.15})
    seen = api.wait(queued["id"], lambda r: 0 < r["progress"]["done"] < ITEMS)
    assert seen["status"] == "running" and seen["progress"]["rate"] > 0
    assert seen["progress"]["eta_seconds"] is not None and seen["progress"]["done"] % 10 == 0
    assert api.wait(queued["id"])["status"] == "succeeded"


def _events(api: Api, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    with api().stream("GET", f"/runs/{run_id}/events", timeout=60) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[6:])))
    return found


def test_server_sent_events_push_progress_until_the_end(api: Api) -> None:
    queued = api.start(values={"batch": 10, "delay": 0.1})
    events = _events(api, queued["id"])
    kinds = [k for k, _ in events]
    assert kinds[0] == "run" and kinds[-1] == "end" and kinds.count("end") == 1
    done = [e["progress"]["done"] for _, e in events]
    assert done == sorted(done) and done[-1] == ITEMS
    assert any(0 < d < ITEMS for d in done), done
    assert events[-1][1]["status"] == "succeeded"
    # A finished run: its state at once, then the end.
    assert [k for k, _ in _events(api, queued["id"])] == ["run", "end"]


def test_a_handler_error_fails_the_run_with_its_message(api: Api, url: str) -> None:
    run = api.wait(api.start("explode")["id"])
    assert run["status"] == "failed" and run["status_code"] == 500
    assert run["message"] == "RuntimeError: boom at batch 2"
    # The first batch committed; the second rolled back with the error.
    assert run["progress"]["done"] == 10 and sum(counters(url)) == 10


def test_an_action_error_ends_the_run_as_error(api: Api) -> None:
    run = api.wait(api.start("refuse-politely")["id"])
    assert run["status"] == "error" and run["result"] == {"error": "not today"}


def test_cancel_stops_after_the_current_batch(api: Api, url: str) -> None:
    queued = api.start(values={"batch": 10, "delay": 0.3})
    api.wait(queued["id"], lambda r: r["progress"]["done"] >= 10)
    answer = api().post(f"/runs/{queued['id']}/cancel")
    assert answer.status_code == 200 and answer.json()["cancel_requested"]
    run = api.wait(queued["id"])
    assert run["status"] == "cancelled", run
    done = run["progress"]["done"]
    assert 10 <= done < ITEMS and run["message"] == f"cancelled after {done} of {ITEMS} records"
    assert sum(counters(url)) == done
    again = api().post(f"/runs/{queued['id']}/cancel")
    assert again.status_code == 409 and again.json()["detail"]["status"] == "cancelled"


def test_background_above_runs_small_selections_inline(api: Api, url: str) -> None:
    small = api().post("/collections/items/actions/touch", json=jsonapi(["1", "2", "3"]))
    assert small.status_code == 200 and small.json() == {"success": "3 touched"}
    run_id = small.headers["x-actiondesk-run-id"]
    assert api.run(run_id)["background"] is False
    inline_cancel = api().post(f"/runs/{run_id}/cancel")
    assert inline_cancel.status_code == 409
    big = api.start("touch")
    assert api.wait(big["id"])["result"] == {"success": f"{ITEMS} touched"}
    assert counters(url)[:3] == [2, 2, 2] and counters(url)[3:] == [1] * (ITEMS - 3)


def test_sync_and_global_handlers_run_in_the_background(api: Api, url: str) -> None:
    run = api.wait(api.start("sync-touch", ids=["1", "2"])["id"])
    assert run["result"] == {"success": "2 touched in a thread"}
    answer = api().post("/actions/count-down", json=jsonapi())
    assert answer.status_code == 202
    counted = api.wait(answer.json()["run"]["id"])
    assert counted["result"] == {"success": "lift-off"}
    assert counted["progress"]["done"] == counted["progress"]["total"] == 3


def test_an_idempotency_key_returns_the_same_run(api: Api) -> None:
    body = jsonapi(values={"batch": 50}, all_records=True)
    headers = {"Idempotency-Key": "bg-1"}
    first = api().post("/collections/items/actions/process", json=body, headers=headers)
    second = api().post("/collections/items/actions/process", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["run"]["id"] == second.json()["run"]["id"]
    api.wait(first.json()["run"]["id"])
    other = api().post("/collections/items/actions/process", headers=headers,
                       json=jsonapi(values={"batch": 7}, all_records=True))
    assert other.status_code == 409


def test_refused_exactly_like_an_inline_run(api: Api) -> None:
    answer = api(VIEWER).post("/collections/items/actions/process",
                              json=jsonapi(**{"all_records": True}))
    # Hidden from the viewer: answered as an action that does not exist.
    assert answer.status_code == 404
    assert answer.json() == {"error": "no action 'process' on items"}
    bad = api().post("/collections/items/actions/process",
                     json=jsonapi(values={"delay": "soon"}, all_records=True))
    assert bad.status_code == 422 and "delay" in bad.json()["fields"]
    refused = api(ADMIN).get(f"/runs/{bad.headers['x-actiondesk-run-id']}").json()
    assert refused["status"] == "refused" and refused["background"] is False


def test_other_callers_cannot_see_follow_or_cancel_a_run(api: Api) -> None:
    queued = api.start(values={"batch": 10, "delay": 0.2})
    for path in (f"/runs/{queued['id']}", f"/runs/{queued['id']}/events"):
        assert api(OPS2).get(path).status_code == 403
    assert api(OPS2).post(f"/runs/{queued['id']}/cancel").status_code == 403
    assert queued["id"] not in {r["id"] for r in api(OPS2).get("/runs").json()["runs"]}
    assert api(ADMIN).post(f"/runs/{queued['id']}/cancel").status_code == 200
    assert api.wait(queued["id"])["status"] == "cancelled"
    assert api().post("/runs/nope/cancel").status_code == 404


def test_an_approved_request_runs_in_the_background(api: Api, url: str) -> None:
    answer = api(CLERK).post("/collections/items/actions/process",
                             json=jsonapi(["1", "2", "3"], {"batch": 2}))
    assert answer.status_code == 202
    approval = answer.json()["approval"]
    decided = api(BOSS).post(f"/approvals/{approval['id']}/approve")
    assert decided.status_code == 200, decided.text
    body = decided.json()["approval"]
    assert body["status"] == "executing" and body["run_id"]
    run = api.wait(body["run_id"], email=ADMIN)
    assert run["status"] == "succeeded" and run["caller"]["email"] == CLERK
    assert run["progress"]["done"] == 3

    def executed() -> dict[str, Any]:
        found: dict[str, Any] = api(BOSS).get(f"/approvals/{approval['id']}").json()
        return found

    for _ in range(100):
        if executed()["status"] != "executing":
            break
        asyncio.run(asyncio.sleep(0.05))
    assert executed()["status"] == "executed" and executed()["result"] == {
        "success": "3 processed"}
    assert counters(url)[:4] == [1, 1, 1, 0]


def test_run_list_filters_by_the_new_statuses(api: Api) -> None:
    run = api.wait(api.start(values={"batch": 60})["id"])
    listed = api().get("/runs", params={"status": "succeeded", "action": "process"}).json()
    assert run["id"] in {r["id"] for r in listed["runs"]}
    assert api().get("/runs", params={"status": "queued"}).status_code == 200


def test_the_openapi_document_lists_the_run_routes(api: Api, tmp_path: Path) -> None:
    paths = api().get("/openapi.json").json()["paths"]
    assert "/api/runs/{run_id}/events" in paths and "/api/runs/{run_id}/cancel" in paths


def test_batches_work_inline_and_leaving_early_keeps_the_last_batch(api: Api, url: str) -> None:
    answer = api().post("/collections/items/actions/first-batches",
                        json=jsonapi(values={"stop": 3}, all_records=True))
    assert answer.status_code == 200 and answer.json() == {"success": "20 done"}
    assert counters(url) == [1] * 30 + [0] * (ITEMS - 30)
