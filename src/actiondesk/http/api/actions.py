"""Routes for actions: list (with enabled state), form load/change, execute."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from actiondesk.actions.document import ActionRequest, ExecuteBody, parse_action_request
from actiondesk.actions.results import content_disposition, iterate_file
from actiondesk.errors import ClientError
from actiondesk.http.api.bodies import read_json
from actiondesk.http.api.models import (
    FILE_CONTENT,
    ActionList,
    ApprovalRequestedOut,
    ErrorOut,
    FormOut,
    ResultOut,
)
from actiondesk.http.api.runs_models import RunQueuedOut
from actiondesk.http.dependencies import (
    CatalogDep,
    CurrentAccess,
    Services,
    ServicesDep,
    authenticate,
)
from actiondesk.permissions.access import Access
from actiondesk.runs.executor import Outcome
from actiondesk.runs.store import MAX_IDEMPOTENCY_KEY

router = APIRouter(tags=["actions"])

RUN_HEADER = "X-Actiondesk-Run-Id"
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed document or selection."},
    403: {"model": ErrorOut, "description": "A record condition or rule forbids it."},
    404: {"model": ErrorOut, "description": "Unknown collection, action or record; an action "
          "the caller may not see is answered as unknown."},
    413: {"model": ErrorOut, "description": "The body is too large."},
    422: {"model": ErrorOut, "description": "Invalid form values (a message per field)."},
}
_EXECUTE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    200: {
        "model": ResultOut,
        "description": "A result: {success, html?, refresh?}, {html}, {webhook}, {redirectTo},"
        " or a file (Content-Disposition: attachment).",
        "content": FILE_CONTENT,
    },
    202: {"model": ApprovalRequestedOut | RunQueuedOut,
          "description": "{approval}: the caller's rule needs approval, the request is frozen "
          "for review and nothing ran (Location: /api/approvals/{id}); or {run}: a background "
          "action was queued (Location: /api/runs/{id})."},
    204: {"description": "Done; nothing to show."},
    409: {"model": ErrorOut, "description": "The same Idempotency-Key is still running, or "
          "was used for another request."},
    500: {"model": ErrorOut, "description": "The handler failed; the run id is given."},
}

# The execute and form body is read with a size limit, then parsed by the model shown here.
_BODY_DOC: dict[str, Any] = {"requestBody": {"content": {"application/json": {
    "schema": ExecuteBody.model_json_schema()}}}}

IdsParam = Annotated[
    list[str] | None,
    Query(description="Selected record ids: the answer tells for each action whether it can "
          "run on them, and why not.", max_length=1000),
]
IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY,
           description="A retried request with the same key returns the first answer "
           "(result, approval request or queued run) instead of acting twice."),
]


def _run_headers(run_id: str) -> dict[str, str]:
    """The headers of every execution answer: the run that recorded it (if any)."""
    headers = {"Access-Control-Expose-Headers": f"Content-Disposition, {RUN_HEADER}, Location"}
    if run_id:
        headers[RUN_HEADER] = run_id
    return headers


def _response(outcome: Outcome, root: str = "") -> Response:
    rendered = outcome.rendered
    headers = _run_headers(outcome.run_id)
    if rendered.kind == "queued":  # a background run: follow it there
        headers["Location"] = f"{root}/api/runs/{outcome.run_id}"
    elif rendered.kind == "approval" and rendered.body is not None:  # the frozen request
        headers["Location"] = f"{root}/api/approvals/{rendered.body['approval']['id']}"
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    if rendered.file is not None:
        headers["Content-Disposition"] = content_disposition(rendered.file.filename)
        headers["X-Content-Type-Options"] = "nosniff"
        return StreamingResponse(
            iterate_file(rendered.file), media_type=rendered.file.mime, headers=headers
        )
    if rendered.body is None:
        return Response(status_code=204, headers=headers)
    return JSONResponse(rendered.body, status_code=rendered.status, headers=headers)


@router.get("/collections/{collection}/actions", response_model=ActionList, responses=_ERRORS,
            summary="Actions of a collection")
async def list_actions(collection: str, catalog: CatalogDep, access: CurrentAccess,
                       ids: IdsParam = None) -> Any:
    return {"actions": await catalog.list_with_state(
        collection, access, ActionRequest(ids=tuple(ids or ())))}


@router.post("/collections/{collection}/actions", response_model=ActionList,
             responses=_ERRORS, summary="Actions of a collection for a selection",
             description="The same list, each action's enabled state computed for the "
             "selection of a Forest JSON:API document (the execute body without values): "
             "listed ids, or all_records with its subset query and excluded ids, inside a "
             "parent record's relationship. Nothing runs.",
             openapi_extra=_BODY_DOC)
async def list_actions_for_selection(
    request: Request, collection: str, services: ServicesDep, access: CurrentAccess
) -> Any:
    document = parse_action_request(await read_json(request,
                                                    services.settings.max_body_bytes))
    return {"actions": await services.catalog.list_with_state(collection, access, document)}


@router.get("/actions", response_model=ActionList, summary="Global actions")
async def list_global_actions(catalog: CatalogDep, access: CurrentAccess) -> Any:
    return {"actions": await catalog.list_with_state(None, access)}


async def _form(request: Request, services: ServicesDep, access: CurrentAccess,
                collection: str | None, slug: str) -> Any:
    document = parse_action_request(await read_json(request,
                                                    services.settings.max_body_bytes))
    return await services.forms.form(collection, slug, document, access)


async def _execute(
    request: Request, services: ServicesDep, access: CurrentAccess, collection: str | None,
    slug: str, key: str | None
) -> Response:
    document = parse_action_request(await read_json(request,
                                                    services.settings.max_body_bytes))
    try:
        outcome = await services.actions.execute(
            collection, slug, document, access, idempotency_key=key
        )
    except ClientError as exc:
        # A refusal or failure recorded as a run names it, in the body and the header.
        run_id = exc.detail.get("run_id") if isinstance(exc.detail, dict) else None
        if isinstance(run_id, str):
            exc.headers.update(_run_headers(run_id))
        raise
    return _response(outcome, request.scope.get("root_path", "").rstrip("/"))


@router.post("/collections/{collection}/actions/{slug}/form", response_model=FormOut,
             responses=_ERRORS, summary="Load or change an action's form",
             openapi_extra=_BODY_DOC)
async def action_form(request: Request, collection: str, slug: str, services: ServicesDep,
                      access: CurrentAccess) -> Any:
    return await _form(request, services, access, collection, slug)


@router.post("/actions/{slug}/form", response_model=FormOut, responses=_ERRORS,
             summary="Load or change a global action's form", openapi_extra=_BODY_DOC)
async def global_action_form(request: Request, slug: str, services: ServicesDep,
                             access: CurrentAccess) -> Any:
    return await _form(request, services, access, None, slug)


async def execute_endpoint(request: Request) -> Response:
    """Both execute routes, served as plain Starlette endpoints (``build_app`` puts them
    first): the busiest route skips FastAPI's dependency solving. The same steps in the same
    order as the FastAPI routes below, which stay to document them in the OpenAPI schema:
    the caller (``authenticate``, as the routers' dependency), the Idempotency-Key header
    (at most 200 characters), then the execution."""
    services: Services = request.app.state.services
    auth = await authenticate(request, services)
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise RequestValidationError([{
            "type": "string_too_long", "loc": ("header", "Idempotency-Key"),
            "msg": f"String should have at most {MAX_IDEMPOTENCY_KEY} characters",
            "input": key, "ctx": {"max_length": MAX_IDEMPOTENCY_KEY},
        }])
    permissions = services.permissions
    access = Access(caller=auth.caller, snapshot=auth.snapshot or await permissions.snapshot(),
                    dev_mode=permissions.dev_mode)
    params = request.path_params
    return await _execute(request, services, access, params.get("collection"), params["slug"],
                          key)


EXECUTE_PATHS = ("/collections/{collection}/actions/{slug}", "/actions/{slug}")


@router.post("/collections/{collection}/actions/{slug}", responses=_EXECUTE_RESPONSES,
             summary="Execute an action (Forest JSON:API body)", openapi_extra=_BODY_DOC)
async def execute_action(
    request: Request, collection: str, slug: str, services: ServicesDep,
    access: CurrentAccess, idempotency_key: IdempotencyHeader = None
) -> Response:
    return await _execute(request, services, access, collection, slug, idempotency_key)


@router.post("/actions/{slug}", responses=_EXECUTE_RESPONSES,
             summary="Execute a global action", openapi_extra=_BODY_DOC)
async def execute_global_action(
    request: Request, slug: str, services: ServicesDep, access: CurrentAccess,
    idempotency_key: IdempotencyHeader = None
) -> Response:
    return await _execute(request, services, access, None, slug, idempotency_key)


def outcome_response(outcome: Outcome, root: str = "") -> Response:
    """The answer of an execution, as the execute route gives it (the record routes too)."""
    return _response(outcome, root)


def refusal_headers(exc: ClientError) -> None:
    """Name the run a refusal or failure was recorded as, in the answer's headers."""
    run_id = exc.detail.get("run_id") if isinstance(exc.detail, dict) else None
    if isinstance(run_id, str):
        exc.headers.update(_run_headers(run_id))


# What an execution may answer, for the routes that execute built-in actions.
EXECUTE_RESPONSES = _EXECUTE_RESPONSES
