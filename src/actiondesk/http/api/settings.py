"""The settings API, for admin roles: roles, action policies, action settings, and the
export and import of all of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from actiondesk.actions.context import Caller
from actiondesk.errors import BadRequestError, ConfigurationError, ConflictError
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.api.settings_models import (
    ActionSettingIn,
    ActionSettingList,
    ActionSettingOut,
    PermissionsData,
    PermissionsImport,
    PolicyIn,
    PolicyList,
    PolicyOut,
    RoleIn,
    RoleList,
    RoleOut,
)
from actiondesk.http.dependencies import (
    AdminCaller,
    PermissionsDep,
    ServicesDep,
    require_admin,
)
from actiondesk.permissions.service import (
    action_setting_from_data,
    policy_from_data,
    role_from_data,
)

router = APIRouter(
    prefix="/settings",
    tags=["settings"],
    dependencies=[Depends(require_admin)],
    responses={
        400: {"model": ErrorOut, "description": "Invalid settings (the field is named)."},
        403: {"model": ErrorOut, "description": "The caller's role is not an admin role."},
        409: {"model": ErrorOut, "description": "The change would take away the caller's "
              "own admin access."},
    },
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such role, policy or action setting."}
}
CollectionParam = Annotated[
    str | None,
    Query(max_length=120, description="The action's collection; omit it for a global action."),
]
ActionParam = Annotated[str, Query(max_length=120, description="The action's slug.")]


async def known(services: ServicesDep) -> dict[str, Any]:
    """The desk's actions and collections, so a setting naming neither is refused."""
    actions = {(a.collection, a.slug) for a in services.registry.all()}
    return {"known_actions": actions, "schemas": services.datasource.collections}


Known = Annotated[dict[str, Any], Depends(known)]


def keep_own_admin(caller: Caller, role: str, *, stays_admin: bool, what: str) -> None:
    """Refuse a change that would take away the caller's own admin access: whoever makes it
    could not undo it (another admin, or the CLI, can)."""
    if role == caller.role and not stays_admin:
        raise ConflictError(
            f"{what} would take away your own admin access (role {role!r}); another admin "
            "can do it",
            detail={"role": role},
        )


@router.get("/roles", response_model=RoleList, summary="Every role")
async def list_roles(permissions: PermissionsDep) -> dict[str, Any]:
    roles = await permissions.list_roles()
    return {"roles": [r.to_json() for r in roles]}


@router.get("/roles/{name}", response_model=RoleOut, responses=_NOT_FOUND, summary="One role")
async def get_role(name: str, permissions: PermissionsDep) -> dict[str, Any]:
    return (await permissions.get_role(name)).to_json()


@router.put("/roles/{name}", response_model=RoleOut, summary="Create or replace a role")
async def put_role(name: str, body: RoleIn, permissions: PermissionsDep, caller: AdminCaller,
                   known: Known) -> dict[str, Any]:
    keep_own_admin(caller, name, stays_admin=body.is_admin, what="this change")
    role = role_from_data({"name": name, **body.model_dump()})
    stored = await permissions.put_role(role, schemas=known["schemas"])
    return stored.to_json()


@router.delete(
    "/roles/{name}",
    status_code=204,
    response_class=Response,
    responses={**_NOT_FOUND, 409: {"model": ErrorOut, "description": "Users have the role."}},
    summary="Delete a role and its policies",
)
async def delete_role(name: str, permissions: PermissionsDep, caller: AdminCaller) -> Response:
    keep_own_admin(caller, name, stays_admin=False, what="deleting the role")
    await permissions.delete_role(name)
    return Response(status_code=204)


@router.get("/policies", response_model=PolicyList, summary="Policies, of one role or all")
async def list_policies(
    permissions: PermissionsDep,
    role: Annotated[str | None, Query(max_length=100, description="Only this role's.")] = None,
) -> dict[str, Any]:
    policies = await permissions.list_policies(role)
    return {"policies": [p.to_json() for p in policies]}


@router.put(
    "/policies",
    response_model=PolicyOut,
    summary="Create or replace the policy of a role for an action",
)
async def put_policy(body: PolicyIn, permissions: PermissionsDep,
                     known: Known) -> dict[str, Any]:
    policy = policy_from_data(body.model_dump())
    stored = await permissions.put_policy(policy, **known)
    return stored.to_json()


@router.delete(
    "/policies",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Delete a policy (the action is then hidden from the role)",
)
async def delete_policy(
    permissions: PermissionsDep,
    role: Annotated[str, Query(max_length=100)],
    action: ActionParam,
    collection: CollectionParam = None,
) -> Response:
    await permissions.delete_policy(role, collection, action)
    return Response(status_code=204)


@router.get("/actions", response_model=ActionSettingList, summary="Every action setting")
async def list_action_settings(permissions: PermissionsDep) -> dict[str, Any]:
    settings = await permissions.list_action_settings()
    return {"actions": [s.to_json() for s in settings]}


@router.put("/actions", response_model=ActionSettingOut, summary="Set an action's settings")
async def put_action_setting(body: ActionSettingIn, permissions: PermissionsDep,
                             known: Known) -> dict[str, Any]:
    setting = action_setting_from_data(body.model_dump())
    stored = await permissions.put_action_setting(setting, **known)
    return stored.to_json()


@router.delete(
    "/actions",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Reset an action's settings (visible, no extra condition)",
)
async def delete_action_setting(
    permissions: PermissionsDep, action: ActionParam, collection: CollectionParam = None
) -> Response:
    await permissions.delete_action_setting(collection, action)
    return Response(status_code=204)


@router.get(
    "/permissions/export",
    response_model=PermissionsData,
    summary="Every role, policy and action setting",
)
async def export_permissions(permissions: PermissionsDep) -> dict[str, Any]:
    return await permissions.export_data()


@router.post(
    "/permissions/import",
    response_model=PermissionsData,
    summary="Apply exported permissions: all checked first, nothing applied on a problem",
    description="Replaces every role, policy and action setting, or with merge=true only "
    "those given. A 400 lists every problem in detail.problems. Answers the permissions "
    "now in force.",
)
async def import_permissions(
    body: PermissionsImport,
    permissions: PermissionsDep,
    caller: AdminCaller,
    known: Known,
    merge: Annotated[
        bool, Query(description="Keep what the import does not mention.")
    ] = False,
) -> dict[str, Any]:
    own = [r for r in body.roles if r.name == caller.role]
    keep_own_admin(caller, caller.role, stays_admin=all(r.is_admin for r in own) and (
        bool(own) or merge), what="this import")
    try:
        await permissions.import_data(body.model_dump(), replace=not merge, **known)
    except ConfigurationError as exc:
        raise BadRequestError(str(exc), detail={"problems": exc.problems}) from None
    return await permissions.export_data()
