"""Bad input found by the fuzzer (bench/fuzz_api.py) and the property tests, each once a
500 or an answer outside the documented schema: now a clear 4xx naming what is wrong, on
every backend."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support import jsonapi, refused

HUGE = "9223372036854775808"  # 2**63: no database's integer column holds it


@pytest.mark.parametrize("number", [HUGE, "-9223372036854775809", "9" * 40])
def test_integers_beyond_64_bits(api: httpx.Client, number: str) -> None:
    # A search text may be an id; one too large for the column matches no id.
    found = api.get("/collections/companies/records", params={"search": number})
    assert found.status_code == 200, found.text
    assert found.json()["count"] == 0
    refused(api.get(f"/collections/companies/records/{number}"), 404)
    condition = {"field": "id", "operator": "equal", "value": number}
    body = refused(api.get("/collections/companies/records",
                           params={"filter": json.dumps(condition)}), 400)
    assert "id" in body["fields"]


@pytest.mark.parametrize("text", ["+-5", "²", "-+1", "1_000"])
def test_integers_that_python_reads_but_are_not_whole_numbers(api: httpx.Client,
                                                               text: str) -> None:
    condition = {"field": "id", "operator": "equal", "value": text}
    body = refused(api.get("/collections/companies/records",
                           params={"filter": json.dumps(condition)}), 400)
    assert body["fields"]["id"] == "is not a whole number"
    refused(api.get(f"/collections/companies/records/{text}"), 404)


def test_nul_characters_in_filters_and_search(api: httpx.Client) -> None:
    condition = {"field": "name", "operator": "contains", "value": "a\x00b"}
    body = refused(api.get("/collections/companies/records",
                           params={"filter": json.dumps(condition)}), 400)
    assert "NUL" in body["fields"]["name"]
    refused(api.get("/collections/companies/records", params={"search": "x\x00"}), 400)
    refused(api.get("/collections/orders/records/a%00b"), 404)


def test_huge_ids_in_an_action_selection(actions_api: httpx.Client) -> None:
    response = actions_api.post("/collections/companies/actions/nothing", json=jsonapi([HUGE]))
    refused(response, 404)
