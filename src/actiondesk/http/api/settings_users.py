"""Users in the settings API (admins): list, create, change role, (de)activate, password,
end their sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from actiondesk.errors import ConflictError
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.api.settings import keep_own_admin
from actiondesk.http.dependencies import AdminCaller, Snapshot, UsersDep, require_admin

router = APIRouter(prefix="/settings", tags=["settings"], dependencies=[Depends(require_admin)])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}


class UserOut(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    team: str
    role: str
    tags: dict[str, str]
    active: bool


class UserList(BaseModel):
    users: list[UserOut]


class UserIn(BaseModel):
    email: str = Field(max_length=320)
    role: str = Field(max_length=100)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    team: str = Field(default="", max_length=100)
    tags: dict[str, str] = Field(default_factory=dict)
    password: str | None = Field(default=None, max_length=1024,
                                 description="Omit for an account that signs in with tokens.")


class UserChange(BaseModel):
    role: str | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: str | None = Field(default=None, max_length=1024)


@router.get("/users", response_model=UserList, responses=_ERRORS, summary="Users")
async def list_users(users: UsersDep) -> Any:
    return {"users": [u.to_json() for u in await users.list()]}


@router.post("/users", response_model=UserOut, status_code=201, responses=_ERRORS,
             summary="Create a user")
async def create_user(body: UserIn, users: UsersDep) -> Any:
    user = await users.create(
        body.email, role=body.role, password=body.password, first_name=body.first_name,
        last_name=body.last_name, team=body.team, tags=body.tags,
    )
    return user.to_json()


@router.patch("/users/{email}", response_model=UserOut, responses=_ERRORS,
              summary="Change a user's role, activity or password (their sessions end)")
async def change_user(email: str, body: UserChange, users: UsersDep, caller: AdminCaller,
                      snapshot: Snapshot) -> Any:
    user = await users.require(email)
    if user.id == caller.id:
        if body.active is False:
            raise ConflictError("you cannot deactivate your own account; another admin can")
        if body.role is not None and body.role != user.role:
            role = snapshot.role(body.role)
            keep_own_admin(caller, user.role, stays_admin=bool(role and role.is_admin),
                           what=f"changing your role to {body.role!r}")
    if body.role is not None:
        user = await users.set_role(email, body.role)
    if body.active is not None:
        user = await (users.activate(email) if body.active else users.deactivate(email))
    if body.password is not None:
        user = await users.set_password(email, body.password)
    return user.to_json()


@router.post("/users/{email}/sessions/revoke", response_model=UserOut, responses=_ERRORS,
             summary="End every session and bearer token of a user (they may sign in again)")
async def revoke_sessions(email: str, users: UsersDep) -> Any:
    return (await users.sign_out_everywhere(email)).to_json()
