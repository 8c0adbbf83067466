"""Signing in and out, and who the caller is (``/api/login``, ``/api/logout``, ``/api/me``).

How a request's caller is found is in ``http/dependencies.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from actiondesk.actions.context import Caller
from actiondesk.errors import BadRequestError
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import (
    COOKIE,
    Authenticated,
    PermissionsDep,
    ServicesDep,
    Snapshot,
    UsersDep,
)
from actiondesk.permissions.service import PermissionSnapshot, PermissionsService

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


def _cookie_path(request: Request) -> str:
    root: str = request.scope.get("root_path", "") or ""
    return root.rstrip("/") + "/"


@public_router.post(
    "/login", response_model=MeOut,
    responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
    summary="Sign in; sets the session cookie and returns the CSRF token",
)
async def login(request: Request, body: LoginIn, services: ServicesDep) -> Response:
    address = request.client.host if request.client else None
    user = await services.users.authenticate(body.email, body.password, address)
    token, csrf = services.tokens.session(user)
    permissions = services.permissions
    payload = _me(user.caller(), csrf, await permissions.snapshot(), permissions)
    response = JSONResponse(payload)
    response.set_cookie(
        COOKIE, token, max_age=int(services.tokens.session_ttl.total_seconds()), httponly=True,
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
    auth: Authenticated,
    users: UsersDep,
    everywhere: Annotated[bool, Query(description="End all of the caller's sessions and "
                                      "bearer tokens, on every device.")] = False,
) -> Response:
    claims = auth.claims
    if claims is None:
        raise BadRequestError("a host application's token is ended by the host application")
    if everywhere:
        await users.sign_out_everywhere(auth.caller.email)
    else:
        await users.revoke_token(claims.user_id, claims.token_id, claims.expires_at)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path=_cookie_path(request), httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    return response


@router.get("/me", response_model=MeOut, summary="The current caller")
async def me(auth: Authenticated, snapshot: Snapshot, permissions: PermissionsDep) -> Any:
    return _me(auth.caller, auth.csrf, snapshot, permissions)


def _me(caller: Caller, csrf: str | None, snapshot: PermissionSnapshot,
        permissions: PermissionsService) -> dict[str, Any]:
    role = snapshot.role(caller.role)
    return {
        "user": caller.to_json(),
        "csrf_token": csrf,
        "is_admin": bool(role and role.is_admin),
        "dev_mode": permissions.dev_mode,
    }
