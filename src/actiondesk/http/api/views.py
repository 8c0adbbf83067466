"""Routes for saved views: list (every collection's, or one's), read, create, replace,
delete. Ownership and sharing are decided by the views service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from actiondesk.errors import BadRequestError, ClientError
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import CurrentAccess, ViewsDep
from actiondesk.views.model import NAME_MAX, ROLES_MAX, ViewData, view_data

router = APIRouter(tags=["views"])

ViewId = Annotated[str, Path(max_length=64)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "An invalid part of the view (named in fields)."},
    403: {"model": ErrorOut, "description": "Not readable, or not the view's owner."},
    404: {"model": ErrorOut, "description": "Unknown collection or view."},
    409: {"model": ErrorOut, "description": "Name already used, or a view declared in code."},
}


class ViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)
    filter: dict[str, Any] | None = Field(default=None, description="The filter language.")
    search: str | None = Field(default=None, max_length=200)
    sort: str | None = Field(default=None, max_length=500,
                             description="Comma-separated; '-' before a name: descending.")
    columns: list[str] | None = Field(default=None, max_length=200,
                                      description="Shown fields in order; null: defaults.")
    page_size: int | None = Field(default=None, ge=1)
    shared_roles: list[str] = Field(default_factory=list, max_length=ROLES_MAX,
                                    description="Roles that see it too; empty: personal.")

    def data(self) -> ViewData:
        try:
            return view_data(self.name, filter=self.filter, search=self.search, sort=self.sort,
                             columns=self.columns, page_size=self.page_size,
                             shared_roles=self.shared_roles)
        except ClientError as exc:
            raise BadRequestError(f"invalid view: filter {exc.message}",
                                  fields={"filter": exc.message}) from None


class ViewOut(BaseModel):
    id: str
    collection: str
    name: str
    filter: Any
    search: str | None
    sort: str | None
    columns: list[str] | None
    page_size: int | None
    shared_roles: list[str]
    in_code: bool
    roles: list[str] | None = Field(description="A view in code: the roles it is for (null: "
                                    "every role that reads the collection).")
    owner: dict[str, Any] | None
    mine: bool
    editable: bool = Field(description="Whether the caller may change or delete it.")
    created_at: str | None
    updated_at: str | None


class ViewList(BaseModel):
    views: list[ViewOut]


@router.get("/views", response_model=ViewList, summary="The views the caller sees, all "
            "collections")
async def all_views(views: ViewsDep, access: CurrentAccess) -> dict[str, Any]:
    return {"views": await views.list(access)}


@router.get("/collections/{collection}/views", response_model=ViewList, responses=_ERRORS,
            summary="The views of one collection the caller sees")
async def collection_views(collection: str, views: ViewsDep,
                           access: CurrentAccess) -> dict[str, Any]:
    return {"views": await views.list(access, collection)}


@router.post("/collections/{collection}/views", response_model=ViewOut, status_code=201,
             responses=_ERRORS, summary="Save a view")
async def create_view(collection: str, body: ViewIn, views: ViewsDep,
                      access: CurrentAccess) -> dict[str, Any]:
    return await views.create(collection, body.data(), access)


@router.get("/collections/{collection}/views/{view_id}", response_model=ViewOut,
            responses=_ERRORS, summary="One view")
async def get_view(collection: str, view_id: ViewId, views: ViewsDep,
                   access: CurrentAccess) -> dict[str, Any]:
    return await views.get(collection, view_id, access)


@router.put("/collections/{collection}/views/{view_id}", response_model=ViewOut,
            responses=_ERRORS, summary="Replace a view (its owner or an admin)")
async def put_view(collection: str, view_id: ViewId, body: ViewIn, views: ViewsDep,
                   access: CurrentAccess) -> dict[str, Any]:
    return await views.update(collection, view_id, body.data(), access)


@router.delete("/collections/{collection}/views/{view_id}", status_code=204,
               response_class=Response, responses=_ERRORS,
               summary="Delete a view (its owner or an admin)")
async def delete_view(collection: str, view_id: ViewId, views: ViewsDep,
                      access: CurrentAccess) -> Response:
    await views.delete(collection, view_id, access)
    return Response(status_code=204)
