"""The activity of one record: runs, edits and approval requests that touched it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from actiondesk.activity.service import MAX_LIMIT
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import ActivityDep, CurrentAccess

router = APIRouter(tags=["records"])


class ActivityApprovalOut(BaseModel):
    id: str
    status: str = Field(description="The request's status now (pending, executed, rejected…).")
    reason: str | None
    decided_at: str | None


class ActivityEntryOut(BaseModel):
    kind: str = Field(description="run, or approval_request (a request frozen for review).")
    run_id: str
    action: dict[str, str] = Field(description="The action's slug and name.")
    caller: dict[str, Any] = Field(description="Who ran or requested it (id, email; "
                                   "approved_by for an approved request's execution).")
    status: str
    status_code: int | None
    message: str | None
    record_count: int | None
    select_all: bool = Field(description="The run was a select-all (a filter, not ids).")
    matched: str = Field(description="How the run includes the record: ids (named it), "
                         "frozen (the ids frozen with an approval request), filter (a "
                         "select-all whose selection the record meets now).")
    background: bool
    started_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None
    approval: ActivityApprovalOut | None


class ActivityPage(BaseModel):
    entries: list[ActivityEntryOut] = Field(description="Newest first.")
    next: str | None = Field(description="Pass as before= for the next page; none at the end.")


@router.get(
    "/collections/{collection}/records/{record_id}/activity",
    response_model=ActivityPage,
    responses={
        400: {"model": ErrorOut, "description": "Bad limit or cursor (the field is named)."},
        403: {"model": ErrorOut, "description": "The collection may not be read."},
        404: {"model": ErrorOut, "description": "Unknown collection, or not an id of it."},
    },
    summary="The runs and approval requests that touched a record",
)
async def record_activity(
    collection: str,
    record_id: str,
    activity: ActivityDep,
    access: CurrentAccess,
    before: Annotated[str | None, Query(max_length=100,
                                        description="The next cursor of the previous page.")]
    = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries per page.")] = 20,
) -> dict[str, Any]:
    """Newest first. Admins see every run; others their own runs and the approval requests
    they may review. A select-all run is listed when the record meets its selection now
    (README: "A record's activity")."""
    return await activity.for_record(collection, record_id, access, before=before, limit=limit)
