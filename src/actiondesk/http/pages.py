"""The web UI's pages: server-rendered shells whose JavaScript modules call the JSON API.

A page renders only the shell (who is signed in, the collections they may read, the schema the
page needs); the records themselves are fetched by the page's module, the same way any API
client would. Every page works under a mount prefix: links are built from ``root_path``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from actiondesk.actions.forms import humanize
from actiondesk.data.schema import Collection
from actiondesk.errors import ClientError
from actiondesk.http.auth import access_of
from actiondesk.permissions.access import Access
from actiondesk.services.users import UnauthorizedError

router = APIRouter(include_in_schema=False)

PageContext = Callable[[Access], Awaitable[dict[str, Any]]]
# A signed-in page holds the caller's data and CSRF token: never kept by any cache.
PRIVATE = {"Cache-Control": "no-store"}


def build_templates(template_dirs: tuple[str, ...]) -> Jinja2Templates:
    """Templates under ``actiondesk/``; a user's directories come first, so they override."""
    loaders: list[FileSystemLoader | PackageLoader] = [FileSystemLoader(d) for d in template_dirs]
    loaders.append(PackageLoader("actiondesk", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["humanize"] = humanize
    return Jinja2Templates(env=env)


def root_of(request: Request) -> str:
    """The mount prefix ('' when served alone), never ending with '/'."""
    root: str = request.scope.get("root_path", "") or ""
    return root.rstrip("/")


def safe_next(request: Request, target: str | None) -> str:
    """Where to go after signing in: a path under this desk, never another site."""
    root = root_of(request)
    home = root + "/"
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home
    if any(ord(c) < 32 for c in target) or urlsplit(target).netloc:
        return home
    if root and not (target == root or target.startswith(root + "/")):
        return home
    return target


def _to_login(request: Request) -> RedirectResponse:
    login = root_of(request) + "/login"
    here = request.url.path
    if request.url.query:
        here += "?" + request.url.query
    if here not in (root_of(request) + "/", root_of(request)):
        login += "?next=" + quote(here, safe="")
    return RedirectResponse(login, status_code=303)


def shell_context(request: Request, access: Access) -> dict[str, Any]:
    """What every signed-in page shows: the header, the sidebar, the API's address."""
    desk = request.app.state.desk
    return {
        "title": desk.settings.title,
        "base": root_of(request),
        "caller": access.caller,
        "is_admin": access.is_admin,
        "dev_mode": access.dev_mode,
        "csrf": getattr(request.state, "csrf", None) or "",
        "collections": [c.name for c in desk.records.collections(access)],
        "active_collection": None,
    }


async def render_page(
    request: Request, template: str, context: PageContext | None = None
) -> Response:
    """Render a signed-in page; sign-in first when nobody is; an error page for a client error
    (unknown collection or record, a collection the role may not read)."""
    templates: Jinja2Templates = request.app.state.templates
    try:
        access = await access_of(request)
    except UnauthorizedError:
        return _to_login(request)
    shell = shell_context(request, access)
    try:
        extra = await context(access) if context is not None else {}
    except ClientError as exc:
        return templates.TemplateResponse(
            request, "actiondesk/error.html",
            {**shell, "status": exc.status, "message": exc.message}, status_code=exc.status,
            headers=PRIVATE,
        )
    return templates.TemplateResponse(request, template, {**shell, **extra}, headers=PRIVATE)


@router.get("/", response_class=HTMLResponse, name="home_page")
async def home(request: Request) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        # Only whether there are any: the menu lists them (with their state) when opened.
        registry = request.app.state.desk.registry
        return {"has_global_actions": any(access.visible(a) for a in registry.for_collection(None))}

    return await render_page(request, "actiondesk/home.html", context)


@router.get("/login", response_class=HTMLResponse, name="login_page")
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "actiondesk/login.html",
        {"title": request.app.state.desk.settings.title, "base": root_of(request),
         "next": safe_next(request, next)},
    )


def _targets(request: Request, collection: Collection, access: Access) -> dict[str, Any]:
    """The primary keys of the collections this one links to and the caller may read, so the
    page can link many-to-one values and open related records."""
    datasource = request.app.state.desk.datasource
    names = {rel.target for rel in collection.relationships.values()} | {collection.name}
    return {
        name: {"primary_key": list(datasource.collection(name).primary_key)}
        for name in sorted(names) if access.can_read(name)
    }


def _collection_data(request: Request, collection: Collection, access: Access) -> dict[str, Any]:
    settings = request.app.state.desk.settings
    return {
        "collection": collection.to_json(),
        "targets": _targets(request, collection, access),
        "page_size": settings.default_page_size,
        "max_page_size": settings.max_page_size,
    }


@router.get("/collections/{collection}", response_class=HTMLResponse, name="collection_page")
async def collection_page(request: Request, collection: str) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        found = request.app.state.records.collection(collection, access)
        return {"active_collection": found.name, "collection_name": found.name,
                "page": _collection_data(request, found, access)}

    return await render_page(request, "actiondesk/collection.html", context)


@router.get("/collections/{collection}/records/{record_id}", response_class=HTMLResponse,
            name="record_page")
async def record_page(request: Request, collection: str, record_id: str) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        records = request.app.state.records
        found = records.collection(collection, access)
        record = await records.get(collection, record_id, access)
        data = _collection_data(request, found, access)
        data["record"] = record
        return {"active_collection": found.name, "collection_name": found.name,
                "record_id": record["id"], "page": data}

    return await render_page(request, "actiondesk/record.html", context)
