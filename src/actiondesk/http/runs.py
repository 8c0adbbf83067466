"""Routes of the runs audit: list runs, one run, and the file a run returned."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from actiondesk.errors import NotFoundError
from actiondesk.http.models import ErrorOut
from actiondesk.http.runs_models import RunOut, RunPage
from actiondesk.services.runs import MAX_PAGE_SIZE, RUN_STATUSES, RunsService

router = APIRouter(tags=["runs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad query parameters (the field is named)."},
    404: {"model": ErrorOut, "description": "Unknown run, or a run without a file."},
}
# A media type as a handler may give it, e.g. "text/csv; charset=utf-8"; anything else is
# served as octet-stream so a stored value can never shape the response headers.
_MIME = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=(\"[^\"\r\n]*\"|[\w.+-]+))*$")
_UNSAFE_FALLBACK = re.compile(r'["\\;/\x00-\x1f\x7f]')


def _runs(request: Request) -> RunsService:
    service: RunsService = request.app.state.runs
    return service


@router.get("/runs", response_model=RunPage, responses=_ERRORS, summary="The audit of runs")
async def list_runs(
    request: Request,
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
    runs, count = await _runs(request).list(
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
        "runs": [run.to_json() for run in runs],
        "count": count,
        "page": page,
        "page_size": page_size,
    }


@router.get("/runs/{run_id}", response_model=RunOut, responses=_ERRORS, summary="One run")
async def get_run(request: Request, run_id: str) -> dict[str, Any]:
    return (await _runs(request).get(run_id)).to_json()


@router.get(
    "/runs/{run_id}/file",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file."},
        **_ERRORS,
    },
    summary="The file a run returned",
)
async def get_run_file(request: Request, run_id: str) -> Response:
    stored = await _runs(request).get_file(run_id)
    if stored is None:
        raise NotFoundError(f"run {run_id!r} returned no file")
    content, filename, mime = stored
    return Response(
        content,
        media_type=mime if _MIME.match(mime) else "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(filename),
            "Access-Control-Expose-Headers": "Content-Disposition",
            "X-Content-Type-Options": "nosniff",
        },
    )


def content_disposition(filename: str) -> str:
    """An ``attachment`` header naming ``filename`` safely, whatever characters it holds.

    Clients that read RFC 5987 get the exact name; others get an ASCII approximation.
    """
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE_FALLBACK.sub("", ascii_name).strip() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
