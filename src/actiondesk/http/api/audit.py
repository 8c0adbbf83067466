"""The audit of refused requests (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import AuditDep, require_admin
from actiondesk.http.middleware.errors import AUDITED_KINDS

router = APIRouter(tags=["audit"], dependencies=[Depends(require_admin)])


class AuditEventOut(BaseModel):
    id: str
    at: str
    kind: str
    caller_id: str | None
    caller_email: str | None
    method: str | None
    path: str | None
    address: str | None
    status_code: int
    reason: str


class AuditEventList(BaseModel):
    events: list[AuditEventOut]


@router.get("/audit", response_model=AuditEventList, summary="Refused requests, newest first",
            responses={403: {"model": ErrorOut}})
async def list_audit(
    audit: AuditDep,
    kind: Annotated[str | None, Query(max_length=40, description=", ".join(
        AUDITED_KINDS.values()))] = None,
    path: Annotated[str | None, Query(max_length=2000, description="Only refusals of this "
                                      "request path, exactly.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    events = await audit.list(kind=kind, path=path, limit=limit)
    return {"events": [e.to_json() for e in events]}
