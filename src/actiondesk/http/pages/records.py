"""The pages of the records: home, sign-in, a collection, a record."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from actiondesk.data.schema import Collection
from actiondesk.http.dependencies import Services, ServicesDep
from actiondesk.http.pages.record_actions import record_actions
from actiondesk.http.pages.shell import Page, TemplatesDep, root_of, safe_next
from actiondesk.permissions.access import Access

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse, name="home_page")
async def home(page: Page) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        # Only whether there are any: the menu lists them (with their state) when opened.
        registry = page.services.registry
        datasource = page.services.datasource
        return {
            "has_global_actions": any(access.visible(a) for a in registry.for_collection(None)),
            "collection_descriptions": {
                c.name: datasource.presentation(c.name).description
                for c in page.services.records.collections(access)},
        }

    return await page.render("actiondesk/home.html", context)


@router.get("/login", response_class=HTMLResponse, name="login_page")
async def login_page(request: Request, services: ServicesDep, templates: TemplatesDep,
                     next: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "actiondesk/login.html",
        {"title": services.settings.title, "base": root_of(request),
         "next": safe_next(request, next)},
    )


def _targets(services: Services, collection: Collection, access: Access) -> dict[str, Any]:
    """The primary keys of the collections this one links to and the caller may read, so the
    page can link many-to-one values and open related records."""
    datasource = services.datasource
    names = {rel.target for rel in collection.relationships.values()} | {collection.name}
    return {
        name: {"primary_key": list(datasource.collection(name).primary_key),
               "label": datasource.presentation(name).label}
        for name in sorted(names) if access.can_read(name)
    }


def _collection_data(services: Services, collection: Collection,
                     access: Access) -> dict[str, Any]:
    settings = services.settings
    return {
        "collection": services.records.schema(collection),
        "targets": _targets(services, collection, access),
        "page_size": settings.default_page_size,
        "max_page_size": settings.max_page_size,
        "can_export": access.can_export(collection.name),
        "roles": sorted(access.snapshot.roles),  # who a saved view may be shared with
    }


@router.get("/collections/{collection}", response_class=HTMLResponse, name="collection_page")
async def collection_page(page: Page, collection: str) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        found = page.services.records.collection(collection, access)
        data = _collection_data(page.services, found, access)
        data["record_actions"] = await record_actions(page.services, found.name, access)
        return {"active_collection": found.name, "collection_name": found.name,
                "page": data}

    return await page.render("actiondesk/collection.html", context)


@router.get("/collections/{collection}/records/{record_id}", response_class=HTMLResponse,
            name="record_page")
async def record_page(page: Page, collection: str, record_id: str) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        records = page.services.records
        found = records.collection(collection, access)
        record = await records.get(collection, record_id, access)
        data = _collection_data(page.services, found, access)
        data["record"] = record
        data["record_actions"] = await record_actions(page.services, found.name, access,
                                                      record["id"])
        return {"active_collection": found.name, "collection_name": found.name,
                "record_id": record["id"], "record_label": record["label"], "page": data}

    return await page.render("actiondesk/record.html", context)
