"""Routes of the approval workflow: the three boxes, a request, decisions, the CSV export."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from actiondesk.actions.results import content_disposition
from actiondesk.approvals.model import (
    APPROVAL_STATUSES,
    MAX_PAGE_SIZE,
    HistoryFilters,
    check_filters,
)
from actiondesk.errors import BadRequestError, NotFoundError
from actiondesk.http.api.approvals_models import (
    ApprovalDetail,
    ApprovalPage,
    ApprovalResult,
    BadgeOut,
    DecisionIn,
    RecordPage,
)
from actiondesk.http.api.bodies import read_json
from actiondesk.http.api.models import FILE_CONTENT, ErrorOut
from actiondesk.http.api.runs import MIME_TYPE
from actiondesk.http.dependencies import ApprovalsDep, CurrentAccess

router = APIRouter(tags=["approvals"])

_MAX_DECISION_BODY = 16 * 1024
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad parameters, or a body that is not only "
          "{message}."},
    403: {"model": ErrorOut, "description": "The caller's role may not do this (the rule is "
          "named)."},
    404: {"model": ErrorOut, "description": "Unknown approval request."},
    409: {"model": ErrorOut, "description": "The request is not pending; detail.status says "
          "what it is."},
}

Box = Literal["requested", "to_review", "history"]
Page = Annotated[int, Query(ge=1, le=10_000_000, description="1-based page number.")]
PageSize = Annotated[int, Query(ge=1, description=f"Per page; above {MAX_PAGE_SIZE} is capped.")]
ActionFilter = Annotated[str | None, Query(description="An action slug.", max_length=120)]
PersonFilter = Annotated[str | None, Query(description="An id or email, exactly.",
                                           max_length=320)]
StatusFilter = Annotated[str | None, Query(description="One of "
                                           + ", ".join(APPROVAL_STATUSES) + ".",
                                           max_length=20)]
Since = Annotated[datetime | None, Query(description="Requested at or after (ISO 8601).")]
Until = Annotated[datetime | None, Query(description="Requested before (ISO 8601).")]


def _filters(
    action: str | None, requester: str | None, reviewer: str | None, status: str | None,
    since: datetime | None, until: datetime | None,
) -> HistoryFilters:
    for name, value in (("action", action), ("requester", requester), ("reviewer", reviewer),
                        ("status", status)):
        if value is not None and "\x00" in value:
            raise BadRequestError(f"{name} must not contain NUL characters",
                                  fields={name: "contains a NUL character"})
    return HistoryFilters(action=action, requester=requester, reviewer=reviewer,
                          status=status, since=since, until=until)


@router.get("/approvals", response_model=ApprovalPage, responses=_ERRORS,
            summary="Approval requests: mine, to review, or the history")
async def list_approvals(
    service: ApprovalsDep,
    access: CurrentAccess,
    box: Annotated[Box, Query(description="requested (mine), to_review (I may approve), or "
                              "history (decided; filterable)")] = "requested",
    action: ActionFilter = None,
    requester: PersonFilter = None,
    reviewer: PersonFilter = None,
    status: StatusFilter = None,
    since: Since = None,
    until: Until = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    page_size = min(page_size, MAX_PAGE_SIZE)
    if box == "requested":
        found, count = await service.requested(access, page, page_size)
    elif box == "to_review":
        found, count = await service.to_review(access, page, page_size)
    else:
        filters = _filters(action, requester, reviewer, status, since, until)
        found, count = await service.history(access, filters, page, page_size)
    return {"approvals": [a.to_json() for a in found], "count": count, "page": page,
            "page_size": page_size}


@router.get("/approvals/badge", response_model=BadgeOut, summary="How many requests wait for "
            "my review")
async def badge(service: ApprovalsDep, access: CurrentAccess) -> dict[str, Any]:
    return {"to_review": await service.badge(access)}


@router.get(
    "/approvals/export.csv", response_class=StreamingResponse, responses={
        200: {"content": {"text/csv": {}}, "description": "The history, streamed."}, **_ERRORS},
    summary="Export the history as CSV (same filters as box=history)",
)
async def export_csv(
    service: ApprovalsDep,
    access: CurrentAccess,
    action: ActionFilter = None,
    requester: PersonFilter = None,
    reviewer: PersonFilter = None,
    status: StatusFilter = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    filters = _filters(action, requester, reviewer, status, since, until)
    check_filters(filters)  # before streaming starts, so a bad filter is a clean 400
    return StreamingResponse(
        service.export_csv(access, filters), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition("approvals.csv"),
                 "Access-Control-Expose-Headers": "Content-Disposition"},
    )


@router.get("/approvals/{approval_id}", response_model=ApprovalDetail, responses=_ERRORS,
            summary="One request: values, records, timeline, result")
async def get_approval(approval_id: str, service: ApprovalsDep,
                       access: CurrentAccess) -> dict[str, Any]:
    return await service.get(approval_id, access)


@router.get("/approvals/{approval_id}/records", response_model=RecordPage, responses=_ERRORS,
            summary="The frozen records of a request, a page at a time")
async def approval_records(
    approval_id: str, service: ApprovalsDep, access: CurrentAccess, page: Page = 1,
    page_size: PageSize = 100
) -> dict[str, Any]:
    return await service.records(approval_id, access, page, page_size)


@router.get(
    "/approvals/{approval_id}/file", response_class=Response, responses={
        200: {"content": FILE_CONTENT, "description": "The file."},
        **_ERRORS},
    summary="The file an executed request returned",
)
async def approval_file(approval_id: str, service: ApprovalsDep,
                        access: CurrentAccess) -> Response:
    stored = await service.file(approval_id, access)
    if stored is None:
        raise NotFoundError(f"approval request {approval_id!r} returned no file")
    content, filename, mime = stored
    return Response(content, media_type=mime if MIME_TYPE.match(mime) else
                    "application/octet-stream",
                    headers={"Content-Disposition": content_disposition(filename),
                             "Access-Control-Expose-Headers": "Content-Disposition",
                             "X-Content-Type-Options": "nosniff"})


async def decision_message(request: Request) -> str | None:
    """The optional message of a decision; anything else in the body is refused."""
    body = await read_json(request, _MAX_DECISION_BODY)
    if body is None:
        return None
    if not isinstance(body, Mapping):
        raise BadRequestError("the body must be a JSON object: {\"message\": \"...\"}",
                              fields={"body": "must be an object"})
    unknown = sorted(set(body) - set(DecisionIn.model_fields))
    if unknown:
        raise BadRequestError(
            f"a decision takes only a message; {', '.join(unknown)} cannot be given: the "
            "records and values were frozen when the request was made",
            fields={name: "not allowed" for name in unknown},
        )
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise BadRequestError("message must be text", fields={"message": "must be text"})
    return message


_DECISION_DOC: dict[str, Any] = {"requestBody": {"required": False, "content": {
    "application/json": {"schema": DecisionIn.model_json_schema()}}}}


Decision = Annotated[str | None, Depends(decision_message)]


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalResult,
             responses=_ERRORS, openapi_extra=_DECISION_DOC,
             summary="Approve; with enough approvals the action runs (exactly once)")
async def approve(approval_id: str, message: Decision, service: ApprovalsDep,
                  access: CurrentAccess) -> dict[str, Any]:
    return {"approval": (await service.approve(approval_id, access, message)).to_json()}


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalResult,
             responses=_ERRORS, openapi_extra=_DECISION_DOC, summary="Reject")
async def reject(approval_id: str, message: Decision, service: ApprovalsDep,
                 access: CurrentAccess) -> dict[str, Any]:
    return {"approval": (await service.reject(approval_id, access, message)).to_json()}


@router.post("/approvals/{approval_id}/cancel", response_model=ApprovalResult,
             responses=_ERRORS, openapi_extra=_DECISION_DOC,
             summary="Cancel my pending request")
async def cancel(approval_id: str, message: Decision, service: ApprovalsDep,
                 access: CurrentAccess) -> dict[str, Any]:
    return {"approval": (await service.cancel(approval_id, access, message)).to_json()}
