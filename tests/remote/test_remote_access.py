"""Remote actions are permissioned, approved and audited exactly like local ones, through the
real API, over SQLite, PostgreSQL and MariaDB (approval requests freeze the selection from the
data database and send the frozen records in batches)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actiondesk import Condition
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.live_server import live_server
from tests.remote.remote_desk import Remote, build_desk
from tests.support import jsonapi

SUPPORT, MANAGER, VIEWER = "support@remote.test", "manager@remote.test", "viewer@remote.test"
ROLES = [RoleSpec("support", read_all=True), RoleSpec("manager", read_all=True),
         RoleSpec("viewer", read_all=True)]
POLICIES = [
    Policy("support", "companies", "count", rule="trigger"),
    Policy("support", "companies", "tag-many", rule="approval"),
    Policy("manager", "companies", "tag-many", rule="trigger", can_approve=True),
    Policy("support", "companies", "slow", rule="approval"),
    Policy("manager", "companies", "slow", rule="trigger", can_approve=True),
    Policy("support", "companies", "ship-by-endpoint", rule="approval",
           condition=Condition("fee", "greater_than", "100"),
           condition_on="values"),
    Policy("manager", "companies", "ship-by-endpoint", rule="trigger", can_approve=True),
]
ACTIVE = {"filters": json.dumps({"field": "active", "operator": "equal", "value": True})}


@pytest.fixture(scope="module")
def users(sample_db: str, remote_service: Remote,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Client]]:
    state = tmp_path_factory.mktemp("remote-access") / "state.db"
    desk = build_desk(sample_db, f"sqlite:///{state}", remote_service, dev_mode=False)
    made = provision(desk, roles=ROLES, policies=POLICIES, users={
        SUPPORT: ("support", None), MANAGER: ("manager", None), VIEWER: ("viewer", None)})
    with live_server(desk) as base:
        clients = {email: httpx.Client(base_url=base + "/api", timeout=60,
                                       headers=bearer(access_token(desk, user)))
                   for email, user in made.items()}
        try:
            yield clients
        finally:
            for one in clients.values():
                one.close()


def messages(calls: httpx.Client) -> list[dict[str, Any]]:
    return [c["params"] for c in calls.get("/calls").json() if "params" in c]


def test_remote_actions_follow_each_roles_rules(users: dict[str, httpx.Client],
                                                calls: httpx.Client) -> None:
    viewer, support = users[VIEWER], users[SUPPORT]
    assert viewer.get("/collections/companies/actions").json()["actions"] == []
    refused = viewer.post("/collections/companies/actions/count", json=jsonapi(["1"]))
    # Hidden from the viewer: answered as an action that does not exist.
    assert refused.status_code == 404
    assert refused.json() == {"error": "no action 'count' on companies"}
    assert messages(calls) == []
    listed = {a["slug"]: a["rule"] for a in
              support.get("/collections/companies/actions").json()["actions"]}
    assert listed == {"count": "trigger", "tag-many": "approval", "slow": "approval",
                      "ship-by-endpoint": "approval"}
    done = support.post("/collections/companies/actions/count", json=jsonapi(["1", "2"]))
    assert done.status_code == 200
    assert [m["caller"]["email"] for m in messages(calls)] == [SUPPORT]


def test_an_approved_remote_action_runs_once_on_the_frozen_records(
    users: dict[str, httpx.Client], calls: httpx.Client
) -> None:
    support, manager = users[SUPPORT], users[MANAGER]
    asked = support.post("/collections/companies/actions/tag-many",
                         json=jsonapi(all_records=True, all_records_subset_query=ACTIVE))
    assert asked.status_code == 202, asked.text
    approval = asked.json()["approval"]
    assert approval["record_count"] == 15 and messages(calls) == []
    decided = manager.post(f"/approvals/{approval['id']}/approve")
    assert decided.status_code == 200, decided.text
    found = support.get(f"/approvals/{approval['id']}").json()
    assert found["status"] == "executed"
    sent = messages(calls)
    ids = [i for m in sent for i in m["ids"]]
    assert ids == [str(i) for i in range(2, 31, 2)]
    assert [len(m["ids"]) for m in sent] == [7, 7, 1]
    assert {m["caller"]["email"] for m in sent} == {SUPPORT}
    run = support.get(f"/runs/{found['run_id']}").json()
    assert run["status"] == "succeeded"
    assert run["caller"]["approvedBy"][0]["email"] == MANAGER
    again = manager.post(f"/approvals/{approval['id']}/approve")
    assert again.status_code == 409 and len(messages(calls)) == 3


def test_an_approved_remote_action_whose_remote_fails_is_a_failed_request(
    users: dict[str, httpx.Client], calls: httpx.Client
) -> None:
    support, manager = users[SUPPORT], users[MANAGER]
    asked = support.post("/collections/companies/actions/slow", json=jsonapi(["1"]))
    approval_id = asked.json()["approval"]["id"]
    assert manager.post(f"/approvals/{approval_id}/approve").status_code == 200
    found = support.get(f"/approvals/{approval_id}").json()
    assert found["status"] == "failed"
    assert "remote provider 'garbage' did not answer within 2 s" in found["reason"]
    run = support.get(f"/runs/{found['run_id']}").json()
    assert run["status"] == "failed" and run["status_code"] == 504


def test_an_endpoint_action_is_approved_only_when_its_condition_holds(
    users: dict[str, httpx.Client], calls: httpx.Client
) -> None:
    support, manager = users[SUPPORT], users[MANAGER]
    small = support.post("/collections/companies/actions/ship-by-endpoint",
                         json=jsonapi(["1"], {"fee": "5"}))
    assert small.status_code == 200 and small.json() == {"success": "shipped 1"}
    large = support.post("/collections/companies/actions/ship-by-endpoint",
                         json=jsonapi(["1", "2"], {"fee": "500"}))
    assert large.status_code == 202
    assert len(calls.get("/calls").json()) == 1
    approval_id = large.json()["approval"]["id"]
    assert manager.post(f"/approvals/{approval_id}/approve").status_code == 200
    found = support.get(f"/approvals/{approval_id}").json()
    assert found["status"] == "executed" and found["result"] == {"success": "shipped 2"}
    sent = calls.get("/calls").json()[-1]["document"]
    assert sent["data"]["attributes"]["values"] == {"fee": "500"}
    assert sent["meta"]["caller"]["email"] == SUPPORT


def test_admin_settings_name_remote_actions(users: dict[str, httpx.Client],
                                            tmp_path: Path) -> None:
    # Non-admins may not see the providers.
    assert users[SUPPORT].get("/settings/remote").status_code == 403
    assert users[SUPPORT].post("/settings/remote/refresh").status_code == 403
