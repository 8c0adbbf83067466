"""Routes of the runs audit: list runs, one run, and the file a run returned."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from actiondesk.actions.results import content_disposition
from actiondesk.errors import ForbiddenError, NotFoundError
from actiondesk.http.api.models import FILE_CONTENT, ErrorOut
from actiondesk.http.api.runs_models import RunOut, RunPage, WebhookOutcomeIn
from actiondesk.http.dependencies import CurrentAccess, RunsDep
from actiondesk.permissions.access import Access
from actiondesk.runs.records import MAX_PAGE_SIZE, RUN_STATUSES

router = APIRouter(tags=["runs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad query parameters (the field is named)."},
    404: {"model": ErrorOut, "description": "Unknown run, or a run without a file."},
}
# A media type as a handler may give it, e.g. "text/csv; charset=utf-8"; anything else is
# served as octet-stream so a stored value can never shape the response headers.
MIME_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=(\"[^\"\r\n]*\"|[\w.+-]+))*$")


@router.get("/runs", response_model=RunPage, responses=_ERRORS, summary="The audit of runs")
async def list_runs(
    runs: RunsDep,
    access: CurrentAccess,
    action: Annotated[str | None, Query(description="An action slug.", max_length=120)] = None,
    collection: Annotated[str | None, Query(max_length=120)] = None,
    caller: Annotated[
        str | None, Query(description="A caller's id or email, exactly.", max_length=320)
    ] = None,
    status: Annotated[
        str | None, Query(description="One of " + ", ".join(RUN_STATUSES) + ".", max_length=20)
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Runs started at or after (ISO 8601; UTC if no offset)."),
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Runs started before (ISO 8601; UTC if no offset).")
    ] = None,
    page: Annotated[int, Query(ge=1, le=10_000_000, description="1-based page number.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, description=f"Runs per page; above {MAX_PAGE_SIZE} is capped.")
    ] = 50,
) -> dict[str, Any]:
    page_size = min(page_size, MAX_PAGE_SIZE)
    if not access.is_admin:
        # Everyone sees their own runs; admins see all.
        if caller is not None and caller not in (access.caller.id, access.caller.email):
            raise ForbiddenError("only admins may see other people's runs")
        caller = access.caller.id
    found, count = await runs.list(
        action=action,
        collection=collection,
        caller=caller,
        status=status,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return {
        "runs": [run.to_json() for run in found],
        "count": count,
        "page": page,
        "page_size": page_size,
    }


@router.get("/runs/{run_id}", response_model=RunOut, responses=_ERRORS, summary="One run")
async def get_run(run_id: str, runs: RunsDep, access: CurrentAccess) -> dict[str, Any]:
    run = await runs.get(run_id)
    require_own(access, run.caller)
    found = run.to_json()
    if run.background:
        found["partitions"] = await runs.partitions(run_id)
    return found


@router.post(
    "/runs/{run_id}/webhook",
    response_model=RunOut,
    responses={
        403: {"model": ErrorOut, "description": "The run is another caller's."},
        404: {"model": ErrorOut, "description": "Unknown run."},
        409: {"model": ErrorOut, "description": "The run did not answer with a webhook, or "
              "its outcome was already reported."},
        422: {"model": ErrorOut, "description": "A malformed outcome (the field is named)."},
    },
    summary="Report whether a run's webhook was delivered",
)
async def report_webhook(run_id: str, body: WebhookOutcomeIn, runs: RunsDep,
                         access: CurrentAccess) -> dict[str, Any]:
    """A webhook result is called by the caller's browser, so only the browser knows whether
    it arrived: it reports that here once, and the run shows it."""
    run = await runs.report_webhook(
        run_id, access.caller.id, delivered=body.delivered, status=body.status, error=body.error
    )
    return run.to_json()


def require_own(access: Access, run_caller: dict[str, Any]) -> None:
    if not access.is_admin and run_caller.get("id") != access.caller.id:
        raise ForbiddenError("only admins may see other people's runs")


@router.get(
    "/runs/{run_id}/file",
    response_class=Response,
    responses={
        200: {"content": FILE_CONTENT, "description": "The file."},
        **_ERRORS,
    },
    summary="The file a run returned",
)
async def get_run_file(run_id: str, runs: RunsDep, access: CurrentAccess) -> Response:
    require_own(access, (await runs.get(run_id)).caller)
    stored = await runs.get_file(run_id)
    if stored is None:
        raise NotFoundError(f"run {run_id!r} returned no file")
    content, filename, mime = stored
    return Response(
        content,
        media_type=mime if MIME_TYPE.match(mime) else "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(filename),
            "Access-Control-Expose-Headers": "Content-Disposition",
            "X-Content-Type-Options": "nosniff",
        },
    )
