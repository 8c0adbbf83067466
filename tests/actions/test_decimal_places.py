"""Decimal form fields hold no more than their column: ``places`` / ``max_digits`` (derived
from ``NUMERIC(p, s)`` by ``fields.from_column``) refuse extra decimal places and too many
integer digits with a 422 on the field, before anything is written — on every database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import ActionContext, ConfigurationError, Desk, Success
from actiondesk import fields as f
from tests.actions_app import state_url_in
from tests.conftest import admin_api, served
from tests.databases import BACKENDS, create_tables, scratch_database
from tests.support import execute, jsonapi, record, refused

metadata = sa.MetaData()
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("holder", sa.String(40), nullable=False),
    sa.Column("balance", sa.Numeric(12, 2), nullable=False),
    sa.Column("fee", sa.Numeric(5, 3), nullable=True),
)


def build_desk(url: str, state_url: str) -> Desk:
    # The collection is reflected; the form is derived from the application's own Table.
    desk = Desk(database_url=url, state_url=state_url, secret_key="k", dev_mode=True)

    @desk.action("accounts", name="Set balance", form=[
        f.from_column(accounts.c.balance),
        f.Decimal("fee", places=3, max_digits=5),
    ])
    async def set_balance(ctx: ActionContext) -> Success:
        assert ctx.selection is not None and ctx.collection is not None
        async with ctx.async_db.begin() as conn:
            await conn.execute(ctx.collection.table.update().where(ctx.selection.where).values(
                balance=ctx.values["balance"], fee=ctx.values["fee"]))
        return Success("set")

    return desk


@pytest.fixture(scope="module", params=BACKENDS)
def accounts_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("decimal-" + request.param)
    with scratch_database(request.param, tmp) as url:
        create_tables(url, metadata, {accounts: [
            {"id": i, "holder": f"holder {i}", "balance": "100.00", "fee": None}
            for i in (1, 2, 3)
        ]})
        with served(build_desk(url, state_url_in(tmp))) as base, admin_api(base) as api:
            yield api


def set_balance(api: httpx.Client, record_id: str, **values: Any) -> httpx.Response:
    return execute(api, "set-balance", jsonapi([record_id], values), collection="accounts")


def test_a_value_that_fits_the_column_is_written(accounts_api: httpx.Client) -> None:
    response = set_balance(accounts_api, "1", balance="9999999999.99", fee="-12.5")
    assert response.status_code == 200, response.text
    stored = record(accounts_api, "accounts", "1")
    assert (stored["balance"], stored["fee"]) == ("9999999999.99", "-12.500")
    # Trailing zeros are not places: 12.340 is 12.34.
    assert set_balance(accounts_api, "1", balance="12.340").status_code == 200
    assert record(accounts_api, "accounts", "1")["balance"] == "12.34"


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"balance": "12.345"}, "balance", "must have at most 2 decimal places"),
    ({"balance": 12.345}, "balance", "must have at most 2 decimal places"),
    ({"balance": "0.001"}, "balance", "must have at most 2 decimal places"),
    ({"balance": "12345678901"}, "balance",
     "must have at most 10 digits before the decimal point"),
    ({"balance": "1E+10"}, "balance", "must have at most 10 digits before the decimal point"),
    ({"balance": "1", "fee": "0.0001"}, "fee", "must have at most 3 decimal places"),
    ({"balance": "1", "fee": "100"}, "fee", "must have at most 2 digits before the decimal point"),
])
def test_too_many_places_or_digits_is_a_422_on_the_field_and_nothing_is_written(
    accounts_api: httpx.Client, values: dict[str, Any], field: str, message: str
) -> None:
    before = record(accounts_api, "accounts", "2")
    body = refused(set_balance(accounts_api, "2", **values), 422)
    assert body["fields"] == {field: message}
    assert record(accounts_api, "accounts", "2") == before
    # The refusal is audited as a run that did nothing.
    audit = accounts_api.get(f"/runs/{body['detail']['run_id']}").json()
    assert audit["status"] == "refused"


def test_the_form_tells_clients_the_bounds(accounts_api: httpx.Client) -> None:
    response = accounts_api.post("/collections/accounts/actions/set-balance/form",
                                 json=jsonapi(["3"]))
    assert response.status_code == 200, response.text
    fields = {x["name"]: x for x in response.json()["fields"]}
    assert fields["balance"]["required"] is True
    assert fields["balance"]["constraints"] == {"places": 2, "max_digits": 12}
    assert fields["fee"]["required"] is False
    assert fields["fee"]["constraints"] == {"places": 3, "max_digits": 5}


def test_from_column_takes_what_the_column_holds() -> None:
    balance = f.from_column(accounts.c.balance)
    assert (balance.name, balance.type, balance.places, balance.max_digits) == (
        "balance", f.FormFieldType.DECIMAL, 2, 12)
    assert balance.required is True
    holder = f.from_column(accounts.c.holder, "owner", label="Owner", required=False)
    assert (holder.name, holder.type, holder.max_length, holder.label, holder.required) == (
        "owner", f.FormFieldType.STRING, 40, "Owner", False)
    fee = f.from_column(accounts.c.fee, places=2)
    assert (fee.places, fee.max_digits, fee.required) == (2, 5, False)
    unbounded = f.from_column(sa.Column("x", sa.Numeric()))
    assert (unbounded.places, unbounded.max_digits) == (None, None)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: f.Decimal("x", places=-1), "places must be a whole number of at least 0"),
    (lambda: f.Decimal("x", max_digits=0), "max_digits must be a whole number of at least 1"),
    (lambda: f.Decimal("x", places="2"), "places must be a whole number"),
    (lambda: f.Decimal("x", places=4, max_digits=3), "places (4) cannot exceed max_digits (3)"),
    (lambda: f.Number("x", places=2), "places= and max_digits= are only for decimal fields"),
    (lambda: f.from_column(sa.Column("blob", sa.LargeBinary)), "declare the field yourself"),
])
def test_bad_bounds_fail_at_declaration(build: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        build()
    assert message in str(raised.value)
