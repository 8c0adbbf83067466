"""Build the FastAPI application of a desk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from actiondesk.http import (
    actions,
    approvals,
    audit,
    auth,
    docs,
    pages,
    pages_activity,
    pages_settings,
    records,
    remote,
    run_events,
    runs,
    settings,
    settings_users,
)
from actiondesk.http.errors import install_error_handlers
from actiondesk.http.models import ErrorOut
from actiondesk.http.openapi import install_openapi

if TYPE_CHECKING:
    from actiondesk.desk import Desk


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
                   run_events.router, approvals.router, audit.router, settings.router,
                   settings_users.router, remote.router):
        app.include_router(
            router, prefix="/api", dependencies=[Depends(auth.authenticate)],
            responses={401: {"model": ErrorOut, "description": "Not signed in."}},
        )

    app.include_router(docs.router)
    app.state.templates = pages.build_templates(desk.template_dirs)
    app.mount("/static", StaticFiles(packages=[("actiondesk", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(pages_activity.router)
    app.include_router(pages_settings.router)

    return app


def _version() -> str:
    from actiondesk import __version__

    return __version__
