"""The caller's notifications: list, unread count, mark read; the deliveries for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from actiondesk.errors import BadRequestError
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import AdminCaller, CurrentCaller, NotificationsDep
from actiondesk.notifications.service import MAX_PAGE_SIZE, MAX_READ_IDS

router = APIRouter(tags=["notifications"])


class NotificationOut(BaseModel):
    id: str
    kind: str = Field(description="requested, approved, rejected, executed or failed.")
    approval_id: str | None
    title: str
    body: str | None
    link: str | None = Field(description="The page it is about, a path under the desk.")
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    read_at: str | None


class NotificationPage(BaseModel):
    notifications: list[NotificationOut]
    count: int
    unread: int
    page: int
    page_size: int


class UnreadOut(BaseModel):
    unread: int


class MarkReadIn(BaseModel):
    """Which notifications to mark read: ``ids``, or ``all``."""

    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=MAX_READ_IDS)
    all: bool = False


class DeliveryOut(BaseModel):
    id: int
    at: str
    channel: str = Field(description="email or webhook")
    target: str = Field(description="The address, or the webhook URL without credentials.")
    kind: str
    approval_id: str | None
    ok: bool
    error: str | None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad parameters (the field is named)."},
}


@router.get("/notifications", response_model=NotificationPage, responses=_ERRORS,
            summary="My notifications, newest first")
async def list_notifications(
    service: NotificationsDep, caller: CurrentCaller,
    unread_only: bool = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> dict[str, Any]:
    return await service.page(caller.id, unread_only=unread_only, page=page,
                              page_size=page_size)


@router.get("/notifications/unread", response_model=UnreadOut,
            summary="How many of my notifications are unread")
async def unread(service: NotificationsDep, caller: CurrentCaller) -> dict[str, Any]:
    return {"unread": await service.unread(caller.id)}


@router.post("/notifications/read", response_model=UnreadOut, responses=_ERRORS,
             summary="Mark some (ids) or all of my notifications read")
async def mark_read(body: MarkReadIn, service: NotificationsDep,
                    caller: CurrentCaller) -> dict[str, Any]:
    if body.ids is None and not body.all:
        raise BadRequestError("give ids, or all: true", fields={"ids": "required unless all"})
    return {"unread": await service.mark_read(caller.id, None if body.all else body.ids)}


@router.get("/notifications/deliveries", response_model=list[DeliveryOut],
            summary="The latest e-mail and webhook deliveries (admins)")
async def deliveries(service: NotificationsDep, admin: AdminCaller) -> list[dict[str, Any]]:
    return await service.deliveries()
