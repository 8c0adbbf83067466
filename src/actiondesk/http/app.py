"""Build the FastAPI application of a desk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from actiondesk.http import actions, records, runs
from actiondesk.http.errors import install_error_handlers

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
        docs_url="/api/docs",
        redoc_url=None,
        debug=False,
    )
    app.state.desk = desk
    app.state.records = desk.records
    app.state.actions = desk.actions
    app.state.runs = desk.runs
    install_error_handlers(app)

    api = APIRouter(prefix="/api")
    api.include_router(records.router)
    api.include_router(actions.router)
    api.include_router(runs.router)
    app.include_router(api)

    templates = _templates(desk)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "actiondesk/home.html",
            {"title": desk.settings.title, "collections": desk.records.collections()},
        )

    return app


def _version() -> str:
    from actiondesk import __version__

    return __version__
