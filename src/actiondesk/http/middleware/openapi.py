"""An honest OpenAPI document: every error an operation can answer is declared, in the shape
the desk really sends (``ErrorOut``), whichever router the operation comes from.

FastAPI documents what a route declares. The errors that come from the layers around the
routes are added here, once for every operation under ``/api``:

- 400 for any operation with parameters or a body (a malformed value or document), 422 in
  the ``ErrorOut`` shape instead of FastAPI's own, and 413 for a body over the limit;
- 401 and 403 for every operation that needs a caller (403 is also a missing CSRF token);
- 404 for any operation with a path parameter, 500 and 503 for every operation (an
  unexpected error, the state database unavailable).

Schemas a route gives inline with their own ``$defs`` (``openapi_extra``) are moved into
``components`` so that every reference resolves.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from actiondesk.http.api.models import ErrorOut

_ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
_PUBLIC = frozenset({"/api/login"})
_UNSAFE = frozenset({"post", "put", "patch", "delete"})
_DESCRIPTIONS = {
    "400": "Malformed parameters or body; the offending field is named.",
    "401": "Not signed in, or the credentials are not valid.",
    "403": "The caller may not do this (the rule is named), or a missing CSRF token.",
    "404": "Nothing at this path (unknown name or id).",
    "413": "The request body is larger than the limit.",
    "422": "Values that do not validate; a message per field.",
    "500": "An unexpected error; the details are in the server log.",
    "503": "The state database is unavailable, so nothing can run unaudited; retry later.",
}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/api/openapi.json``) return the honest document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes,
            )
            app.openapi_schema = make_honest(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def make_honest(document: dict[str, Any]) -> dict[str, Any]:
    # Routes may share the schemas they give inline; change a copy.
    document = copy.deepcopy(document)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", ErrorOut.model_json_schema())
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                _declare_errors(path, method, operation)
    _hoist_defs(document, components)
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(document, f"#/components/schemas/{name}"):
            components.pop(name, None)
    return document


def _declare_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    parameters = operation.get("parameters") or []
    has_body = "requestBody" in operation
    codes = {"500", "503"}
    if parameters or has_body:
        codes |= {"400", "422"}
    if has_body or method in _UNSAFE:
        codes |= {"400", "413"}
    if path not in _PUBLIC:
        codes |= {"401", "403"}
    if any(p.get("in") == "path" for p in parameters):
        codes.add("404")
    for code in sorted(codes):
        described = responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
        described["content"] = {"application/json": {"schema": _ERROR_REF}}
    # FastAPI's 422 (HTTPValidationError) is not what the desk sends: replaced above.


def _hoist_defs(node: Any, components: dict[str, Any]) -> None:
    """Move nested ``$defs`` into the components and point their references there."""
    if isinstance(node, dict):
        defs = node.pop("$defs", None)
        if isinstance(defs, dict):
            for name, schema in defs.items():
                components.setdefault(name, schema)
                _hoist_defs(schema, components)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        for value in list(node.values()):
            _hoist_defs(value, components)
    elif isinstance(node, list):
        for item in node:
            _hoist_defs(item, components)


def _referenced(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_referenced(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_referenced(item, ref) for item in node)
    return False
