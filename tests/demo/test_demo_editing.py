"""The demo switches editing on: what each demo role may edit, create and delete, over HTTP
as a client of `actiondesk demo` would (the policies are the demo's own, demo/access.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from actiondesk import Desk
from actiondesk.demo.access import DEMO_LOGINS, seed_demo_access
from actiondesk.demo.app import create_demo_desk
from actiondesk.demo.seed import seed_demo
from tests.live_server import live_server
from tests.support import record


async def _tokens(desk: Desk) -> dict[str, str]:
    await desk.start()
    try:
        assert await seed_demo_access(desk)
        return {login.role: desk.tokens.access(await desk.users.require(login.email),
                                               dt.timedelta(hours=1))
                for login in DEMO_LOGINS}
    finally:
        await desk.stop()


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Client]]:
    path = tmp_path_factory.mktemp("demo-editing") / "demo.db"
    asyncio.run(seed_demo(f"sqlite+aiosqlite:///{path}"))
    desk = create_demo_desk(path, secret_key="demo-editing-secret")
    tokens = asyncio.run(_tokens(desk))
    with live_server(desk) as base:
        made = {role: httpx.Client(base_url=base + "/api", timeout=60,
                                   headers={"Authorization": f"Bearer {token}"})
                for role, token in tokens.items()}
        try:
            yield made
        finally:
            for client in made.values():
                client.close()


def _small_transaction(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/collections/transactions/records", params={
        "filter": '{"field": "amount", "operator": "less_than", "value": 1000}',
        "page_size": 1})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["records"][0]
    assert Decimal(str(found["values"]["amount"])) < 1000
    return found


def test_support_edits_a_customer_but_not_its_stripe_id(clients: dict[str, httpx.Client]
                                                          ) -> None:
    support = clients["support"]
    before = record(support, "customers", "1")
    edited = support.patch("/collections/customers/records/1", json={
        "values": {"firstname": "Ada"}, "original": {"firstname": before["firstname"]}})
    assert edited.status_code == 200, edited.text
    assert record(support, "customers", "1")["firstname"] == "Ada"
    stripe = support.patch("/collections/customers/records/1", json={
        "values": {"stripe_id": "cus_mine"}, "original": {"stripe_id": before["stripe_id"]}})
    assert 400 <= stripe.status_code < 500 and "stripe_id" in stripe.text, stripe.text
    assert record(support, "customers", "1")["stripe_id"] == before["stripe_id"]


def test_support_edits_a_big_transaction_amount_only_with_approval(
        clients: dict[str, httpx.Client]) -> None:
    support = clients["support"]
    small = _small_transaction(support)
    path = f"/collections/transactions/records/{small['id']}"
    original = {"amount": record(support, "transactions", small["id"])["amount"]}
    # Under 1,000 it is applied at once; over it, it waits for an approver.
    done = support.patch(path, json={"values": {"amount": "999.00"}, "original": original})
    assert done.status_code == 200, done.text
    original = {"amount": "999.00"}
    waiting = support.patch(path, json={"values": {"amount": "5000.00"}, "original": original})
    assert waiting.status_code == 202, waiting.text
    assert Decimal(str(record(support, "transactions", small["id"])["amount"])) == Decimal(
        "999.00")
    # The manager approves it, and only then is the amount changed.
    request_id = waiting.json()["approval"]["id"]
    approved = clients["manager"].post(f"/approvals/{request_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    assert Decimal(str(record(support, "transactions", small["id"])["amount"])) == Decimal(
        "5000.00")


def test_support_creates_transactions_only_with_approval_and_never_deletes(
        clients: dict[str, httpx.Client]) -> None:
    support = clients["support"]
    values = {"emitter_company_id": "1", "beneficiary_company_id": "2", "amount": "10.00",
              "emitter_iban": "FR7630006000011234567890189",
              "beneficiary_iban": "FR7630006000011234567890190", "emitter_bic": "AGRIFRPP",
              "beneficiary_bic": "BNPAFRPP", "vat_amount": "2.00", "fee_amount": "0.10",
              "reference": "DEMO-NEW-1"}
    created = support.post("/collections/transactions/records", json={"values": values})
    assert created.status_code == 202, created.text
    for collection in ("companies", "customers", "transactions"):
        gone = support.delete(f"/collections/{collection}/records/1")
        assert gone.status_code == 404, gone.text
        assert record(support, collection, "1")["id"] in (1, "1")
    listed = {a["slug"] for a in support.get("/collections/customers/actions")
              .json()["actions"]}
    assert "edit" in listed and not {"delete", "create", "bulk-edit"} & listed


def test_admin_creates_a_customer_with_a_generated_stripe_id(clients: dict[str, httpx.Client]
                                                              ) -> None:
    admin = clients["admin"]
    created = admin.post("/collections/customers/records", json={"values": {
        "firstname": "Grace", "lastname": "Hopper", "email": "grace@demo.example",
        "company_id": "1"}})
    assert created.status_code == 200, created.text
    new = record(admin, "customers", str(created.json()["record"]["id"]))
    assert new["stripe_id"].startswith("cus_") and new["created_at"]
    # A company others refer to is not deleted: 409, naming who refers to it.
    refused = admin.delete("/collections/companies/records/1")
    assert refused.status_code == 409, refused.text
    assert "refer to" in refused.json()["error"]
