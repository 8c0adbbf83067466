"""What tests that talk to a desk over HTTP share: the Forest JSON:API document of an action
request, executing an action, reading a record, and asserting a refusal (a JSON error, never a
traceback)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx


def jsonapi(
    ids: list[str] | None = None, values: Mapping[str, Any] | None = None, **attributes: Any
) -> dict[str, Any]:
    """The body of an execute (or form, or selection) request: ``attributes`` are the other
    Forest attributes (``collection_name``, ``all_records``, ``parent_collection_id``...)."""
    attrs: dict[str, Any] = {"ids": ids or [], **attributes}
    if values is not None:
        attrs["values"] = dict(values)
    return {"data": {"type": "custom-action-requests", "attributes": attrs}}


def execute(api: httpx.Client, slug: str, body: dict[str, Any],
            collection: str | None = "companies", **kwargs: Any) -> httpx.Response:
    """POST ``body`` to the action ``slug`` of ``collection`` (a global action when None);
    ``api`` is a client whose base URL ends in ``/api``."""
    path = f"/collections/{collection}/actions/{slug}" if collection else f"/actions/{slug}"
    return api.post(path, json=body, **kwargs)


def record(api: httpx.Client, collection: str, record_id: str) -> dict[str, Any]:
    """The values of one record, read through the API."""
    response = api.get(f"/collections/{collection}/records/{quote(record_id, safe='')}")
    assert response.status_code == 200, response.text
    values: dict[str, Any] = response.json()["values"]
    return values


def refused(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The JSON error body of a refusal with ``status``; never a traceback. With ``field``,
    the answer names it (in ``fields``, or in the message)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str) and body["error"], body
    assert "Traceback" not in response.text and 'File "' not in response.text
    if field is not None:
        assert field in body.get("fields", {}) or field in body["error"], body
    return body
