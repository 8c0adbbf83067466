"""The desk the attack suite attacks: the sample schema, roles with partial read access, an
approval rule, and actions that hand user input to every kind of result (HTML, redirects,
webhooks, downloads, uploads), as a careless developer might."""

from __future__ import annotations

from typing import Any

from actiondesk import (
    ActionContext,
    Desk,
    File,
    FormContext,
    Html,
    Redirect,
    Success,
    Webhook,
)
from actiondesk import fields as f
from actiondesk.permissions.service import Policy, RoleSpec
from tests.sample_schema import metadata

SECRET = "attack-suite-secret"
PASSWORD = "correct-horse-battery"
MAX_BODY = 64 * 1024
MAX_FILE = 2048

ADMIN = "admin@attack.test"
AGENT = "agent@attack.test"  # reads companies only; triggers the actions below
MALLORY = "mallory@attack.test"  # the same role: an insider attacking another session
APPROVER = "approver@attack.test"
LOCKED = "locked@attack.test"  # brute-forced
# A company whose name is markup: what a record value, a form label or an enum label may hold.
XSS_RECORD = "30"
XSS_NAME = '<script>alert("name")</script><img src=x onerror=alert(1)>'

ROLES = [
    RoleSpec("admin", is_admin=True, read_all=True),
    RoleSpec("agent", readable=frozenset({"companies"})),
    RoleSpec("approver", readable=frozenset({"companies"})),
]
SLUGS = ("echo-html", "describe", "redirect-to", "webhook-to", "download-as", "upload",
         "touch", "bulk-touch")
POLICIES = [
    *(Policy("agent", "companies", slug) for slug in SLUGS),
    *(Policy("admin", "companies", slug) for slug in SLUGS),
    Policy("agent", "companies", "wire-money", "approval"),
    Policy("approver", "companies", "wire-money", "trigger", can_approve=True),
    # Even a role that may approve its own requests of other actions may not here.
    Policy("agent", "companies", "self-check", "approval", can_approve=True),
    Policy("admin", "companies", "purge"),  # hidden from agents: no policy
    Policy("admin", "companies", "crash"),
]
USERS: dict[str, tuple[str, str | None]] = {
    ADMIN: ("admin", None), AGENT: ("agent", PASSWORD), MALLORY: ("agent", PASSWORD),
    APPROVER: ("approver", None), LOCKED: ("agent", PASSWORD),
}


async def _record_name(ctx: FormContext) -> Any:
    if ctx.selection is None:
        return None
    record = await ctx.selection.record()
    return record["name"]


async def _status_labels(ctx: FormContext) -> list[str]:
    """Enum labels taken from the data: whatever a record holds becomes a label."""
    labels = ["keep"]
    if ctx.selection is not None:
        labels.append(str((await ctx.selection.record())["name"]))
    return labels


def build_desk(data_url: str, state_url: str) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET,
                models=[metadata], max_body_bytes=MAX_BODY)

    @desk.action("companies", name="Echo html", form=[f.Text("html")])
    async def echo_html(ctx: ActionContext) -> Html:
        return Html(str(ctx.values.get("html") or ""))

    @desk.action("companies", name="Describe", form=[
        f.String("note", description=_record_name, label=_record_name),
        f.Enum("label", enum_values=_status_labels),
    ])
    async def describe(ctx: ActionContext) -> Success:
        return Success("described")

    @desk.action("companies", name="Redirect to", form=[f.String("to")])
    async def redirect_to(ctx: ActionContext) -> Redirect:
        return Redirect(str(ctx.values.get("to")))

    @desk.action("companies", name="Webhook to", form=[f.String("url")])
    async def webhook_to(ctx: ActionContext) -> Webhook:
        return Webhook(str(ctx.values.get("url")))

    @desk.action("companies", name="Download as", download=True, form=[f.String("name")])
    async def download_as(ctx: ActionContext) -> File:
        return File(filename=str(ctx.values.get("name")), content=b"report", mime="text/plain")

    @desk.action("companies", name="Upload", form=[f.File("doc", max_file_bytes=MAX_FILE)])
    async def upload(ctx: ActionContext) -> Success:
        doc = ctx.values["doc"]
        return Success(f"stored as {doc.filename}")

    @desk.action("companies", name="Touch")
    async def touch(ctx: ActionContext) -> Success:
        return Success("touched")

    @desk.action("companies", name="Bulk touch", scope="bulk")
    async def bulk_touch(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        return Success(f"{await ctx.selection.count()} touched")

    @desk.action("companies", name="Wire money", form=[f.Decimal("amount", required=True)])
    async def wire_money(ctx: ActionContext) -> Success:
        return Success(f"wired {ctx.values['amount']}")

    @desk.action("companies", name="Purge", scope="bulk")
    async def purge(ctx: ActionContext) -> Success:
        return Success("purged")

    @desk.action("companies", name="Crash")
    async def crash(ctx: ActionContext) -> None:
        raise RuntimeError("an internal detail")

    @desk.action("companies", name="Self check")
    async def self_check(ctx: ActionContext) -> Success:
        return Success("checked")

    return desk
