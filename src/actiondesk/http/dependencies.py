"""What a route needs, as typed FastAPI dependencies: the desk's services and who is calling.

The desk builds one ``Services`` and hands it to ``build_app``; a route names what it uses
(``pipeline: PipelineDep``, ``access: CurrentAccess``...) and FastAPI provides it. FastAPI
calls a dependency once per request however many parameters and sub-dependencies name it, so
the caller is authenticated, and the permission snapshot read, once per request.

Who is calling: a session cookie (unsafe methods also need the CSRF token the session was
given), a bearer token, or a JWT of the host application (``external_identity_secret``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from actiondesk.actions.context import Caller
from actiondesk.actions.registry import ActionRegistry
from actiondesk.activity.service import ActivityService
from actiondesk.approvals.workflow import ApprovalsService
from actiondesk.background.service import BackgroundRuns
from actiondesk.catalog.forms import Forms
from actiondesk.catalog.listing import Catalog
from actiondesk.data.datasource import Datasource
from actiondesk.errors import ForbiddenError
from actiondesk.execution.pipeline import ExecutionPipeline
from actiondesk.exports.service import ExportService
from actiondesk.notifications.service import NotificationsService
from actiondesk.permissions.access import Access
from actiondesk.permissions.service import PermissionSnapshot, PermissionsService
from actiondesk.remote.service import RemoteService
from actiondesk.runs.store import RunsService
from actiondesk.services.audit import AuditService
from actiondesk.services.records import RecordsService
from actiondesk.services.tokens import ACCESS, SESSION, Claims, TokenService
from actiondesk.services.users import UnauthorizedError, UsersService
from actiondesk.settings import Settings
from actiondesk.views.service import ViewsService

COOKIE = "actiondesk_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """Everything the routes use, built by the desk (``Desk.services``)."""

    settings: Settings
    datasource: Datasource
    registry: ActionRegistry
    records: RecordsService
    catalog: Catalog
    forms: Forms
    actions: ExecutionPipeline
    runs: RunsService
    background: BackgroundRuns
    approvals: ApprovalsService
    permissions: PermissionsService
    users: UsersService
    tokens: TokenService
    audit: AuditService
    remote: RemoteService
    activity: ActivityService
    notifications: NotificationsService
    exports: ExportService
    views: ViewsService
    template_dirs: tuple[str, ...] = ()


async def services_of(request: Request) -> Services:
    """The desk's services (``build_app`` keeps them on the application)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services_of)]


def _part(get: Callable[[Services], T]) -> Any:
    """A dependency on one of the services."""

    async def part(services: ServicesDep) -> T:
        return get(services)

    return Depends(part)


PipelineDep = Annotated[ExecutionPipeline, _part(lambda s: s.actions)]
CatalogDep = Annotated[Catalog, _part(lambda s: s.catalog)]
FormsDep = Annotated[Forms, _part(lambda s: s.forms)]
RecordsDep = Annotated[RecordsService, _part(lambda s: s.records)]
RunsDep = Annotated[RunsService, _part(lambda s: s.runs)]
BackgroundDep = Annotated[BackgroundRuns, _part(lambda s: s.background)]
ApprovalsDep = Annotated[ApprovalsService, _part(lambda s: s.approvals)]
PermissionsDep = Annotated[PermissionsService, _part(lambda s: s.permissions)]
UsersDep = Annotated[UsersService, _part(lambda s: s.users)]
RemoteDep = Annotated[RemoteService, _part(lambda s: s.remote)]
AuditDep = Annotated[AuditService, _part(lambda s: s.audit)]
ActivityDep = Annotated[ActivityService, _part(lambda s: s.activity)]
NotificationsDep = Annotated[NotificationsService, _part(lambda s: s.notifications)]
ExportsDep = Annotated[ExportService, _part(lambda s: s.exports)]
ViewsDep = Annotated[ViewsService, _part(lambda s: s.views)]


@dataclass(frozen=True)
class Authentication:
    """Who sent the request, and with what."""

    caller: Caller
    claims: Claims | None  # None: a host application's token
    # The permissions read while checking a user of this desk (None for a host's token).
    snapshot: PermissionSnapshot | None

    @property
    def csrf(self) -> str | None:
        return self.claims.csrf if self.claims is not None else None


async def authenticate(request: Request, services: ServicesDep) -> Authentication:
    """The caller of an API request (a router dependency); 401 when nobody is signed in or
    the credentials are not valid, 403 on a missing or wrong CSRF token."""
    tokens = services.tokens
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("the Authorization header must be 'Bearer <token>'")
        token = token.strip()
        if tokens.external and not tokens.is_ours(token):
            caller = tokens.external_caller(token)
            request.state.caller = caller
            return Authentication(caller, None, None)
        claims = tokens.verify(token, ACCESS)
    else:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise UnauthorizedError("sign in first (session cookie or bearer token)")
        claims = tokens.verify(cookie, SESSION)
    snapshot = await services.permissions.snapshot()
    caller = await _user_caller(services.users, claims, snapshot.version)
    # Error handlers get no dependencies: this is how the audit of a refusal names the caller.
    request.state.caller = caller
    if not header and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not claims.csrf or not hmac.compare_digest(sent.encode(), claims.csrf.encode()):
            raise ForbiddenError(f"missing or wrong {CSRF_HEADER} header")
    return Authentication(caller, claims, snapshot)


async def _user_caller(users: UsersService, claims: Claims, version: int) -> Caller:
    user = await users.current(claims.user_id, version)
    if user is None or not user.active:
        raise UnauthorizedError("this account is not active; sign in again")
    if user.session_version != claims.session_version:
        raise UnauthorizedError("the session ended (the account changed or signed out "
                                "everywhere); sign in again")
    if await users.is_revoked(claims.token_id, version):
        raise UnauthorizedError("the session ended (signed out); sign in again")
    caller: Caller = user.caller()
    return caller


Authenticated = Annotated[Authentication, Depends(authenticate)]


async def permission_snapshot(auth: Authenticated, services: ServicesDep) -> PermissionSnapshot:
    """The permissions in force for this request (read once)."""
    if auth.snapshot is not None:
        return auth.snapshot
    return await services.permissions.snapshot()


Snapshot = Annotated[PermissionSnapshot, Depends(permission_snapshot)]


async def current_caller(auth: Authenticated) -> Caller:
    return auth.caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def current_access(caller: CurrentCaller, snapshot: Snapshot,
                         permissions: PermissionsDep) -> Access:
    """What the caller may do in this request."""
    return Access(caller=caller, snapshot=snapshot, dev_mode=permissions.dev_mode)


CurrentAccess = Annotated[Access, Depends(current_access)]


async def require_admin(caller: CurrentCaller, snapshot: Snapshot) -> Caller:
    """The caller, when their role is an admin role (a router dependency); else 403."""
    role = snapshot.role(caller.role)
    if role is None or not role.is_admin:
        raise ForbiddenError(f"role {caller.role!r} is not an admin role; settings are for "
                             "admins")
    return caller


AdminCaller = Annotated[Caller, Depends(require_admin)]
