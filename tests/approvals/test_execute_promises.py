"""The execute endpoint's promises over HTTP, on SQLite, PostgreSQL and MariaDB: an
Idempotency-Key holds for every answer (an approval request too: never a second request to
approve), every answer names the run that recorded it, and an action the caller may not see
answers exactly as one that does not exist."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import ActionContext, Condition, Desk, Success
from actiondesk import fields as f
from actiondesk.data.state_schema.approvals import approvals_table
from actiondesk.permissions.service import Policy
from tests.approvals.approvals_app import (
    POLICIES,
    build_desk,
    create_extra,
    handler_calls,
    serve,
)
from tests.approvals.test_approvals_api import Server, sql
from tests.auth_support import bearer
from tests.databases import BACKENDS, scratch_database
from tests.doc_blocks import README
from tests.sample_schema import create_and_seed
from tests.support import jsonapi

SUPPORT, MANAGER, ADMIN = "support@appr.test", "manager@appr.test", "admin@appr.test"
CHARGE = "/collections/companies/actions/charge"
RUN_HEADER = "x-actiondesk-run-id"
BIG_CHARGE = {"amount": "5000"}

EXTRA_POLICIES = [
    # The case: charges above 1000 need a manager's approval.
    Policy("support", "companies", "charge", rule="approval",
           condition=Condition("amount", "greater_than", 1000), condition_on="values"),
    Policy("manager", "companies", "charge", can_approve=True),
    Policy("support", "companies", "mark-live"),
    Policy("support", "companies", "recount"),
    Policy("support", "companies", "purge", rule="hidden"),
    # support has no policy for "audit-all" nor for the global "reindex": hidden by default.
]


def promises_desk(url: str) -> Desk:
    desk = build_desk(url, url)

    async def called(ctx: ActionContext) -> Success:
        async with ctx.async_db.begin() as conn:
            await conn.execute(handler_calls.insert().values(
                action=ctx.action.slug, run_id=ctx.run_id, caller=ctx.caller.email))
        return Success(f"{ctx.action.name} done")

    desk.action("companies", name="Charge", form=[f.Decimal("amount", required=True)])(called)
    desk.action("companies", name="Mark live", enabled_if=Condition("status", "not_equal",
                                                                    "live"),
                disabled_reason="the company is already live")(called)
    desk.action("companies", name="Recount", scope="bulk", background=True)(called)
    desk.action("companies", name="Purge")(called)
    desk.action("companies", name="Audit all", form=[f.String("why")])(called)
    desk.action(name="Reindex", form=[f.String("why")])(called)
    return desk


class PromisesServer(Server):
    def charge(self, ids: list[str], values: dict[str, Any], key: str | None = None
               ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.api(SUPPORT).post(CHARGE, json=jsonapi(ids, values), headers=headers)

    def approvals_of(self, action: str) -> int:
        return int(sql(self.url, sa.select(sa.func.count()).select_from(approvals_table)
                       .where(approvals_table.c.action_slug == action)))


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromisesServer]:
    backend: str = request.param
    with scratch_database(backend, tmp_path_factory.mktemp("promises-" + backend)) as url:
        asyncio.run(create_and_seed(url))
        asyncio.run(create_extra(url))
        with serve(promises_desk(url), [*POLICIES, *EXTRA_POLICIES]) as (base, tokens):
            found = PromisesServer(backend, base, url, tokens)
            try:
                yield found
            finally:
                found.close()


def run_of(server: PromisesServer, response: httpx.Response) -> dict[str, Any]:
    """The run an execution answer names in its header (read as an admin)."""
    run_id = response.headers[RUN_HEADER]
    answer = server.api(ADMIN).get(f"/runs/{run_id}")
    assert answer.status_code == 200, answer.text
    run: dict[str, Any] = answer.json()
    return run


# -- 1. an Idempotency-Key holds for approval requests -----------------------------------------


def test_a_retried_request_needing_approval_gets_the_same_request(server: PromisesServer) -> None:
    before = server.approvals_of("charge")
    first = server.charge(["3"], BIG_CHARGE, key="charge-3-once")
    assert first.status_code == 202, first.text
    approval = first.json()["approval"]
    again = server.charge(["3"], BIG_CHARGE, key="charge-3-once")
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers[RUN_HEADER] == first.headers[RUN_HEADER]
    assert again.headers["location"] == first.headers["location"]
    assert server.approvals_of("charge") == before + 1

    # Another body with the same key: 409, as for runs, naming the first request's run.
    other = server.charge(["3"], {"amount": "6000"}, key="charge-3-once")
    assert other.status_code == 409, other.text
    assert other.json()["detail"]["run_id"] == first.headers[RUN_HEADER]
    assert other.headers[RUN_HEADER] == first.headers[RUN_HEADER]
    below = server.charge(["3"], {"amount": "10"}, key="charge-3-once")  # would run at once
    assert below.status_code == 409, below.text
    assert server.approvals_of("charge") == before + 1

    # Approved, it runs once; a retry afterwards still answers the same request.
    calls = server.calls("charge")
    done = server.api(MANAGER).post(f"/approvals/{approval['id']}/approve")
    assert done.status_code == 200, done.text
    assert done.json()["approval"]["status"] == "executed"
    assert server.calls("charge") == calls + 1
    late = server.charge(["3"], BIG_CHARGE, key="charge-3-once")
    assert late.status_code == 202 and late.json()["approval"]["id"] == approval["id"]
    assert server.calls("charge") == calls + 1
    assert server.approvals_of("charge") == before + 1


def test_concurrent_identical_requests_make_one_approval_request(server: PromisesServer) -> None:
    before = server.approvals_of("charge")
    barrier = threading.Barrier(8)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=server.base + "/api", headers=bearer(server.tokens[SUPPORT]),
                          timeout=120) as client:
            barrier.wait()
            answer = client.post(CHARGE, json=jsonapi(["6"], BIG_CHARGE),
                                 headers={"Idempotency-Key": "charge-6-at-once"})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert len({a.json()["approval"]["id"] for a in answers}) == 1
    assert len({a.headers[RUN_HEADER] for a in answers}) == 1
    assert server.approvals_of("charge") == before + 1

    approval_id = answers[0].json()["approval"]["id"]
    calls = server.calls("charge")
    assert server.api(MANAGER).post(f"/approvals/{approval_id}/approve").status_code == 200
    assert server.calls("charge") == calls + 1


def test_without_a_key_each_request_is_its_own(server: PromisesServer) -> None:
    first, second = server.charge(["9"], BIG_CHARGE), server.charge(["9"], BIG_CHARGE)
    assert first.status_code == second.status_code == 202
    assert first.json()["approval"]["id"] != second.json()["approval"]["id"]
    assert first.headers[RUN_HEADER] != second.headers[RUN_HEADER]


# -- 2. every execution answer names its run ------------------------------------------------------


def test_every_execution_answer_carries_its_run_id(server: PromisesServer) -> None:
    api = server.api(SUPPORT)
    done = api.post("/collections/companies/actions/mark-live", json=jsonapi(["3"]))
    assert done.status_code == 200, done.text
    assert run_of(server, done)["status"] == "succeeded"

    already = api.post("/collections/companies/actions/mark-live", json=jsonapi(["1"]))
    assert already.status_code == 403, already.text
    assert already.headers[RUN_HEADER] == already.json()["detail"]["run_id"]
    run = run_of(server, already)
    assert run["status"] == "refused" and run["status_code"] == 403
    assert "already live" in run["message"]

    invalid = server.charge(["3"], {"amount": "a lot"})
    assert invalid.status_code == 422, invalid.text
    assert invalid.headers[RUN_HEADER] == invalid.json()["detail"]["run_id"]
    run = run_of(server, invalid)
    assert run["status"] == "refused" and run["status_code"] == 422

    waiting = server.charge(["12"], BIG_CHARGE)
    assert waiting.status_code == 202, waiting.text
    approval = waiting.json()["approval"]
    assert waiting.headers["location"] == f"/api/approvals/{approval['id']}"
    run = run_of(server, waiting)
    assert run["status"] == "approval_requested" and run["status_code"] == 202
    assert run["result"] == {"approval": approval}
    shown = server.api(SUPPORT).get(server.base + waiting.headers["location"])
    assert shown.status_code == 200 and shown.json()["id"] == approval["id"]

    queued = api.post("/collections/companies/actions/recount", json=jsonapi(["3", "6"]))
    assert queued.status_code == 202, queued.text
    assert queued.headers[RUN_HEADER] == queued.json()["run"]["id"]
    assert queued.headers["location"] == f"/api/runs/{queued.headers[RUN_HEADER]}"
    assert run_of(server, queued)["background"] is True

    # No run, no header: an unknown action, a malformed body.
    unknown = api.post("/collections/companies/actions/nope", json=jsonapi(["1"]))
    assert unknown.status_code == 404 and RUN_HEADER not in unknown.headers
    malformed = api.post(CHARGE, content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and RUN_HEADER not in malformed.headers


# -- 3. a hidden action answers as an unknown one ------------------------------------------------


HIDDEN = [
    # (path of a hidden action, the same path with an unknown slug, the reason in the audit)
    ("/collections/companies/actions/purge", "/collections/companies/actions/purgf",
     "rule: hidden"),
    ("/collections/companies/actions/audit-all", "/collections/companies/actions/audit-alm",
     "hidden by default"),
    ("/actions/reindex", "/actions/reindey", "hidden by default"),
]


def documented() -> str:
    """The README, each run of white space as one space (its lines are wrapped)."""
    return " ".join(README.read_text(encoding="utf-8").split())


def same_answer(hidden: httpx.Response, unknown: httpx.Response, slugs: tuple[str, str]) -> None:
    assert hidden.status_code == unknown.status_code == 404, (hidden.text, unknown.text)
    assert hidden.json() == {"error": unknown.json()["error"].replace(*reversed(slugs))}
    assert set(hidden.json()) == {"error"}
    assert RUN_HEADER not in hidden.headers and RUN_HEADER not in unknown.headers
    assert hidden.headers["content-type"] == unknown.headers["content-type"]


@pytest.mark.parametrize(("path", "unknown", "reason"), HIDDEN)
@pytest.mark.parametrize("suffix", ["", "/form"])
def test_a_hidden_action_answers_exactly_as_an_unknown_one(
    server: PromisesServer, path: str, unknown: str, reason: str, suffix: str,
) -> None:
    api = server.api(SUPPORT)
    body = jsonapi(["3"] if path.startswith("/collections") else [], {"why": "x"})
    slugs = (path.rsplit("/", 1)[1], unknown.rsplit("/", 1)[1])
    hidden = api.post(path + suffix, json=body, headers={"Idempotency-Key": "k-" + suffix})
    same_answer(hidden, api.post(unknown + suffix, json=body,
                                 headers={"Idempotency-Key": "k-" + suffix}), slugs)

    # The admins' audit keeps the real reason; the caller's runs show nothing of it.
    events = server.api(ADMIN).get("/audit", params={"kind": "not_found",
                                                     "path": "/api" + path + suffix}).json()
    mine = [e for e in events["events"] if e["caller_email"] == SUPPORT]
    assert mine and reason in mine[0]["reason"] and "'support'" in mine[0]["reason"]
    assert mine[0]["status_code"] == 404
    if path.endswith("/audit-all"):  # the README's example
        assert mine[0]["reason"] == (
            "Audit all is not available to role 'support': role 'support' has no rule for "
            "companies/audit-all (hidden by default); answered as unknown (404)")
        assert f'("{mine[0]["reason"]}")' in documented()
    if path.endswith("/purge") and not suffix:
        assert f'404 `{json.dumps(hidden.json())}`' in documented()
    runs = api.get("/runs", params={"action": slugs[0], "page_size": 200}).json()
    assert runs["runs"] == []


def test_hidden_actions_are_not_in_the_lists_with_a_selection(server: PromisesServer) -> None:
    api = server.api(SUPPORT)
    listed = api.get("/collections/companies/actions", params={"ids": ["3"]})
    posted = api.post("/collections/companies/actions", json=jsonapi(["3"]))
    assert listed.status_code == posted.status_code == 200
    for answer in (listed, posted):
        slugs = {a["slug"] for a in answer.json()["actions"]}
        assert "charge" in slugs and not slugs & {"purge", "audit-all"}
    assert "reindex" not in {a["slug"] for a in api.get("/actions").json()["actions"]}


def test_an_unreadable_collection_refuses_known_and_unknown_slugs_alike(
    server: PromisesServer,
) -> None:
    """Before its actions are looked up: the 403 names the collection, never the action."""
    # The viewer reads every collection in this desk; take its right to read companies away.
    admin = server.api(ADMIN)
    assert admin.put("/settings/roles/viewer", json={"readable": ["transactions"]}
                     ).status_code == 200
    try:
        viewer = server.api("viewer@appr.test")
        known = viewer.post("/collections/companies/actions/refund", json=jsonapi(["1"]))
        unknown = viewer.post("/collections/companies/actions/refunf", json=jsonapi(["1"]))
        assert known.status_code == unknown.status_code == 403
        assert known.json() == unknown.json()
        assert RUN_HEADER not in known.headers
    finally:
        assert admin.put("/settings/roles/viewer", json={"read_all": True}).status_code == 200



def test_an_admin_is_told_why_an_action_is_hidden(server: PromisesServer) -> None:
    """Admins see every action in the settings: they get the reason, audited as a run."""
    answer = server.api(ADMIN).post("/collections/companies/actions/purge", json=jsonapi(["3"]))
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == ("Purge is not available to role 'admin': role 'admin' "
                                      "has no rule for companies/purge (hidden by default)")
    assert run_of(server, answer)["status"] == "refused"
