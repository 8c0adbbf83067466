"""Build the FastAPI application of a desk from its services."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from actiondesk.http.api import (
    actions,
    activity,
    approvals,
    audit,
    auth,
    docs,
    exports,
    notifications,
    record_writes,
    records,
    remote,
    run_events,
    runs,
    settings,
    settings_users,
    views,
)
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import Services, authenticate
from actiondesk.http.middleware.errors import install_error_handlers
from actiondesk.http.middleware.openapi import install_openapi
from actiondesk.http.pages import activity as activity_pages
from actiondesk.http.pages import records as record_pages
from actiondesk.http.pages import settings as settings_pages
from actiondesk.http.pages.shell import build_templates
from actiondesk.version import __version__


def build_app(services: Services) -> FastAPI:
    app = FastAPI(
        title=services.settings.title,
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served by http/api/docs.py, with its own Content-Security-Policy
        redoc_url=None,
        debug=False,
    )
    # What the dependencies (http/dependencies.py) and the error handlers read.
    app.state.services = services
    app.state.templates = build_templates(services.template_dirs)
    install_error_handlers(app)
    install_openapi(app)

    # The execute routes first, as plain Starlette endpoints (see execute_endpoint).
    for path in actions.EXECUTE_PATHS:
        app.router.routes.append(
            Route(f"/api{path}", actions.execute_endpoint, methods=["POST"],
                  include_in_schema=False))
    app.include_router(auth.public_router, prefix="/api")
    # Included one by one rather than through a shared /api router: every level of routers
    # is matched again on every request. The busiest routes come first.
    for router in (actions.router, records.router, exports.router, record_writes.router,
                   auth.router, runs.router, run_events.router, approvals.router, audit.router,
                   settings.router, settings_users.router, remote.router, activity.router,
                   notifications.router, views.router):
        app.include_router(
            router, prefix="/api", dependencies=[Depends(authenticate)],
            responses={401: {"model": ErrorOut, "description": "Not signed in."}},
        )

    app.include_router(docs.router)
    app.mount("/static", StaticFiles(packages=[("actiondesk", "static")]), name="static")
    app.include_router(record_pages.router)
    app.include_router(activity_pages.router)
    app.include_router(settings_pages.router)

    return app


class ExecuteFirst:
    """The execute routes answered before FastAPI's own layers: its middleware stack (error
    and telemetry middleware, body limit, exit stack) and its router cost more than a tenth of
    a millisecond per request, a share of the busiest route's own work. The same endpoint and
    the same error handlers as in the app (``build_app`` keeps the routes too); every other
    request goes to the app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.routes = [Route(f"/api{path}", actions.execute_endpoint, methods=["POST"])
                       for path in actions.EXECUTE_PATHS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self.app
                    await self._execute(Request(scope, receive, send), send)
                    return
        await self.app(scope, receive, send)

    async def _execute(self, request: Request, send: Send) -> None:
        try:
            response = await actions.execute_endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(request.scope, request.receive, send)

    def _handler(self, exc: Exception) -> Any:
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return handlers[kind]
        return None
