"""Build the FastAPI application of a desk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from actiondesk.errors import ClientError
from actiondesk.http import (
    actions,
    approvals,
    audit,
    auth,
    docs,
    records,
    runs,
    settings,
    settings_users,
)
from actiondesk.http.errors import install_error_handlers
from actiondesk.http.models import ErrorOut
from actiondesk.http.openapi import install_openapi

if TYPE_CHECKING:
    from actiondesk.desk import Desk


def _templates(desk: Desk) -> Jinja2Templates:
    loaders: list[FileSystemLoader | PackageLoader] = [
        FileSystemLoader(d) for d in desk.template_dirs
    ]
    loaders.append(PackageLoader("actiondesk", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return Jinja2Templates(env=env)


def build_app(desk: Desk) -> FastAPI:
    app = FastAPI(
        title=desk.settings.title,
        version=_version(),
        openapi_url="/api/openapi.json",
        docs_url=None,  # served by http/docs.py, with its own Content-Security-Policy
        redoc_url=None,
        debug=False,
    )
    app.state.desk = desk
    app.state.records = desk.records
    app.state.actions = desk.actions
    app.state.runs = desk.runs
    app.state.approvals = desk.approvals
    app.state.permissions = desk.permissions
    app.state.audit = desk.audit
    install_error_handlers(app)
    install_openapi(app)

    app.include_router(auth.public_router, prefix="/api")
    # Included one by one rather than through a shared /api router: every level of routers
    # is matched again on every request. The busiest routes come first.
    for router in (actions.router, records.router, auth.router, runs.router,
                   approvals.router, audit.router, settings.router, settings_users.router):
        app.include_router(
            router, prefix="/api", dependencies=[Depends(auth.authenticate)],
            responses={401: {"model": ErrorOut, "description": "Not signed in."}},
        )

    app.include_router(docs.router)
    templates = _templates(desk)

    app.mount("/static", StaticFiles(packages=[("actiondesk", "static")]), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> Response:
        try:
            access = await auth.access_of(request)
        except ClientError:
            return RedirectResponse(request.url_for("login_page"), status_code=303)
        return templates.TemplateResponse(
            request,
            "actiondesk/home.html",
            {"title": desk.settings.title, "collections": desk.records.collections(access),
             "caller": access.caller, "dev_mode": access.dev_mode},
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False,
             name="login_page")
    async def login_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "actiondesk/login.html", {"title": desk.settings.title}
        )

    return app


def _version() -> str:
    from actiondesk import __version__

    return __version__
