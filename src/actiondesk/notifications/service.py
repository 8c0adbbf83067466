"""Who hears about an approval request, and how.

The approvals workflow tells ``NotificationsService.tell`` what happened, once committed
(``ApprovalsService.on_news``). Approvers (the users of a role that may approve the action,
the requester only with self-approval) hear of a new request; the requester hears of each
decision made by someone else: approved (one of several approvals), rejected, executed,
failed. Each recipient gets one in-app notification (read through the API, marked read by
its owner only), and an e-mail when SMTP is configured; the webhook, when configured, gets
one signed call per event. E-mails and webhooks are sent in the background: the decision's
answer never waits for them, and their failures are recorded in the deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from actiondesk.approvals.model import ApprovalNews, ApprovalRecord
from actiondesk.data.state import StateStore, utcnow
from actiondesk.data.state_schema import users_table
from actiondesk.data.state_schema.activity import (
    notification_deliveries_table,
    notifications_table,
)
from actiondesk.errors import BadRequestError
from actiondesk.notifications.delivery import (
    DeliveryError,
    Smtp,
    post_webhook,
    send_email,
    webhook_target,
)
from actiondesk.permissions.service import PermissionsService

log = logging.getLogger("actiondesk.notifications")

MAX_PAGE_SIZE = 100
MAX_READ_IDS = 500
_n = notifications_table.c
_d = notification_deliveries_table.c
_u = users_table.c
_VERBS = {"approved": "was approved by {actor} (more approvals are needed)",
          "rejected": "was rejected by {actor}", "executed": "was approved and executed",
          "failed": "failed"}


@dataclass(frozen=True)
class NotifyConfig:
    """Where notifications go besides the app (from the desk's settings)."""

    smtp_url: str | None = None
    email_from: str = "actiondesk@localhost"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    timeout: float = 10.0
    public_url: str | None = None


@dataclass(frozen=True)
class Recipient:
    id: str
    email: str


class NotificationsService:
    """In-app notifications in the state database, and their e-mail and webhook copies."""

    def __init__(self, store: StateStore, permissions: PermissionsService,
                 config: NotifyConfig | None = None) -> None:
        self.store = store
        self.permissions = permissions
        self.config = config or NotifyConfig()
        self.smtp = Smtp.parse(self.config.smtp_url) if self.config.smtp_url else None
        self._sending: set[asyncio.Task[None]] = set()

    # -- telling ------------------------------------------------------------------------------

    async def tell(self, news: ApprovalNews) -> None:
        """Notify whoever ``news`` concerns (the workflow's listener)."""
        approval = news.approval
        recipients = await self._recipients(news)
        title, body = _words(news)
        link = f"/approvals/{approval.id}"
        if recipients:
            now = utcnow()
            async with self.store.write() as conn:
                await conn.execute(sa.insert(notifications_table), [
                    {"id": uuid.uuid4().hex, "user_id": r.id, "kind": news.kind,
                     "approval_id": approval.id, "title": title[:300], "body": body,
                     "link": link, "created_at": now} for r in recipients])
        if self.smtp is not None:
            for recipient in recipients:
                self._send(self._email(recipient, news, title, body, link))
        if self.config.webhook_url and self.config.webhook_secret:
            self._send(self._webhook(news, title, recipients, link))

    async def _recipients(self, news: ApprovalNews) -> list[Recipient]:
        approval = news.approval
        actor_id = (news.actor or {}).get("id")
        if news.kind == "requested":
            return await self._approvers(approval)
        if news.kind in _VERBS and actor_id != approval.requester_id:
            return [Recipient(approval.requester_id, approval.requester_email)]
        return []

    async def _approvers(self, approval: ApprovalRecord) -> list[Recipient]:
        snapshot = await self.permissions.snapshot()
        collection = approval.collection or ""
        roles = {p.role: p.self_approval for p in snapshot.policies.values()
                 if p.can_approve and (p.collection or "") == collection
                 and p.action == approval.action_slug}
        if not roles:
            return []
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(_u.id, _u.email, _u.role)
                .where(_u.role.in_(sorted(roles)), _u.active.is_(True)).order_by(_u.email)
            )).all()
        return [Recipient(r.id, r.email) for r in rows
                if r.id != approval.requester_id or roles[r.role]]

    # -- out of the app -----------------------------------------------------------------------

    def _send(self, delivery: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(delivery)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _email(self, to: Recipient, news: ApprovalNews, title: str, body: str,
                     link: str) -> None:
        assert self.smtp is not None  # noqa: S101 - only scheduled with SMTP configured
        url = (self.config.public_url or "").rstrip("/") + link
        text = f"{body}\n\n{url}\n" if self.config.public_url else f"{body}\n"
        await self._attempt("email", to.email, news, send_email(
            self.smtp, self.config.email_from, to.email, title, text, self.config.timeout))

    async def _webhook(self, news: ApprovalNews, title: str, recipients: Sequence[Recipient],
                       link: str) -> None:
        url, secret = self.config.webhook_url, self.config.webhook_secret
        assert url and secret  # noqa: S101 - only scheduled when both are configured
        payload = {"event": f"approval.{news.kind}", "title": title, "link": link,
                   "actor": news.actor, "message": news.message,
                   "approval": news.approval.summary_json(),
                   "requester": {"id": news.approval.requester_id,
                                 "email": news.approval.requester_email},
                   "recipients": [r.email for r in recipients]}
        await self._attempt("webhook", webhook_target(url), news, post_webhook(
            url, secret, f"approval.{news.kind}", payload, self.config.timeout))

    async def _attempt(self, channel: str, target: str, news: ApprovalNews, sending: Any
                       ) -> None:
        error = None
        try:
            await sending
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__} while sending"
        if error is not None:
            log.warning("notification %s to %s failed: %s", channel, target, error)
        try:
            async with self.store.write() as conn:
                await conn.execute(sa.insert(notification_deliveries_table).values(
                    at=utcnow(), channel=channel, target=target[:500], kind=news.kind,
                    approval_id=news.approval.id, ok=error is None, error=error))
        except Exception:
            log.exception("the %s delivery to %s could not be recorded", channel, target)

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait (at most ``seconds``) for the deliveries under way."""
        if self._sending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._sending, return_exceptions=True),
                                       seconds)

    # -- reading ------------------------------------------------------------------------------

    async def page(self, user_id: str, *, unread_only: bool = False, page: int = 1,
                   page_size: int = 20) -> dict[str, Any]:
        """The user's notifications, newest first, with how many are unread."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            field = "page" if page < 1 else "page_size"
            raise BadRequestError(f"{field} is out of range",
                                  fields={field: "page >= 1, page_size 1 to 100"})
        where = [_n.user_id == user_id, *((_n.read_at.is_(None),) if unread_only else ())]
        query = (sa.select(notifications_table).where(*where)
                 .order_by(_n.created_at.desc(), _n.id.desc())
                 .limit(page_size).offset((page - 1) * page_size))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            count = await conn.scalar(sa.select(sa.func.count()).where(*where))
        return {"notifications": [_json(r._mapping) for r in rows], "count": int(count or 0),
                "unread": await self.unread(user_id), "page": page, "page_size": page_size}

    async def unread(self, user_id: str) -> int:
        async with self.store.engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).where(
                _n.user_id == user_id, _n.read_at.is_(None))) or 0)

    async def mark_read(self, user_id: str, ids: Sequence[str] | None) -> int:
        """Mark the user's notifications ``ids`` (all of them with None) read; other
        people's ids are ignored. Returns how many are still unread."""
        if ids is not None and len(ids) > MAX_READ_IDS:
            raise BadRequestError(f"mark at most {MAX_READ_IDS} notifications at once",
                                  fields={"ids": f"at most {MAX_READ_IDS}"})
        where = [_n.user_id == user_id, _n.read_at.is_(None)]
        if ids is not None:
            where.append(_n.id.in_(list(ids)))
        async with self.store.write() as conn:
            await conn.execute(sa.update(notifications_table).where(*where)
                               .values(read_at=utcnow()))
        return await self.unread(user_id)

    async def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest e-mail and webhook attempts, newest first (for admins)."""
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(sa.select(notification_deliveries_table)
                                       .order_by(_d.id.desc()).limit(limit))).all()
        return [{**r._mapping, "at": r.at.isoformat()} for r in rows]


def _words(news: ApprovalNews) -> tuple[str, str]:
    """The title and text of a notification."""
    approval = news.approval
    count = approval.record_count
    what = approval.action_name + (
        f" ({count:,} record{'s' if count != 1 else ''} of {approval.collection})"
        if count is not None and approval.collection else "")
    actor = (news.actor or {}).get("email") or "actiondesk"
    if news.kind == "requested":
        title = f"{approval.requester_email} asks for approval: {what}"
    else:
        title = f"Your request {what} " + _VERBS.get(news.kind, news.kind).format(actor=actor)
    lines = [title]
    if news.message:
        lines.append(f"Message: {news.message}")
    return title, "\n".join(lines)


def _json(m: Any) -> dict[str, Any]:
    return {"id": m["id"], "kind": m["kind"], "approval_id": m["approval_id"],
            "title": m["title"], "body": m["body"], "link": m["link"],
            "created_at": m["created_at"].isoformat(),
            "read_at": m["read_at"].isoformat() if m["read_at"] else None}
