"""The demo's Account transfer acts on the selected account, on every backend: the source is
the selection (what permissions and ``enabled_if`` are checked on), only the target is a form
value, and a form value naming another source is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import Desk
from actiondesk.data.urls import to_async_url, to_sync_url
from actiondesk.demo.actions import register_demo_actions
from actiondesk.demo.models import Account, DemoBase
from actiondesk.demo.seed import seed_demo
from actiondesk.permissions.service import Policy
from tests.conftest import admin_api, served
from tests.databases import BACKENDS, scratch_database
from tests.support import execute, jsonapi

ACCOUNTS = cast(sa.Table, Account.__table__)


@pytest.fixture(scope="module", params=BACKENDS)
def demo_db(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("transfer-" + request.param)
    with scratch_database(request.param, directory) as url:
        asyncio.run(seed_demo(to_async_url(url).render_as_string(hide_password=False)))
        yield url


@pytest.fixture(scope="module")
def api(demo_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    state = tmp_path_factory.mktemp("transfer-state") / "state.db"

    def make_desk() -> Desk:
        desk = Desk(database_url=demo_db, state_url=f"sqlite:///{state}",
                    secret_key="test-secret-transfer", models=[DemoBase])
        register_demo_actions(desk)
        return desk

    async def grant() -> None:
        # Its own desk: the served one's engines belong to the server's event loop.
        granting = make_desk()
        await granting.start()
        try:
            await granting.permissions.put_policy(
                Policy("admin", "accounts", "account-transfer", "trigger"))
        finally:
            await granting.stop()

    with served(make_desk()) as base, admin_api(base) as client:
        asyncio.run(grant())  # once served: serving creates the admin role
        yield client


def read(url: str, query: sa.Select[Any]) -> list[Any]:
    engine = sa.create_engine(to_sync_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).all())
    finally:
        engine.dispose()


def balances(url: str, *ids: int) -> list[Decimal]:
    found = dict(read(url, sa.select(ACCOUNTS.c.id, ACCOUNTS.c.balance)
                      .where(ACCOUNTS.c.id.in_(ids))))
    return [Decimal(found[i]) for i in ids]


def three_eur_accounts(url: str) -> list[int]:
    return [row.id for row in read(url, sa.select(ACCOUNTS.c.id).where(
        ACCOUNTS.c.currency == "EUR", ACCOUNTS.c.balance > 1000).order_by(ACCOUNTS.c.id)
        .limit(3))]


def transfer(api: httpx.Client, selected: int, values: dict[str, Any]) -> httpx.Response:
    return execute(api, "account-transfer",
                   jsonapi([str(selected)], values, collection_name="accounts"), "accounts")


def test_the_form_chooses_only_the_target(api: httpx.Client) -> None:
    response = api.post("/collections/accounts/actions/account-transfer/form",
                        json=jsonapi(["8"], {}, collection_name="accounts"))
    assert response.status_code == 200, response.text
    names = [f["name"] for f in response.json()["fields"]]
    assert names == ["to_account", "amount", "comment", "date"]


def test_the_selected_account_is_debited(api: httpx.Client, demo_db: str) -> None:
    selected, target, bystander = three_eur_accounts(demo_db)
    before = balances(demo_db, selected, target, bystander)
    response = transfer(api, selected, {"to_account": str(target), "amount": "12.50"})
    assert response.status_code == 200, response.text
    assert f"#{selected}" in response.json()["success"]
    assert balances(demo_db, selected, target, bystander) == [
        before[0] - Decimal("12.50"), before[1] + Decimal("12.50"), before[2]]


def test_a_form_value_naming_another_source_is_refused(
    api: httpx.Client, demo_db: str
) -> None:
    selected, target, other = three_eur_accounts(demo_db)
    before = balances(demo_db, selected, target, other)
    response = transfer(api, selected, {"from_account": str(other),
                                        "to_account": str(target), "amount": "5"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) >= {"error", "fields"}
    assert "from_account" in body["fields"]
    assert balances(demo_db, selected, target, other) == before
