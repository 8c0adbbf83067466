"""The OpenAPI document tells the truth: every operation declares the errors the desk can
answer (in the ErrorOut shape), every reference resolves, and answers found by the fuzzer
(bench/fuzz_api.py) outside the document are declared now."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import jsonapi

SAFE = {"get", "head", "options"}


def document(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items()
            for method, op in ops.items() if isinstance(op, dict) and "responses" in op]


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


def declares(op: dict[str, Any], status: int, content_type: str) -> bool:
    declared = op["responses"].get(str(status))
    if declared is None:
        return False
    media = content_type.split(";")[0].strip()
    kinds = declared.get("content", {})
    return media in kinds or "*/*" in kinds or f"{media.split('/')[0]}/*" in kinds


def test_every_reference_resolves(api: httpx.Client) -> None:
    doc = document(api)
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "HTTPValidationError" not in schemas


def test_every_operation_declares_the_errors_it_can_answer(api: httpx.Client) -> None:
    doc = document(api)
    checked = 0
    for path, method, op in operations(doc):
        codes = set(op["responses"])
        assert {"500", "503"} <= codes, (method, path)
        if path != "/api/login":
            assert {"401", "403"} <= codes, (method, path)
        if op.get("parameters") or "requestBody" in op:
            assert {"400", "422"} <= codes, (method, path)
        if "requestBody" in op or method not in SAFE:
            assert "413" in codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
        checked += 1
    assert checked >= 40


def test_action_bodies_are_documented_for_every_action_route(api: httpx.Client) -> None:
    doc = document(api)
    for path, method, op in operations(doc):
        if "/actions/{slug}" in path and method == "post":
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema.get("properties", {}).get("data"), path
            assert "202" in op["responses"] if not path.endswith("/form") else True


def test_the_action_body_documented_is_the_one_the_parser_reads(
    actions_api: httpx.Client,
) -> None:
    # The execute, form and selection bodies show the parser's own model: every key it
    # documents is read, and any other key is refused as the schema says.
    doc = document(actions_api)
    bodies = [op["requestBody"]["content"]["application/json"]["schema"]
              for path, method, op in operations(doc)
              if method == "post" and path.endswith(("/actions", "/form", "/actions/{slug}"))
              and path != "/api/actions"]
    assert len(bodies) == 5 and all(body == bodies[0] for body in bodies)
    schemas = doc["components"]["schemas"]
    attributes = schemas["ExecuteAttributes"]
    subset = schemas["SubsetQuery"]
    assert attributes["additionalProperties"] is False
    assert subset["additionalProperties"] is False
    assert set(subset["patternProperties"]) == {r"^(fields|page)\["}

    def refusal(attrs: dict[str, Any]) -> str:
        response = actions_api.post("/collections/companies/actions",
                                    json={"data": {"attributes": attrs}})
        return response.text if response.status_code != 200 else ""

    for key in attributes["properties"]:
        assert "unknown key" not in refusal({key: None}), key
    for key in [*subset["properties"], "fields[companies]", "page[size]"]:
        assert refusal({"all_records_subset_query": {key: None}}) == "", key
    assert "unknown key(s): surprise" in refusal({"surprise": 1})
    assert "unknown key(s): surprise" in refusal({"all_records_subset_query": {"surprise": 1}})


def test_a_file_result_has_a_documented_content_type(actions_api: httpx.Client) -> None:
    # Found by the fuzzer: the demo's invoice (application/pdf) was outside the 200's types.
    doc = document(actions_api)
    execute = doc["paths"]["/api/collections/{collection}/actions/{slug}"]["post"]
    for slug in ("stream", "download"):
        response = actions_api.post(f"/collections/companies/actions/{slug}",
                                    json=jsonapi(["1"]))
        assert response.status_code == 200, response.text
        assert declares(execute, 200, response.headers["content-type"]), (
            response.headers["content-type"], execute["responses"]["200"])
    run_file = doc["paths"]["/api/runs/{run_id}/file"]["get"]
    assert declares(run_file, 200, "text/csv")
