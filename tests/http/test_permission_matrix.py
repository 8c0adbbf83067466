"""The permission matrix on every backend: each endpoint x role x rule, with conditions that
hold for some selected records and not others, select-all, related-data contexts, action
settings, and a change made through one server enforced by another at its next request.
Every refusal is audited: as a refused run for an execution, in /api/audit otherwise.

The state tables live in the data database of each backend, as they may in production.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from actiondesk import ActionContext, Condition, Desk, Editing, Success
from actiondesk import fields as f
from actiondesk.permissions.service import ActionSetting, Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata
from tests.support import jsonapi, record, refused

SECRET = "matrix-secret"
EMAILS = {role: f"{role}@matrix.test" for role in ("admin", "support", "viewer", "auditor")}

# Sample data: company i has capital i*1000 + 0.25, status ("pending", "live", "churned")[i % 3]
# and is active when i is even; transaction i is emitted by company 1 + i % 3.
BIG_CAPITAL = Condition("capital", "greater_than", 10000)  # companies 10..30
BIG_AMOUNT = Condition("amount", "greater_than", 1000)
ACTIVE = Condition("active", "equal", True)
NOT_CHURNED = Condition("status", "not_equal", "churned")

ROLES = [
    RoleSpec("admin", is_admin=True, read_all=True),
    RoleSpec("support", readable=frozenset({"companies", "transactions"})),
    RoleSpec("viewer", readable=frozenset({"companies"})),
    RoleSpec("auditor", readable=frozenset({"transactions"})),
]
COMPANY_ACTIONS = ("touch", "refund", "charge", "purge", "export", "flag", "retired")
POLICIES = [
    *(Policy("admin", "companies", slug) for slug in COMPANY_ACTIONS),
    Policy("admin", "transactions", "tally"),
    Policy("admin", "transactions", "reassign"),
    Policy("support", "companies", "touch"),
    Policy("support", "companies", "refund", rule="approval", condition=BIG_CAPITAL),
    Policy("support", "companies", "charge", rule="approval", condition=BIG_AMOUNT,
           condition_on="values"),
    Policy("support", "companies", "purge", rule="hidden"),
    # no policy for support on export: hidden by default
    Policy("support", "companies", "flag"),
    Policy("support", "companies", "retired"),
    Policy("support", "transactions", "tally"),
    Policy("support", "transactions", "reassign"),
    Policy("auditor", "transactions", "tally"),
    Policy("auditor", "transactions", "reassign"),
    # viewer: no policy at all
    # The built-in record actions of transactions (edit, bulk-edit, create, delete).
    *(Policy("admin", "transactions", slug) for slug in ("edit", "bulk-edit", "create",
                                                          "delete")),
    Policy("support", "transactions", "edit", rule="approval", condition=BIG_AMOUNT,
           condition_on="values"),
    Policy("support", "transactions", "create"),
    Policy("support", "transactions", "delete", rule="hidden"),
    # no policy for support on bulk-edit: hidden by default
    Policy("auditor", "transactions", "create"),
    Policy("auditor", "transactions", "delete", rule="approval"),
]
SETTINGS = [
    ActionSetting("companies", "retired", visible=False),
    ActionSetting("companies", "flag", enabled_if=ACTIVE),
]


async def report(ctx: ActionContext) -> Success:
    """What ran, on how many records, for whom: the same handler serves every action."""
    count = await ctx.selection.count() if ctx.selection is not None else 0
    return Success(json.dumps({"action": ctx.action.slug, "count": count,
                               "by": ctx.caller.email}))


def make_desk(url: str, state_url: str) -> Desk:
    desk = Desk(database_url=url, state_url=state_url, secret_key=SECRET, models=[metadata],
                collections={"transactions": Editing()})
    desk.action("companies", name="Touch", scope="bulk")(report)
    desk.action("companies", name="Refund", scope="bulk")(report)
    desk.action("companies", name="Charge", form=[f.Decimal("amount", required=True)])(report)
    desk.action("companies", name="Purge")(report)
    desk.action("companies", name="Export")(report)
    desk.action("companies", name="Flag", enabled_if=NOT_CHURNED,
                disabled_reason="churned companies cannot be flagged")(report)
    desk.action("companies", name="Retired")(report)
    desk.action("transactions", name="Tally", scope="bulk")(report)
    desk.action("transactions", name="Reassign",
                form=[f.Reference("company", reference="companies", required=True)])(report)
    return desk


@dataclass
class Matrix:
    base: str
    url: str
    tokens: dict[str, str]
    runs: dict[str, str] = field(default_factory=dict)  # role -> the id of one of its runs
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, role: str, base: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=(base or self.base) + "/api",
                            headers=bearer(self.tokens[role]), timeout=60)

    def api(self, role: str) -> httpx.Client:
        """A kept-alive client of this server for the role (building one costs ~10 ms)."""
        if role not in self.clients:
            self.clients[role] = self.client(role)
        return self.clients[role]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    backend: str = request.param
    with scratch_database(backend, tmp_path_factory.mktemp("matrix-" + backend)) as url:
        asyncio.run(create_and_seed(url))
        desk = make_desk(url, url)
        users = provision(desk, roles=ROLES, policies=POLICIES, settings=SETTINGS,
                          users={email: (role, None) for role, email in EMAILS.items()})
        tokens = {role: access_token(desk, users[email]) for role, email in EMAILS.items()}
        with live_server(desk) as base:
            found = Matrix(base, url, tokens)
            for role in ("admin", "support"):
                done = found.api(role).post("/collections/companies/actions/touch",
                                            json=jsonapi(["1"]))
                assert done.status_code == 200, done.text
                found.runs[role] = done.headers["x-actiondesk-run-id"]
            try:
                yield found
            finally:
                found.close()


# -- the matrix ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    role: str
    method: str
    path: str  # under /api; {admin_run} and {support_run} are filled in
    status: int
    says: tuple[str, ...] = ()  # in the 403 message: the rule, the role, the collection
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    count: int | None = None  # for an execution: how many records the handler saw


def execute(role: str, slug: str, ids: list[str], status: int, *says: str,
            collection: str = "companies", name: str = "", count: int | None = None,
            values: dict[str, Any] | None = None, **attributes: Any) -> Case:
    label = name or f"{'-'.join(ids) or 'all'}"
    return Case(f"execute-{slug}-{label}-{role}", role, "POST",
                f"/collections/{collection}/actions/{slug}", status, says,
                body=jsonapi(ids, values, **attributes), count=count)


def form(role: str, slug: str, ids: list[str], status: int, *says: str,
         collection: str = "companies", name: str = "", **attributes: Any) -> Case:
    label = name or "-".join(ids)
    return Case(f"form-{slug}-{label}-{role}", role, "POST",
                f"/collections/{collection}/actions/{slug}/form", status, says,
                body=jsonapi(ids, **attributes))


def listed_for(role: str, ids: list[str], status: int, *says: str,
               collection: str = "companies", name: str = "", **attributes: Any) -> Case:
    """The actions list for a posted selection document (select-all, parent records)."""
    label = name or "-".join(ids) or "all"
    return Case(f"actions-for-selection-{collection}-{label}-{role}", role, "POST",
                f"/collections/{collection}/actions", status, says,
                body=jsonapi(ids, **attributes))


def get(name: str, role: str, path: str, status: int, *says: str,
        params: dict[str, Any] | None = None) -> Case:
    return Case(f"{name}-{role}", role, "GET", path, status, says, params=params)


NOT_READ = "may not read collection"


def capital_below(amount: int) -> dict[str, Any]:
    return {"filters": {"field": "capital", "operator": "less_than", "value": amount}}

APPROVAL = ("needs approval", "rule: approval", "'support'")
EMITTED = {"parent_collection_name": "companies", "parent_collection_id": "1",
           "parent_association_name": "emitter_company_transactions"}
RELATED = "/collections/companies/records/1/relationships/emitter_company_transactions"

CASES: list[Case | Any] = [
    # collections and records: read access per role
    *(get("collections", role, "/collections", 200) for role in EMAILS),
    get("collection-orders", "admin", "/collections/orders", 200),
    get("collection-orders", "support", "/collections/orders", 403, NOT_READ, "'support'",
        "'orders'"),
    get("collection-transactions", "viewer", "/collections/transactions", 403, NOT_READ,
        "'viewer'", "'transactions'"),
    get("collection-companies", "auditor", "/collections/companies", 403, NOT_READ,
        "'auditor'", "'companies'"),
    get("records-orders", "admin", "/collections/orders/records", 200),
    get("records-transactions", "support", "/collections/transactions/records", 200),
    get("records-orders", "support", "/collections/orders/records", 403, NOT_READ, "'orders'"),
    get("records-companies", "viewer", "/collections/companies/records", 200),
    get("records-transactions", "viewer", "/collections/transactions/records", 403, NOT_READ,
        "'transactions'"),
    get("records-companies", "auditor", "/collections/companies/records", 403, NOT_READ,
        "'companies'"),
    get("record-company", "support", "/collections/companies/records/1", 200),
    get("record-order", "admin", "/collections/orders/records/plain", 200),
    get("record-order", "support", "/collections/orders/records/plain", 403, NOT_READ,
        "'orders'"),
    get("record-transaction", "viewer", "/collections/transactions/records/1", 403, NOT_READ,
        "'transactions'"),
    get("related", "admin", RELATED, 200),
    get("related", "support", RELATED, 200),
    get("related", "viewer", RELATED, 403, NOT_READ, "'viewer'", "'transactions'"),
    get("related", "auditor", RELATED, 403, NOT_READ, "'auditor'", "'companies'"),
    get("related-orders", "support", "/collections/companies/records/1/relationships/orders",
        403, NOT_READ, "'orders'"),
    # action lists: what is listed is checked apart; here, who may ask
    *(get("actions", role, "/collections/companies/actions", 200)
      for role in ("admin", "support", "viewer")),
    get("actions", "auditor", "/collections/companies/actions", 403, NOT_READ, "'companies'"),
    get("actions-ids", "support", "/collections/companies/actions", 200,
        params={"ids": ["1", "12"]}),
    get("actions-orders", "support", "/collections/orders/actions", 403, NOT_READ, "'orders'"),
    get("actions-orders-ids", "support", "/collections/orders/actions", 403, NOT_READ,
        "'orders'", params={"ids": ["plain"]}),
    get("actions-transactions-ids", "viewer", "/collections/transactions/actions", 403,
        NOT_READ, "'transactions'", params={"ids": ["1"]}),
    *(get("global-actions", role, "/actions", 200) for role in EMAILS),
    # forms: the same checks as execution
    form("support", "touch", ["1"], 200),
    form("support", "charge", ["1"], 200),
    form("support", "refund", ["1", "12"], 200),
    # an action the caller may not see answers as an unknown one (404); the audit says why
    form("support", "purge", ["1"], 404, "rule: hidden", "'support'"),
    form("support", "export", ["1"], 404, "hidden by default", "'support'"),
    form("support", "retired", ["1"], 404, "switched off"),
    form("admin", "retired", ["1"], 403, "switched off"),
    form("viewer", "touch", ["1"], 404, "'viewer'", "hidden by default"),
    form("auditor", "touch", ["1"], 403, NOT_READ, "'companies'"),
    form("support", "flag", ["2"], 403, "churned companies cannot be flagged"),
    form("support", "flag", ["3"], 403, "administrator"),
    form("support", "flag", ["4"], 200),
    form("admin", "tally", ["3"], 200, collection="transactions"),
    form("viewer", "tally", ["3"], 403, NOT_READ, "'transactions'", collection="transactions"),
    form("support", "tally", ["3"], 200, collection="transactions", name="in-parent",
         **EMITTED),
    form("auditor", "tally", ["3"], 403, NOT_READ, "'companies'", collection="transactions",
         name="in-unreadable-parent", **EMITTED),
    listed_for("support", [], 200, collection="transactions", name="all-in-parent",
               all_records=True, **EMITTED),
    listed_for("viewer", ["3"], 403, NOT_READ, "'transactions'", collection="transactions"),
    listed_for("auditor", ["3"], 403, NOT_READ, "'companies'", collection="transactions",
               name="in-unreadable-parent", **EMITTED),
    # execution: trigger, hidden, no policy, switched off
    execute("support", "touch", ["1", "2"], 200, count=2),
    execute("admin", "touch", ["1", "2", "3"], 200, count=3),
    execute("viewer", "touch", ["1"], 404, "'viewer'", "hidden by default"),
    execute("auditor", "touch", ["1"], 403, NOT_READ, "'companies'"),
    execute("support", "purge", ["1"], 404, "rule: hidden", "'support'"),
    execute("admin", "purge", ["1"], 200, count=1),
    execute("support", "export", ["1"], 404, "hidden by default", "'support'"),
    execute("admin", "export", ["1"], 200, count=1),
    execute("support", "retired", ["1"], 404, "switched off"),
    execute("admin", "retired", ["1"], 403, "switched off"),
    # approval on the selected records: required when the condition holds for any of them
    execute("support", "refund", ["1", "2"], 200, count=2),
    execute("support", "refund", ["12"], 403, *APPROVAL),
    execute("support", "refund", ["1", "12", "2"], 403, *APPROVAL, name="mixed"),
    execute("admin", "refund", ["1", "12"], 200, count=2),
    # select-all with the condition
    execute("support", "refund", [], 403, *APPROVAL, all_records=True),
    execute("support", "refund", [], 200, name="all-small", count=4, all_records=True,
            all_records_subset_query=capital_below(5000)),
    execute("support", "refund", [], 403, *APPROVAL, name="all-some-big", all_records=True,
            all_records_subset_query=capital_below(12000)),
    execute("support", "refund", [], 200, name="all-big-excluded", count=9, all_records=True,
            all_records_subset_query=capital_below(12000),
            all_records_ids_excluded=["10", "11"]),
    # approval on form values
    execute("support", "charge", ["1"], 200, name="small", count=1, values={"amount": "500"}),
    execute("support", "charge", ["1"], 403, "needs approval", "form values", name="big",
            values={"amount": "5000"}),
    execute("admin", "charge", ["1"], 200, name="big", count=1, values={"amount": "5000"}),
    # the admin's enabled_if ANDed with the code's
    execute("support", "flag", ["4"], 200, count=1),
    execute("support", "flag", ["2"], 403, "churned companies cannot be flagged"),
    execute("support", "flag", ["3"], 403, "administrator"),
    execute("admin", "flag", ["3"], 403, "administrator"),
    execute("admin", "flag", ["2"], 403, "churned companies cannot be flagged"),
    # related-data contexts: the child and the parent collection must both be readable
    execute("support", "tally", ["3", "6"], 200, collection="transactions", name="in-parent",
            count=2, **EMITTED),
    execute("support", "tally", [], 200, collection="transactions", name="all-in-parent",
            count=20, all_records=True, **EMITTED),
    execute("viewer", "tally", ["3"], 403, NOT_READ, "'transactions'",
            collection="transactions", name="in-parent", **EMITTED),
    execute("auditor", "tally", ["3"], 200, collection="transactions", count=1),
    execute("auditor", "tally", ["3"], 403, NOT_READ, "'companies'", collection="transactions",
            name="in-unreadable-parent", **EMITTED),
    # a form value naming a record: the referenced collection must be readable too
    execute("support", "reassign", ["3"], 200, collection="transactions", count=1,
            values={"company": "2"}),
    execute("auditor", "reassign", ["3"], 403, NOT_READ, "'companies'",
            collection="transactions", name="to-unreadable-reference",
            values={"company": "2"}),
    # the built-in record actions (transaction i: amount i * 10.50, emitted by company
    # 1 + i % 3), governed like any action: forms first, then executions
    form("support", "edit", ["8"], 200, collection="transactions"),
    form("support", "create", [], 200, collection="transactions", name="new"),
    form("support", "delete", ["5"], 404, "rule: hidden", "'support'",
         collection="transactions"),
    form("support", "bulk-edit", ["5"], 404, "hidden by default", "'support'",
         collection="transactions"),
    form("viewer", "edit", ["8"], 403, NOT_READ, "'transactions'", collection="transactions"),
    execute("support", "edit", ["8"], 200, collection="transactions", name="small",
            values={"amount": "90.00", "_original": {"amount": "84.00"}}),
    execute("support", "edit", ["8"], 403, "needs approval", "form values",
            collection="transactions", name="big",
            values={"amount": "5000.00", "_original": {"amount": "90.00"}}),
    execute("admin", "edit", ["8"], 200, collection="transactions", name="big",
            values={"amount": "5000.00", "_original": {"amount": "90.00"}}),
    execute("viewer", "edit", ["8"], 403, NOT_READ, "'transactions'",
            collection="transactions"),
    execute("support", "create", [], 200, collection="transactions", name="new",
            values={"emitter_company_id": "2", "beneficiary_company_id": "10",
                    "amount": "1.00"}),
    # a reference to a collection the caller may not read: refused as for declared actions
    execute("auditor", "create", [], 403, NOT_READ, "'companies'", collection="transactions",
            name="to-unreadable-reference",
            values={"emitter_company_id": "2", "beneficiary_company_id": "10",
                    "amount": "1.00"}),
    execute("support", "bulk-edit", ["11", "14"], 404, "hidden by default", "'support'",
            collection="transactions", values={"_field": "amount", "amount": "7.00"}),
    execute("admin", "bulk-edit", ["11", "14"], 200, collection="transactions",
            values={"_field": "amount", "amount": "7.00"}),
    execute("support", "delete", ["5"], 404, "rule: hidden", "'support'",
            collection="transactions"),
    execute("viewer", "delete", ["5"], 403, NOT_READ, "'transactions'",
            collection="transactions"),
    execute("auditor", "delete", ["5"], 403, "needs approval", "rule: approval", "'auditor'",
            collection="transactions"),
    execute("admin", "delete", ["5"], 200, collection="transactions"),
    # runs: one's own, or every run for admins
    get("runs", "support", "/runs", 200),
    get("runs", "admin", "/runs", 200, params={"status": "refused"}),
    get("runs-of-admin", "support", "/runs", 403, "only admins", params={"caller": EMAILS[
        "admin"]}),
    get("run-of-admin", "support", "/runs/{admin_run}", 403, "only admins"),
    get("run-file-of-admin", "support", "/runs/{admin_run}/file", 403, "only admins"),
    get("own-run", "support", "/runs/{support_run}", 200),
    get("run-of-support", "viewer", "/runs/{support_run}", 403, "only admins"),
    get("run-of-support", "admin", "/runs/{support_run}", 200),
    # settings and the audit: admins only
    get("settings-roles", "admin", "/settings/roles", 200),
    get("settings-roles", "support", "/settings/roles", 403, "'support'", "not an admin"),
    get("audit", "viewer", "/audit", 403, "'viewer'", "not an admin"),
    Case("promote-self-support", "support", "PUT", "/settings/roles/support", 403,
         ("not an admin",), body={"is_admin": True, "read_all": True}),
    Case("grant-self-viewer", "viewer", "PUT", "/settings/policies", 403, ("not an admin",),
         body={"role": "viewer", "collection": "companies", "action": "purge"}),
]

CASES = [pytest.param(c, id=c.name) for c in CASES]


def forbidden_events(matrix: Matrix, path: str, email: str, kind: str = "forbidden"
                     ) -> list[str]:
    """The reasons of the audited refusals (403s by default) of ``email`` on ``path``."""
    events = matrix.api("admin").get("/audit", params={"kind": kind, "limit": 1000}).json()
    return [e["reason"] for e in events["events"]
            if e["path"] == path and e["caller_email"] == email]


@pytest.mark.parametrize("case", CASES)
def test_matrix(matrix: Matrix, case: Case) -> None:
    path = case.path.format(**{f"{role}_run": run for role, run in matrix.runs.items()})
    email = EMAILS[case.role]
    is_execution = case.method == "POST" and "/actions/" in path and not path.endswith("/form")
    kind = {403: "forbidden", 404: "not_found"}.get(case.status)
    audited = [] if kind is None else forbidden_events(matrix, "/api" + path, email, kind)
    response = matrix.api(case.role).request(case.method, path, json=case.body,
                                             params=case.params)
    if kind is None:
        assert response.status_code == case.status, response.text
        if case.count is not None:
            result = json.loads(response.json()["success"])
            assert result == {"action": path.rsplit("/", 1)[1], "count": case.count,
                              "by": email}
        return
    body = refused(response, case.status)
    if case.status == 404:
        # Word for word the answer for an action that does not exist; no run to name.
        unknown = matrix.api(case.role).request(case.method, path.replace(
            "/actions/", "/actions/no-such-"), json=case.body)
        assert unknown.status_code == 404
        slug = path.split("/actions/", 1)[1].removesuffix("/form")
        collection = path.split("/")[2]
        assert unknown.json() == {"error": f"no action 'no-such-{slug}' on {collection}"}
        assert body == {"error": f"no action '{slug}' on {collection}"}
        assert "x-actiondesk-run-id" not in response.headers
        # The admins' audit keeps the real reason.
        now = forbidden_events(matrix, "/api" + path, email, kind)
        assert len(now) == len(audited) + 1
        assert all(phrase in now[0] for phrase in case.says), now[0]
        return
    for phrase in case.says:
        assert phrase in body["error"], body
    if is_execution and "detail" in body:
        run = matrix.api("admin").get(f"/runs/{body['detail']['run_id']}").json()
        assert run["status"] == "refused" and run["status_code"] == 403
        assert run["caller"]["email"] == email and run["message"] == body["error"]
        assert response.headers["x-actiondesk-run-id"] == run["id"]
    else:
        # Audited once, with who, where and why. (An execution on a collection the caller may
        # not read is refused before its action is looked up: no run names it.)
        now = forbidden_events(matrix, "/api" + path, email)
        assert len(now) == len(audited) + 1 and body["error"] in now


def test_the_built_in_actions_changed_only_what_was_allowed(matrix: Matrix) -> None:
    """After the matrix: each allowed record action wrote, each refused one wrote nothing;
    the thin record routes give the same answers as the actions they stand for."""
    admin, support = matrix.api("admin"), matrix.api("support")
    assert record(admin, "transactions", "8")["amount"] in ("5000.00", "5000", 5000)
    assert refused(admin.get("/collections/transactions/records/5"), 404)
    amounts = {record(admin, "transactions", i)["amount"] for i in ("11", "14")}
    assert {str(a).removesuffix(".00") for a in amounts} == {"7"}
    small = {"field": "amount", "operator": "equal", "value": 1}
    made = admin.get("/collections/transactions/records",
                     params={"filter": json.dumps(small)}).json()["records"]
    # support's; not the auditor's
    assert [str(m["values"]["emitter_company_id"]) for m in made] == ["2"]
    gone = support.delete("/collections/transactions/records/8")
    assert refused(gone, 404) == {"error": "no action 'delete' on transactions"}
    big = support.patch("/collections/transactions/records/8", json={
        "values": {"amount": "9000.00"}, "original": {"amount": "5000.00"}})
    # As the action answers: it needs an approval, and here no role may approve it.
    assert "needs approval" in refused(big, 403)["error"]
    assert record(admin, "transactions", "8")["amount"] in ("5000.00", "5000", 5000)
    unread = matrix.api("viewer").patch("/collections/transactions/records/8", json={
        "values": {"amount": "1.00"}, "original": {"amount": "5000.00"}})
    assert NOT_READ in refused(unread, 403)["error"]


# -- what is listed ------------------------------------------------------------------------


def listed(matrix: Matrix, role: str, collection: str = "companies",
           ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    response = matrix.api(role).get(f"/collections/{collection}/actions",
                                    params={"ids": ids or []})
    assert response.status_code == 200, response.text
    return {a["slug"]: a for a in response.json()["actions"]}


def test_collections_are_listed_by_read_access(matrix: Matrix) -> None:
    expected = {
        "admin": {"companies", "transactions", "orders", "order_lines"},
        "support": {"companies", "transactions"},
        "viewer": {"companies"},
        "auditor": {"transactions"},
    }
    for role, names in expected.items():
        collections = matrix.api(role).get("/collections").json()["collections"]
        assert {c["name"] for c in collections} == names, role


def test_only_visible_actions_are_listed(matrix: Matrix) -> None:
    # retired is switched off for everyone, admins included.
    assert set(listed(matrix, "admin")) == {
        "touch", "refund", "charge", "purge", "export", "flag"}
    # support: trigger and approval rules are listed; hidden and no-policy actions are not.
    assert set(listed(matrix, "support")) == {"touch", "refund", "charge", "flag"}
    assert listed(matrix, "viewer") == {}
    # The built-in record actions too: hidden unless a policy lets the role see them.
    assert set(listed(matrix, "admin", "transactions")) == {
        "tally", "reassign", "edit", "bulk-edit", "create", "delete"}
    assert set(listed(matrix, "support", "transactions")) == {
        "tally", "reassign", "edit", "create"}
    assert set(listed(matrix, "auditor", "transactions")) == {
        "tally", "reassign", "create", "delete"}


def test_the_actions_list_tells_each_rule(matrix: Matrix) -> None:
    rules = {slug: a.get("rule") for slug, a in listed(matrix, "support").items()}
    assert rules == {"touch": "trigger", "refund": "approval", "charge": "approval",
                     "flag": "trigger"}
    assert {a.get("rule") for a in listed(matrix, "admin").values()} == {"trigger"}


def test_enabled_state_ands_the_code_and_admin_conditions(matrix: Matrix) -> None:
    live_active = listed(matrix, "support", ids=["4"])["flag"]
    assert live_active["enabled"] is True and live_active["disabled_reason"] is None
    churned = listed(matrix, "support", ids=["2"])["flag"]
    assert churned["enabled"] is False
    assert churned["disabled_reason"] == "churned companies cannot be flagged"
    inactive = listed(matrix, "support", ids=["3"])["flag"]
    assert inactive["enabled"] is False and "administrator" in inactive["disabled_reason"]
    # The admin's condition binds admins too.
    assert listed(matrix, "admin", ids=["3"])["flag"]["enabled"] is False
    # Approval is not "disabled": the selection may still be submitted (for approval).
    mixed = listed(matrix, "support", ids=["1", "12"])
    assert mixed["refund"]["enabled"] is True and mixed["touch"]["enabled"] is True


def test_refused_runs_are_listed_for_admins_and_own_for_others(matrix: Matrix) -> None:
    with matrix.client("support") as support:
        body = refused(support.post("/collections/companies/actions/flag",
                                    json=jsonapi(["2"])), 403)
        own = support.get("/runs", params={"status": "refused", "page_size": 200}).json()
    assert body["detail"]["run_id"] in {r["id"] for r in own["runs"]}
    assert {r["caller"]["email"] for r in own["runs"]} == {EMAILS["support"]}
    with matrix.client("admin") as admin:
        every = admin.get("/runs", params={"status": "refused", "page_size": 200}).json()
    assert {r["status"] for r in every["runs"]} == {"refused"}
    assert body["detail"]["run_id"] in {r["id"] for r in every["runs"]}
    assert len({r["caller"]["email"] for r in every["runs"]}) > 1


# -- a change made through one server, enforced by another -----------------------------------


def test_a_change_through_one_server_is_enforced_by_another_at_its_next_request(
    matrix: Matrix,
) -> None:
    other = make_desk(matrix.url, matrix.url)  # another process on the same state database
    export = "/collections/companies/actions/export"
    with live_server(other) as base_b, matrix.client("admin") as a, matrix.client(
        "support", base_b
    ) as b:
        # B has its permissions cached.
        refused(b.get("/collections/orders/records"), 403)
        refused(b.post(export, json=jsonapi(["1"])), 404)
        assert b.post("/collections/companies/actions/touch",
                      json=jsonapi(["1"])).status_code == 200
        try:
            changed = a.put("/settings/roles/support", json={
                "readable": ["companies", "transactions", "orders"]})
            assert changed.status_code == 200, changed.text
            assert b.get("/collections/orders/records").status_code == 200

            granted = a.put("/settings/policies", json={
                "role": "support", "collection": "companies", "action": "export"})
            assert granted.status_code == 200, granted.text
            assert b.post(export, json=jsonapi(["1"])).status_code == 200
            assert "export" in listed(matrix, "support")

            hidden = a.put("/settings/policies", json={
                "role": "support", "collection": "companies", "action": "export",
                "rule": "hidden"})
            assert hidden.status_code == 200, hidden.text
            refused(b.post(export, json=jsonapi(["1"])), 404)
            why = forbidden_events(matrix, "/api" + export, EMAILS["support"], "not_found")
            assert "rule: hidden" in why[0]

            off = a.put("/settings/actions", json={
                "collection": "companies", "action": "touch", "visible": False})
            assert off.status_code == 200, off.text
            refused(b.post("/collections/companies/actions/touch", json=jsonapi(["1"])), 404)
            why = forbidden_events(matrix, "/api/collections/companies/actions/touch",
                                   EMAILS["support"], "not_found")
            assert "switched off" in why[0]
        finally:
            assert a.put("/settings/roles/support", json={
                "readable": ["companies", "transactions"]}).status_code == 200
            a.delete("/settings/policies", params={
                "role": "support", "collection": "companies", "action": "export"})
            a.delete("/settings/actions", params={"collection": "companies",
                                                  "action": "touch"})
        refused(b.get("/collections/orders/records"), 403)
        refused(b.post(export, json=jsonapi(["1"])), 404)
        assert b.post("/collections/companies/actions/touch",
                      json=jsonapi(["1"])).status_code == 200


def test_the_action_list_says_when_an_approval_rule_applies(matrix: Matrix) -> None:
    """The menu's approval tag: a condition on the records is checked against the selection
    (any selected record), one on the form values is only described (it depends on the form)."""
    api = matrix.api("support")

    def listed(ids: list[str] | None = None, body: Any = None) -> dict[str, Any]:
        if body is not None:
            answer = api.post("/collections/companies/actions", json=body)
        else:
            answer = api.get("/collections/companies/actions", params={"ids": ids or []})
        assert answer.status_code == 200, answer.text
        return {a["slug"]: a for a in answer.json()["actions"]}

    small, big, both, nothing = listed(["2"]), listed(["12"]), listed(["2", "12"]), listed()
    assert small["refund"]["approval_condition"] == "only when capital is greater than 10,000"
    assert (small["refund"]["approval_applies"], big["refund"]["approval_applies"],
            both["refund"]["approval_applies"]) == (False, True, True)
    assert nothing["refund"]["approval_applies"] is None  # nothing selected yet
    few = {"field": "capital", "operator": "less_than", "value": 5000}
    everything_small = listed(body=jsonapi([], all_records=True, all_records_subset_query={
        "filters": json.dumps(few)}))
    assert everything_small["refund"]["approval_applies"] is False
    for actions in (small, big):
        assert actions["charge"]["approval_condition"] == "only when amount is greater than 1,000"
        assert actions["charge"]["approval_applies"] is None  # the form decides
        assert actions["touch"]["rule"] == "trigger"
        assert actions["touch"]["approval_applies"] is None
        assert actions["touch"]["approval_condition"] is None
