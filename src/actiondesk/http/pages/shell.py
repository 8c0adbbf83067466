"""What every page shares: the templates, the shell of a signed-in page, and ``Page``, the
dependency a page route takes to render itself.

A page renders only the shell (who is signed in, the collections they may read, the schema the
page needs); the records themselves are fetched by the page's module, the same way any API
client would. Every page works under a mount prefix: links are built from ``root_path``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from actiondesk.actions.forms import humanize
from actiondesk.errors import ClientError
from actiondesk.http.dependencies import (
    Authentication,
    Services,
    ServicesDep,
    authenticate,
    current_access,
    permission_snapshot,
)
from actiondesk.permissions.access import Access
from actiondesk.services.users import UnauthorizedError

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


async def templates_of(request: Request) -> Jinja2Templates:
    """The templates ``build_app`` made."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


TemplatesDep = Annotated[Jinja2Templates, Depends(templates_of)]


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


@dataclass(frozen=True)
class PageRequest:
    """A request for a signed-in page: who asks (None when nobody is signed in) and what
    rendering needs."""

    request: Request
    services: Services
    templates: Jinja2Templates
    auth: Authentication | None
    access: Access | None

    def shell(self, access: Access) -> dict[str, Any]:
        """What every signed-in page shows: the header, the sidebar, the API's address."""
        return {
            "title": self.services.settings.title,
            "base": root_of(self.request),
            "caller": access.caller,
            "is_admin": access.is_admin,
            "dev_mode": access.dev_mode,
            "csrf": (self.auth.csrf if self.auth is not None else None) or "",
            "collections": [c.name for c in self.services.records.collections(access)],
            "collection_labels": self.services.records.labels(access),
            "active_collection": None,
        }

    async def render(self, template: str, context: PageContext | None = None) -> Response:
        """Render the page; sign-in first when nobody is; an error page for a client error
        (unknown collection or record, a collection the role may not read)."""
        if self.access is None:
            return _to_login(self.request)
        shell = self.shell(self.access)
        try:
            extra = await context(self.access) if context is not None else {}
        except ClientError as exc:
            return self.templates.TemplateResponse(
                self.request, "actiondesk/error.html",
                {**shell, "status": exc.status, "message": exc.message},
                status_code=exc.status, headers=PRIVATE,
            )
        return self.templates.TemplateResponse(self.request, template, {**shell, **extra},
                                               headers=PRIVATE)


async def page_request(request: Request, services: ServicesDep,
                       templates: TemplatesDep) -> PageRequest:
    try:
        auth = await authenticate(request, services)
    except UnauthorizedError:
        return PageRequest(request, services, templates, None, None)
    access = await current_access(auth.caller, await permission_snapshot(auth, services),
                                  services.permissions)
    return PageRequest(request, services, templates, auth, access)


Page = Annotated[PageRequest, Depends(page_request)]
