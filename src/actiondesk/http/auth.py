"""Who is calling: session cookies (with CSRF), bearer tokens, external JWTs; sign-in/out."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from actiondesk.actions.context import Caller
from actiondesk.errors import BadRequestError, ForbiddenError
from actiondesk.http.models import ErrorOut
from actiondesk.permissions.access import Access
from actiondesk.permissions.service import PermissionSnapshot
from actiondesk.services.tokens import ACCESS, SESSION, Claims
from actiondesk.services.users import UnauthorizedError

COOKIE = "actiondesk_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class CallerOut(BaseModel):
    id: str
    email: str
    firstName: str
    lastName: str
    team: str
    role: str
    tags: dict[str, str]


class MeOut(BaseModel):
    user: CallerOut
    csrf_token: str | None = Field(description="Send it as X-CSRF-Token on unsafe requests "
                                   "made with the session cookie.")
    is_admin: bool
    dev_mode: bool


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def authenticate(request: Request) -> Caller:
    """Resolve the caller of an API request (a router dependency); 401 when nobody is signed
    in or the credentials are not valid, 403 on a missing or wrong CSRF token."""
    caller, claims = await _resolve(request)
    csrf = claims.csrf if claims is not None else None
    request.state.caller = caller
    request.state.claims = claims
    request.state.csrf = csrf
    return caller


async def _resolve(request: Request) -> tuple[Caller, Claims | None]:
    desk = request.app.state.desk
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("the Authorization header must be 'Bearer <token>'")
        token = token.strip()
        if desk.tokens.external and not desk.tokens.is_ours(token):
            return desk.tokens.external_caller(token), None
        claims = desk.tokens.verify(token, ACCESS)
        return await _user_caller(request, claims), claims
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise UnauthorizedError("sign in first (session cookie or bearer token)")
    claims = desk.tokens.verify(cookie, SESSION)
    caller = await _user_caller(request, claims)
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not claims.csrf or not hmac.compare_digest(sent.encode(), claims.csrf.encode()):
            request.state.caller = caller
            raise ForbiddenError(f"missing or wrong {CSRF_HEADER} header")
    return caller, claims


async def _user_caller(request: Request, claims: Claims) -> Caller:
    snapshot = await _snapshot(request)
    users = request.app.state.desk.users
    user = await users.current(claims.user_id, snapshot.version)
    if user is None or not user.active:
        raise UnauthorizedError("this account is not active; sign in again")
    if user.session_version != claims.session_version:
        raise UnauthorizedError("the session ended (the account changed or signed out "
                                "everywhere); sign in again")
    if await users.is_revoked(claims.token_id, snapshot.version):
        raise UnauthorizedError("the session ended (signed out); sign in again")
    caller: Caller = user.caller()
    return caller


async def _snapshot(request: Request) -> PermissionSnapshot:
    """The permission snapshot, read once per request."""
    snapshot: PermissionSnapshot | None = getattr(request.state, "snapshot", None)
    if snapshot is None:
        snapshot = await request.app.state.permissions.snapshot()
        request.state.snapshot = snapshot
    return snapshot


async def access_of(request: Request) -> Access:
    """The caller's access for this request (the permission snapshot is cached)."""
    caller = getattr(request.state, "caller", None) or await authenticate(request)
    permissions = request.app.state.permissions
    return Access(caller=caller, snapshot=await _snapshot(request),
                  dev_mode=permissions.dev_mode)


async def require_admin(request: Request) -> Caller:
    caller = getattr(request.state, "caller", None) or await authenticate(request)
    snapshot = await _snapshot(request)
    role = snapshot.role(caller.role)
    if role is None or not role.is_admin:
        raise ForbiddenError(f"role {caller.role!r} is not an admin role; settings are for "
                             "admins")
    result: Caller = caller
    return result


def _cookie_path(request: Request) -> str:
    root: str = request.scope.get("root_path", "") or ""
    return root.rstrip("/") + "/"


@public_router.post(
    "/login", response_model=MeOut,
    responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
    summary="Sign in; sets the session cookie and returns the CSRF token",
)
async def login(request: Request, body: LoginIn) -> Response:
    desk = request.app.state.desk
    user = await desk.users.authenticate(body.email, body.password, _address(request))
    token, csrf = desk.tokens.session(user)
    payload = await _me(request, user.caller(), csrf)
    response = JSONResponse(payload)
    response.set_cookie(
        COOKIE, token, max_age=int(desk.tokens.session_ttl.total_seconds()), httponly=True,
        samesite="lax", secure=request.url.scheme == "https", path=_cookie_path(request),
    )
    return response


@router.post(
    "/logout", status_code=204, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
    summary="Sign out: ends this session (or the bearer token sent) on the server, or with "
    "everywhere=true every session and bearer token of the caller",
)
async def logout(
    request: Request,
    everywhere: Annotated[bool, Query(description="End all of the caller's sessions and "
                                      "bearer tokens, on every device.")] = False,
) -> Response:
    users = request.app.state.desk.users
    claims: Claims | None = request.state.claims
    if claims is None:
        raise BadRequestError("a host application's token is ended by the host application")
    if everywhere:
        await users.sign_out_everywhere(request.state.caller.email)
    else:
        await users.revoke_token(claims.user_id, claims.token_id, claims.expires_at)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path=_cookie_path(request), httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    return response


@router.get("/me", response_model=MeOut, summary="The current caller")
async def me(request: Request) -> Any:
    return await _me(request, request.state.caller, getattr(request.state, "csrf", None))


async def _me(request: Request, caller: Caller, csrf: str | None) -> dict[str, Any]:
    permissions = request.app.state.permissions
    snapshot = await permissions.snapshot()
    role = snapshot.role(caller.role)
    return {
        "user": caller.to_json(),
        "csrf_token": csrf,
        "is_admin": bool(role and role.is_admin),
        "dev_mode": permissions.dev_mode,
    }
