"""A webhook result is called by the caller's browser, which reports back whether it arrived
(POST /api/runs/{id}/webhook): once, by that caller, for a webhook run only; the run shows it.
The state database (where runs live) is each backend in turn."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from actiondesk import ActionContext, Desk, Success, Webhook
from actiondesk.http.dependencies import CSRF_HEADER
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata
from tests.support import jsonapi, refused

ADMIN = "admin@hooks.test"
ALICE = "alice@hooks.test"
BOB = "bob@hooks.test"
PASSWORD = "correct-horse-battery"
HOOK = {"url": "https://hooks.example.com/x", "method": "POST", "headers": {"X-Token": "t"},
        "body": {"id": 1}}


def make_desk(data_url: str, state_url: str) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key="hooks-secret",
                models=[metadata])

    @desk.action("companies", name="Hook")
    async def hook(ctx: ActionContext) -> Webhook:
        return Webhook(HOOK["url"], method="post", headers=HOOK["headers"], body=HOOK["body"])

    @desk.action("companies", name="Touch")
    async def touch(ctx: ActionContext) -> Success:
        return Success("touched")

    return desk


class Site:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.tokens = tokens

    def api(self, email: str) -> httpx.Client:
        return httpx.Client(base_url=self.base + "/api", headers=bearer(self.tokens[email]),
                            timeout=60)


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("webhook-" + request.param)
    data_url = f"sqlite:///{tmp / 'data.db'}"
    asyncio.run(create_and_seed(data_url))
    with scratch_database(request.param, tmp) as state_url:
        desk = make_desk(data_url, state_url)
        users = provision(
            desk,
            roles=[RoleSpec("admin", is_admin=True, read_all=True),
                   RoleSpec("agent", readable=frozenset({"companies"}))],
            policies=[Policy(role, "companies", slug) for role in ("admin", "agent")
                      for slug in ("hook", "touch")],
            users={ADMIN: ("admin", None), ALICE: ("agent", PASSWORD), BOB: ("agent", None)},
        )
        tokens = {email: access_token(desk, user) for email, user in users.items()}
        with live_server(desk) as base:
            yield Site(base, tokens)


def run_action(api: httpx.Client, slug: str = "hook", **kwargs: Any) -> httpx.Response:
    response = api.post(f"/collections/companies/actions/{slug}", json=jsonapi(["1"]),
                        **kwargs)
    assert response.status_code == 200, response.text
    return response


def hook_run(api: httpx.Client) -> str:
    response = run_action(api)
    assert response.json() == {"webhook": HOOK}
    run_id: str = response.headers["x-actiondesk-run-id"]
    return run_id


def report(api: httpx.Client, run_id: str, body: Any, **kwargs: Any) -> httpx.Response:
    return api.post(f"/runs/{run_id}/webhook", json=body, **kwargs)


def test_an_undelivered_webhook_is_shown_on_the_run(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
        before = alice.get(f"/runs/{run_id}").json()
        assert before["status"] == "succeeded" and before["webhook"] is None

        answer = report(alice, run_id, {"delivered": False, "error": "could not be reached"})
        assert answer.status_code == 200, answer.text
        outcome = answer.json()["webhook"]
        assert outcome["delivered"] is False and outcome["error"] == "could not be reached"
        assert outcome["status"] is None and outcome["reported_at"]

        run = alice.get(f"/runs/{run_id}").json()
        assert run["webhook"] == outcome
        # The run's answer is untouched: what a replay and the audit show as the result.
        assert run["result"] == {"webhook": HOOK} and run["status"] == "succeeded"
        listed = alice.get("/runs", params={"action": "hook"}).json()["runs"]
        assert next(r for r in listed if r["id"] == run_id)["webhook"] == outcome


def test_a_delivered_webhook_keeps_its_status(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
        answer = report(alice, run_id, {"delivered": True, "status": 204})
        assert answer.status_code == 200, answer.text
        assert alice.get(f"/runs/{run_id}").json()["webhook"] | {"reported_at": None} == {
            "delivered": True, "status": 204, "error": None, "reported_at": None}


def test_the_outcome_is_reported_once(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
        first = report(alice, run_id, {"delivered": False, "status": 502,
                                       "error": "answered HTTP 502"})
        assert first.status_code == 200, first.text
        again = refused(report(alice, run_id, {"delivered": True, "status": 200}), 409)
        assert "already reported" in again["error"]
        assert alice.get(f"/runs/{run_id}").json()["webhook"] == first.json()["webhook"]


def test_two_reports_at_once_record_exactly_one(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)

    def send(delivered: bool) -> int:
        with site.api(ALICE) as client:
            return report(client, run_id, {"delivered": delivered}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(send, [True, False, True, False]))
    assert statuses == [200, 409, 409, 409]


def test_an_idempotent_replay_answers_what_the_handler_did(site: Site) -> None:
    with site.api(ALICE) as alice:
        key = {"Idempotency-Key": "hook-replay-" + site.base[-5:]}
        first = run_action(alice, headers=key)
        run_id = first.headers["x-actiondesk-run-id"]
        assert report(alice, run_id, {"delivered": False}).status_code == 200
        replay = run_action(alice, headers=key)
        assert replay.headers["x-actiondesk-run-id"] == run_id
        assert replay.json() == {"webhook": HOOK}


def test_only_the_runs_own_caller_may_report(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
    for other in (BOB, ADMIN):
        with site.api(other) as client:
            body = refused(report(client, run_id, {"delivered": True}), 403)
            assert "only the caller who ran" in body["error"]
    with site.api(ALICE) as alice:
        assert alice.get(f"/runs/{run_id}").json()["webhook"] is None
        refused(report(alice, "0" * 32, {"delivered": True}), 404)
        refused(report(alice, "nope", {"delivered": True}), 404)


def test_only_a_webhook_run_takes_an_outcome(site: Site) -> None:
    with site.api(ALICE) as alice:
        touched = run_action(alice, "touch").headers["x-actiondesk-run-id"]
        body = refused(report(alice, touched, {"delivered": True}), 409)
        assert "did not answer with a webhook" in body["error"]
        assert body["detail"]["result_kind"] == "success"
        run = alice.get(f"/runs/{touched}").json()
        assert run["webhook"] is None and run["result"] == {"success": "touched"}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "delivered"),
    ({"delivered": "yes"}, "delivered"),
    ({"delivered": 1}, "delivered"),
    ({"delivered": True, "status": 99}, "status"),
    ({"delivered": True, "status": "200"}, "status"),
    ({"delivered": False, "error": "x" * 501}, "error"),
    ({"delivered": False, "error": 5}, "error"),
    ({"delivered": True, "url": "https://elsewhere.example"}, "url"),
    ([True], "body"),
])
def test_a_malformed_outcome_is_refused_naming_the_field(
    site: Site, body: Any, field: str
) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
        answer = refused(report(alice, run_id, body), 422)
        assert field in answer["fields"], answer
        assert alice.get(f"/runs/{run_id}").json()["webhook"] is None


def test_not_json_is_refused(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
        answer = alice.post(f"/runs/{run_id}/webhook", content=b"{delivered",
                            headers={"Content-Type": "application/json"})
        refused(answer, 422)
        assert alice.get(f"/runs/{run_id}").json()["webhook"] is None


def test_a_cookie_session_needs_the_csrf_token(site: Site) -> None:
    with site.api(ALICE) as alice:
        run_id = hook_run(alice)
    with httpx.Client(base_url=site.base + "/api", timeout=60) as session:
        signed_in = session.post("/login", json={"email": ALICE, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        csrf = signed_in.json()["csrf_token"]
        body = refused(report(session, run_id, {"delivered": True}), 403)
        assert CSRF_HEADER in body["error"]
        assert session.get(f"/runs/{run_id}").json()["webhook"] is None
        done = report(session, run_id, {"delivered": True}, headers={CSRF_HEADER: csrf})
        assert done.status_code == 200, done.text
