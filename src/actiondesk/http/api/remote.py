"""The remote providers' settings API, for admins: their state and an on-demand refresh."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import RemoteDep, require_admin
from actiondesk.remote.service import RemoteService

router = APIRouter(
    prefix="/settings/remote",
    tags=["settings"],
    dependencies=[Depends(require_admin)],
    responses={403: {"model": ErrorOut, "description": "The caller's role is not an admin "
                     "role."}},
)


class SkippedOut(BaseModel):
    index: int = Field(description="Position of the declaration in the provider's list.")
    name: str | None
    reason: str


class RemoteActionOut(BaseModel):
    slug: str
    name: str
    collection: str | None
    scope: str


class ProviderOut(BaseModel):
    name: str
    url: str = Field(description="Where messages are sent (credentials removed).")
    timeout: float
    collections: dict[str, str] = Field(description="Model names mapped to collections.")
    batch_size: int
    discover: bool
    signed_answers: bool
    status: str = Field(description="ok; stale (the last refresh failed, the last known list "
                        "is in use); unavailable (no list ever received); not-fetched; "
                        "endpoints-only")
    stale: bool
    fetched_at: str | None = Field(description="When the list in use was received.")
    checked_at: str | None = Field(description="When this process last asked for it.")
    error: str | None = Field(description="Why the last refresh failed.")
    actions: list[RemoteActionOut]
    skipped: list[SkippedOut] = Field(description="Declarations not taken, with the reason.")


class ProviderList(BaseModel):
    refresh_interval: float = Field(description="Seconds between refreshes (0: on demand).")
    providers: list[ProviderOut]


def _status(service: RemoteService) -> dict[str, Any]:
    return {"refresh_interval": service.refresh_interval, "providers": service.status_json()}


@router.get("", response_model=ProviderList, summary="Remote providers and their action lists")
async def remote_providers(service: RemoteDep) -> dict[str, Any]:
    return _status(service)


@router.post(
    "/refresh",
    response_model=ProviderList,
    responses={404: {"model": ErrorOut, "description": "No such provider."}},
    summary="Fetch the action lists again now",
    description="Each provider answers within its timeout; one that cannot keeps its last "
    "known list, marked stale, with the error.",
)
async def refresh_remote(
    service: RemoteDep,
    provider: Annotated[str | None, Query(max_length=60, description="Only this provider.")]
    = None,
) -> dict[str, Any]:
    await service.refresh(provider)
    return _status(service)
