"""The records JSON API through a real HTTP server, on every database backend."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support import refused


def flt(**condition: Any) -> str:
    return json.dumps(condition)


def records(api: httpx.Client, collection: str = "companies", **params: Any) -> dict[str, Any]:
    response = api.get(f"/collections/{collection}/records", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["records"]]


def test_collections_list_schema_and_relationships(api: httpx.Client) -> None:
    body = api.get("/collections").json()
    by_name = {c["name"]: c for c in body["collections"]}
    assert set(by_name) == {"companies", "transactions", "orders", "order_lines"}
    companies = by_name["companies"]
    types = {f["name"]: f["type"] for f in companies["fields"]}
    assert types == {
        "id": "integer", "name": "string", "status": "enum", "note": "text",
        "rating": "number", "capital": "decimal", "active": "boolean", "founded": "date",
        "opens_at": "time", "created_at": "datetime", "meta": "json",
    }
    status = next(f for f in companies["fields"] if f["name"] == "status")
    assert status["enum_values"] == ["pending", "live", "churned"]
    assert companies["primary_key"] == ["id"]
    rels = {r["name"]: r for r in companies["relationships"]}
    assert rels["emitter_company_transactions"] == {
        "name": "emitter_company_transactions", "kind": "one_to_many", "target": "transactions",
        "fields": ["id"], "target_fields": ["emitter_company_id"],
    }
    assert "beneficiary_company_transactions" in rels and "orders" in rels
    tx_rels = {r["name"]: r["kind"] for r in by_name["transactions"]["relationships"]}
    assert tx_rels == {"emitter_company": "many_to_one", "beneficiary_company": "many_to_one"}
    assert by_name["order_lines"]["primary_key"] == ["order_code", "line_no"]


def test_one_collection_schema_and_unknown(api: httpx.Client) -> None:
    assert api.get("/collections/orders").json()["primary_key"] == ["code"]
    refused(api.get("/collections/audit_log"), 404)
    refused(api.get("/collections/nope/records"), 404)


def test_list_pages_with_count_in_primary_key_order(api: httpx.Client) -> None:
    first = records(api)
    assert first["count"] == 30 and first["page"] == 1 and first["page_size"] == 25
    assert ids(first) == [str(i) for i in range(1, 26)]
    second = records(api, page=2)
    assert ids(second) == [str(i) for i in range(26, 31)] and second["count"] == 30
    assert records(api, page=9)["records"] == []


def test_values_are_json_friendly(api: httpx.Client) -> None:
    record = records(api, page_size=1, filter=flt(field="id", operator="equal", value=6))
    values = record["records"][0]["values"]
    assert values["capital"] == "6000.25"
    assert values["active"] is True
    assert values["founded"] is None
    assert values["opens_at"] == "10:30:00"
    assert values["created_at"] == "2025-12-26T12:00:00"
    assert values["meta"] == {"i": 6}
    assert values["status"] == "pending"


def test_huge_page_size_is_capped(api: httpx.Client) -> None:
    body = records(api, page_size=10**9)
    assert body["page_size"] == 200 and len(body["records"]) == 30


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "abc"}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"sort": "nope"}, "sort"),
        ({"sort": "meta"}, "sort"),
        ({"filter": "{not json"}, "filter"),
        ({"filter": "[1, 2]"}, None),
        ({"filter": flt(field="nope", operator="equal", value=1)}, "nope"),
        ({"filter": flt(field="capital", operator="contains", value="1")}, "capital"),
        ({"filter": flt(field="capital", operator="equal", value="abc")}, "capital"),
        ({"filter": flt(field="status", operator="equal", value="bankrupt")}, "status"),
        ({"filter": flt(field="name", operator="before", value="x")}, "name"),
        ({"filter": flt(field="id", operator="in", value=[])}, "id"),
        ({"filter": flt(field="id", operator="equal")}, "id"),
        ({"filter": flt(field="id", operator="like", value=1)}, "filter"),
        ({"filter": flt(field="created_at", operator="after", value="yesterday")}, "created_at"),
        ({"filter": json.dumps({"aggregator": "xor", "conditions": []})}, None),
        ({"search": "x" * 500}, "search"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_problem(
    api: httpx.Client, params: dict[str, Any], field: str | None
) -> None:
    response = api.get("/collections/companies/records", params=params)
    refused(response, 400, field)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "status", "operator": "equal", "value": "live"}, 10),
        ({"field": "status", "operator": "not_equal", "value": "live"}, 20),
        ({"field": "status", "operator": "in", "value": ["live", "churned"]}, 20),
        ({"field": "status", "operator": "not_in", "value": ["live"]}, 20),
        ({"field": "note", "operator": "is_null"}, 6),
        ({"field": "note", "operator": "present"}, 24),
        ({"field": "note", "operator": "not_equal", "value": "note 1"}, 29),
        ({"field": "rating", "operator": "greater_than", "value": 2.5}, 4),
        ({"field": "capital", "operator": "less_than_or_equal", "value": "3000.25"}, 3),
        ({"field": "capital", "operator": "greater_than_or_equal", "value": 29000}, 2),
        ({"field": "active", "operator": "equal", "value": True}, 15),
        ({"field": "active", "operator": "equal", "value": "false"}, 15),
        ({"field": "founded", "operator": "before", "value": "2005-01-01"}, 8),
        ({"field": "created_at", "operator": "after", "value": "2025-12-22T12:00:00"}, 9),
        ({"field": "created_at", "operator": "after", "value": "2025-12-22T13:00:00+01:00"}, 9),
        ({"field": "opens_at", "operator": "less_than", "value": "09:00"}, 7),
        ({"field": "name", "operator": "contains", "value": "%_"}, 1),
        ({"field": "name", "operator": "contains", "value": "company 1"}, 10),
        ({"field": "name", "operator": "starts_with", "value": "Company 2"}, 10),
        ({"field": "name", "operator": "ends_with", "value": "sure"}, 1),
        ({"field": "note", "operator": "not_contains", "value": "1"}, 20),
        ({"field": "status", "operator": "contains", "value": "iv"}, 10),
        ({"field": "meta", "operator": "is_not_null"}, 30),
    ],
)
def test_filter_operators(api: httpx.Client, condition: dict[str, Any], expected: int) -> None:
    assert records(api, filter=json.dumps(condition))["count"] == expected


def test_filters_combine_with_and_or(api: httpx.Client) -> None:
    nested = {
        "aggregator": "or",
        "conditions": [
            {"field": "id", "operator": "less_than", "value": 3},
            {
                "aggregator": "and",
                "conditions": [
                    {"field": "status", "operator": "equal", "value": "live"},
                    {"field": "active", "operator": "equal", "value": True},
                ],
            },
        ],
    }
    body = records(api, filter=json.dumps(nested), page_size=100)
    assert ids(body) == ["1", "2", "4", "10", "16", "22", "28"]
    assert body["count"] == 7


def test_search_is_case_insensitive_and_matches_the_id(api: httpx.Client) -> None:
    assert records(api, search="COMPANY 0")["count"] == 9
    assert ids(records(api, search="7")) == ["7", "17", "27"]
    combined = records(api, search="company 1", filter=flt(field="active", operator="equal",
                                                           value=True))
    assert combined["count"] == 5


def test_sql_looking_input_is_data(api: httpx.Client) -> None:
    for text in ("'; DROP TABLE companies; --", "\" OR 1=1 --", "%", "_"):
        assert records(api, search=text)["count"] == (1 if text in ("%", "_") else 0)
    sneaky = flt(field="name", operator="equal", value="x' OR '1'='1")
    assert records(api, filter=sneaky)["count"] == 0
    assert records(api)["count"] == 30


def test_sort(api: httpx.Client) -> None:
    assert ids(records(api, sort="-capital", page_size=3)) == ["30", "29", "28"]
    by_status = records(api, sort="status,-id", page_size=4)
    assert ids(by_status) == ["29", "26", "23", "20"]
    assert ids(records(api, sort="rating", page_size=2, page=1))[0] in {"4", "1"}


def test_get_one_record(api: httpx.Client) -> None:
    body = api.get("/collections/companies/records/5").json()
    assert body["id"] == "5" and body["values"]["name"] == "Company 05"
    assert body["values"]["capital"] == "5000.25"
    refused(api.get("/collections/companies/records/999"), 404)
    refused(api.get("/collections/companies/records/abc"), 404)
    refused(api.get("/collections/companies/records/1|2"), 404)


def test_composite_and_odd_ids_round_trip(api: httpx.Client) -> None:
    lines = records(api, "order_lines", filter=flt(field="line_no", operator="equal", value=2),
                    page_size=50)
    by_label = {r["values"]["label"]: r["id"] for r in lines["records"]}
    assert by_label["A|1 line 2"] == "A%7C1|2"
    assert by_label["50% line 2"] == "50%25|2"
    assert by_label["x/y z line 2"] == "x%2Fy z|2"
    for label, record_id in by_label.items():
        fetched = api.get(f"/collections/order_lines/records/{quote(record_id, safe='')}")
        assert fetched.status_code == 200, (record_id, fetched.text)
        assert fetched.json()["values"]["label"] == label
        assert fetched.json()["id"] == record_id
    refused(api.get(f"/collections/order_lines/records/{quote('A%7C1', safe='')}"), 404)
    refused(api.get(f"/collections/order_lines/records/{quote('A%7C1|x', safe='')}"), 404)


def test_one_to_many_related_records(api: httpx.Client) -> None:
    url = "/collections/companies/records/1/relationships/emitter_company_transactions"
    body = api.get(url, params={"page_size": 5}).json()
    assert body["collection"] == "transactions" and body["count"] == 20
    assert ids(body) == ["3", "6", "9", "12", "15"]
    big = api.get(url, params={"filter": flt(field="amount", operator="greater_than",
                                               value=300)}).json()
    assert big["count"] == 11
    assert api.get(url, params={"page": 3, "page_size": 8}).json()["records"][-1]["id"] == "60"
    related = api.get(
        f"/collections/orders/records/{quote('A%7C1', safe='')}/relationships/order_lines"
    ).json()
    assert ids(related) == ["A%7C1|1", "A%7C1|2"]


def test_many_to_one_related_record(api: httpx.Client) -> None:
    body = api.get("/collections/transactions/records/1/relationships/emitter_company").json()
    assert body["collection"] == "companies" and ids(body) == ["2"] and body["count"] == 1


def test_related_errors(api: httpx.Client) -> None:
    refused(api.get("/collections/companies/records/1/relationships/nope"), 404)
    refused(
        api.get("/collections/companies/records/999/relationships/emitter_company_transactions"),
        404,
    )
    refused(
        api.get(
            "/collections/companies/records/1/relationships/emitter_company_transactions",
            params={"filter": flt(field="status", operator="equal", value="live")},
        ),
        400,
        "status",
    )


def test_unknown_route_and_method_are_json(api: httpx.Client) -> None:
    refused(api.get("/nope"), 404)
    refused(api.delete("/collections"), 405)


def test_openapi_document_is_served(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/collections/{collection}/records" in doc["paths"]
    assert "/api/collections/{collection}/records/{record_id}/relationships/{relationship}" in (
        doc["paths"]
    )
