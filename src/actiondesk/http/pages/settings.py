"""The settings pages, for admin roles: users, roles, the permission matrix and the action
settings. Anyone else gets a 403 page. The pages embed the desk's schema (collections, actions
and their form fields, to build conditions); the settings themselves come from the settings
API, which checks again that the caller is an admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from actiondesk.actions.forms import FormFieldType
from actiondesk.actions.spec import Action
from actiondesk.data.filters import Condition, Group
from actiondesk.errors import ForbiddenError
from actiondesk.http.dependencies import Services
from actiondesk.http.pages.shell import Page, PageContext, PageRequest, root_of
from actiondesk.permissions.access import Access
from actiondesk.permissions.model import MAX_APPROVALS

router = APIRouter(include_in_schema=False)

SECTIONS = (("users", "Users"), ("roles", "Roles"), ("permissions", "Permissions"),
            ("actions", "Actions"))

# A form field as the filter builder sees it (the filter language's types); lists, files and
# JSON cannot be tested by a condition on values, so they are left out.
_FILTER_TYPES = {
    FormFieldType.STRING: "string", FormFieldType.TEXT: "text",
    FormFieldType.NUMBER: "number", FormFieldType.DECIMAL: "decimal",
    FormFieldType.BOOLEAN: "boolean", FormFieldType.DATE: "datetime",
    FormFieldType.DATE_ONLY: "date", FormFieldType.TIME: "time",
    FormFieldType.DATETIME: "datetime", FormFieldType.ENUM: "enum",
    FormFieldType.REFERENCE: "string",
}


def _form_fields(action: Action) -> list[dict[str, Any]]:
    fields = []
    for spec in action.form:
        kind = _FILTER_TYPES.get(spec.type)
        if kind is None:
            continue
        values = spec.enum_values if isinstance(spec.enum_values, list | tuple) else None
        fields.append({"name": spec.name, "type": kind,
                       "enum_values": list(values) if values is not None else None})
    return fields


def _code_condition(action: Action) -> dict[str, Any] | str | None:
    """The enabled_if declared in code: a filter, "function" for a Python test, or None."""
    if isinstance(action.enabled_if, Condition | Group):
        return action.enabled_if.to_json()
    return "function" if action.enabled_if is not None else None


def _schema(services: Services) -> dict[str, Any]:
    """Every collection's fields and every action, with the fields its conditions may test."""
    collections = services.datasource.collections
    actions: list[dict[str, Any]] = [
        {"slug": a.slug, "name": a.name, "collection": a.collection, "scope": a.scope.value,
         "description": a.description, "form_fields": _form_fields(a),
         "code_condition": _code_condition(a)}
        for a in services.registry.all()
    ]
    actions.sort(key=lambda a: (a["collection"] is None, a["collection"] or "",
                                a["name"].lower()))
    return {
        "collections": {name: [f.to_json() for f in c.fields.values()]
                        for name, c in sorted(collections.items())},
        "actions": actions,
    }


def _admin_only(access: Access) -> None:
    if not access.is_admin:
        raise ForbiddenError(f"settings are for admins; role {access.caller.role!r} is not an "
                             "admin role")


async def _settings_page(page: PageRequest, section: str, data: PageContext | None = None
                         ) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        _admin_only(access)
        page = {"me": access.caller.email}
        if data is not None:
            page.update(await data(access))
        return {"active_section": "settings", "section": section, "sections": SECTIONS,
                "page": page}

    return await page.render(f"actiondesk/settings_{section}.html", context)


@router.get("/settings", name="settings_page")
async def settings_home(request: Request) -> Response:
    return RedirectResponse(root_of(request) + "/settings/users", status_code=303)


@router.get("/settings/users", response_class=HTMLResponse, name="settings_users_page")
async def users_page(page: Page) -> Response:
    return await _settings_page(page, "users")


@router.get("/settings/roles", response_class=HTMLResponse, name="settings_roles_page")
async def roles_page(page: Page) -> Response:
    async def data(access: Access) -> dict[str, Any]:
        return {"collections": sorted(page.services.datasource.collections)}

    return await _settings_page(page, "roles", data)


@router.get("/settings/permissions", response_class=HTMLResponse,
            name="settings_permissions_page")
async def permissions_page(page: Page) -> Response:
    async def data(access: Access) -> dict[str, Any]:
        return {**_schema(page.services), "max_approvals": MAX_APPROVALS}

    return await _settings_page(page, "permissions", data)


@router.get("/settings/actions", response_class=HTMLResponse, name="settings_actions_page")
async def actions_page(page: Page) -> Response:
    async def data(access: Access) -> dict[str, Any]:
        return _schema(page.services)

    return await _settings_page(page, "actions", data)
