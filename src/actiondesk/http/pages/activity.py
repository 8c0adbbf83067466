"""The pages of what actions did and wait for: approval requests, the runs audit, and (for
admins) the audit of refused requests.

As every page, they render a shell; the lists are fetched by the page's module from the same
JSON API as any client. A detail page embeds the one object it shows (read with the caller's
access, so an unknown id is a 404 page and another person's run a 403 page).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from actiondesk.actions.registry import ActionRegistry
from actiondesk.approvals.model import APPROVAL_STATUSES
from actiondesk.errors import ForbiddenError
from actiondesk.http.middleware.errors import AUDITED_KINDS
from actiondesk.http.pages.shell import Page
from actiondesk.permissions.access import Access
from actiondesk.runs.records import RUN_STATUSES

router = APIRouter(include_in_schema=False)

BOXES = ("requested", "to_review", "history")
AUDIT_KINDS = tuple(AUDITED_KINDS.values())
AUDIT_LIMIT = 500  # the latest refusals shown (the API gives at most 1000)


def action_choices(registry: ActionRegistry, access: Access) -> list[dict[str, Any]]:
    """The actions a filter may offer: all of them to admins, else those the caller may see or
    approve (so a list never names an action hidden from them)."""
    snapshot = access.snapshot
    chosen = []
    for action in registry.all():
        policy = snapshot.policies.get((access.caller.role, action.collection, action.slug))
        if access.is_admin or access.visible(action) or (policy is not None
                                                          and policy.can_approve):
            chosen.append({"slug": action.slug, "name": action.name,
                           "collection": action.collection})
    return sorted(chosen, key=lambda a: (a["name"].lower(), a["collection"] or ""))


def _can_review(access: Access) -> bool:
    return any(p.role == access.caller.role and p.can_approve
               for p in access.snapshot.policies.values())


@router.get("/approvals", response_class=HTMLResponse, name="approvals_page")
async def approvals_page(page: Page) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        reviews = _can_review(access)
        return {"active_section": "approvals", "page": {
            "boxes": list(BOXES), "default_box": "to_review" if reviews else "requested",
            "statuses": list(APPROVAL_STATUSES),
            "actions": action_choices(page.services.registry, access),
            "can_review": reviews, "is_admin": access.is_admin,
        }}

    return await page.render("actiondesk/approvals.html", context)


@router.get("/approvals/{approval_id}", response_class=HTMLResponse, name="approval_page")
async def approval_page(page: Page, approval_id: str) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        approval = await page.services.approvals.get(approval_id, access)
        collection = approval["action"]["collection"]
        return {"active_section": "approvals", "approval_id": approval["id"],
                "action_name": approval["action"]["name"], "page": {
                    "approval": approval, "me": access.caller.id, "is_admin": access.is_admin,
                    "readable": bool(collection) and access.can_read(collection),
                }}

    return await page.render("actiondesk/approval.html", context)


@router.get("/runs", response_class=HTMLResponse, name="runs_page")
async def runs_page(page: Page) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        return {"active_section": "runs", "page": {
            "statuses": list(RUN_STATUSES),
            "actions": action_choices(page.services.registry, access),
            "is_admin": access.is_admin,
        }}

    return await page.render("actiondesk/runs.html", context)


@router.get("/audit", response_class=HTMLResponse, name="audit_page")
async def audit_page(page: Page) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        if not access.is_admin:
            raise ForbiddenError("the audit of refused requests is for admins; role "
                                 f"{access.caller.role!r} is not an admin role")
        return {"active_section": "runs", "page": {"kinds": list(AUDIT_KINDS),
                                                   "limit": AUDIT_LIMIT}}

    return await page.render("actiondesk/audit.html", context)


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="run_page")
async def run_page(page: Page, run_id: str) -> Response:
    async def context(access: Access) -> dict[str, Any]:
        run = await page.services.runs.get(run_id)
        if not access.is_admin and run.caller.get("id") != access.caller.id:
            raise ForbiddenError("only admins may see other people's runs")
        found = run.to_json()
        collection = found["collection"]
        return {"active_section": "runs", "run_id": found["id"],
                "action_name": found["action_name"], "page": {
                    "run": found, "me": access.caller.id, "is_admin": access.is_admin,
                    "readable": bool(collection) and access.can_read(collection),
                }}

    return await page.render("actiondesk/run.html", context)
