"""An ``enabled_if`` filter without ``disabled_reason`` tells operators why an action is
disabled in a sentence (``Only when status is "pending"``), never as raw filter JSON."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from actiondesk import ActionContext, Desk, Success
from actiondesk.actions.condition_text import condition_sentence, field_words
from actiondesk.data.filters import Condition, Filter, all_of, any_of
from actiondesk.data.schema import Collection, field_from_column
from actiondesk.permissions.service import Policy
from tests.auth_support import client, provision, token_for
from tests.live_server import live_server
from tests.sample_schema import companies, metadata
from tests.support import jsonapi


@pytest.mark.parametrize(("condition", "sentence"), [
    (Condition("status", "equal", "to_validate"), 'Only when status is "to_validate"'),
    (all_of(Condition("amount", "greater_than", 1000), Condition("status", "not_equal", "live")),
     'Only when amount is greater than 1,000 and status is not "live"'),
    (all_of(Condition("active", "equal", True),
            any_of(Condition("status", "in", ["pending", "live"]),
                   Condition("founded", "before", dt.date(2020, 1, 31)))),
     'Only when active is true and (status is one of "pending" or "live" or founded is '
     'before 2020-01-31)'),
    # The README's example.
    (all_of(Condition("amount", "greater_than", 1000),
            any_of(Condition("status", "equal", "pending"),
                   Condition("status", "equal", "to_validate"))),
     'Only when amount is greater than 1,000 and (status is "pending" or status is '
     '"to_validate")'),
    (any_of(Condition("note", "is_null")), "Only when note is empty"),
    (Condition("closed_at", "present"), "Only when closed at is not empty"),
    (Condition("SupportRepId", "not_in", [1, 2, 3]), "Only when support rep id is not one of "
     "1, 2 or 3"),
    (Condition("IBAN", "starts_with", "FR"), 'Only when IBAN starts with "FR"'),
    (Condition("balance", "greater_than_or_equal", decimal.Decimal("12500.5")),
     "Only when balance is at least 12,500.5"),
    (Condition("name", "contains", 'say "hi"'), r'Only when name contains "say \"hi\""'),
    (Condition("opens_at", "after", dt.time(9, 30)), "Only when opens at is after 09:30:00"),
    (Condition("created_at", "less_than", dt.datetime(2026, 1, 31, 9, 30)),
     "Only when created at is less than 2026-01-31 09:30:00"),
    (Condition("parent_id", "equal", None), "Only when parent id is empty"),
])
def test_a_condition_reads_as_a_sentence(condition: Filter, sentence: str) -> None:
    assert condition_sentence(condition) == sentence


def test_the_collection_types_values_given_as_text() -> None:
    collection = Collection("companies", companies,
                            {c.name: field_from_column(c) for c in companies.columns},
                            ("id",), {})
    condition = all_of(Condition("capital", "greater_than", "1000"),
                       Condition("name", "equal", "1000"))
    assert condition_sentence(condition, collection) == (
        'Only when capital is greater than 1,000 and name is "1000"')


@pytest.mark.parametrize(("name", "words"), [
    ("status", "status"), ("emitter_company_id", "emitter company id"),
    ("SupportRepId", "support rep id"), ("IBAN", "IBAN"), ("_x_", "x"),
])
def test_field_names_become_words(name: str, words: str) -> None:
    assert field_words(name) == words


# -- over HTTP, on each database ---------------------------------------------------------------

SLUGS = ("validate", "grow", "review")


@pytest.fixture(scope="module")
def api(sample_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    state = tmp_path_factory.mktemp("condition-text") / "state.db"
    desk = Desk(database_url=sample_db, state_url=f"sqlite:///{state}", secret_key="k",
                models=[metadata])

    async def done(ctx: ActionContext) -> Success:
        return Success("done")

    desk.action("companies", name="Validate",
                enabled_if=Condition("status", "equal", "pending"))(done)
    desk.action("companies", name="Grow", scope="bulk", enabled_if=all_of(
        Condition("capital", "greater_than", "1000"), Condition("status", "not_equal", "live"),
    ))(done)
    desk.action("companies", name="Review", enabled_if=all_of(
        Condition("active", "equal", True),
        any_of(Condition("status", "equal", "pending"), Condition("rating", "less_than", 0.5)),
    ))(done)
    token = token_for(desk)
    provision(desk, policies=[Policy("admin", "companies", slug) for slug in SLUGS])
    with live_server(desk) as base, client(base + "/api", token) as api_client:
        yield api_client


def reasons(api: httpx.Client, *ids: str) -> dict[str, Any]:
    response = api.get("/collections/companies/actions", params={"ids": list(ids)})
    assert response.status_code == 200, response.text
    return {a["slug"]: a["disabled_reason"] for a in response.json()["actions"]
            if a["slug"] in SLUGS and not a["enabled"]}


def test_the_actions_list_says_why_in_a_sentence(api: httpx.Client) -> None:
    # The sample companies (tests/sample_schema.py): 1 is live, inactive, capital 1,000.25;
    # 2 is churned, active, capital 2,000.25.
    one = reasons(api, "1")
    assert one["validate"] == 'Only when status is "pending"'
    assert one["review"] == ('Only when active is true and (status is "pending" or rating is '
                             "less than 0.5)")
    assert reasons(api, "1", "2")["grow"] == (
        '1 of the 2 selected records: Only when capital is greater than 1,000 and status is '
        'not "live"')


def test_the_refusal_of_an_execution_says_the_same(api: httpx.Client) -> None:
    response = api.post("/collections/companies/actions/validate", json=jsonapi(["1"]))
    assert response.status_code == 403, response.text
    assert 'Only when status is "pending"' in response.json()["error"]
