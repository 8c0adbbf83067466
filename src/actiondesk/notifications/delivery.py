"""Sending a notification out of the app: an e-mail through SMTP, or a signed webhook.

Both are optional and configured in settings (``notify_smtp_url``, ``notify_webhook_url`` and
``notify_webhook_secret``). A delivery runs after the decision it tells of was committed, off
the request's path, with a timeout; its failure is recorded (channel, target, error type) and
logged, never with the SMTP password or the webhook secret.

The webhook is signed like remote actions' messages (``actiondesk.remote.signing``): the
``X-Actiondesk-Timestamp``, ``X-Actiondesk-Nonce`` and ``X-Actiondesk-Signature`` headers,
``v1=<hex HMAC-SHA256(secret, "<timestamp>.<nonce>." + body)>``; a receiver checks it with
``actiondesk.remote.signing.verify`` or a few lines of any language.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from actiondesk.errors import ConfigurationError
from actiondesk.remote.signing import sign

EVENT_HEADER = "X-Actiondesk-Event"


class DeliveryError(Exception):
    """A delivery that did not arrive; the message is safe to record (no secret in it)."""


@dataclass(frozen=True)
class Smtp:
    """Where e-mails go: ``smtp://[user:password@]host[:port][?starttls=true]``, or
    ``smtps://`` for TLS from the start (port 465)."""

    host: str
    port: int
    tls: bool
    starttls: bool
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> Smtp:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                "notify_smtp_url must look like smtp://[user:password@]host[:port]"
                "[?starttls=true] or smtps://...")
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["false"])[-1].lower() in ("1", "true", "yes")
        tls = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if tls else 25)
        except ValueError:
            raise ConfigurationError("notify_smtp_url has a port that is no number") from None
        return cls(host=parts.hostname, port=port, tls=tls, starttls=starttls,
                   user=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)

    def send(self, message: EmailMessage, timeout: float) -> None:
        """Send one message (blocking: run it in a thread)."""
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with client:
            if self.starttls:
                client.starttls(context=context)
            if self.user is not None:
                client.login(self.user, self.password or "")
            client.send_message(message)


async def send_email(smtp: Smtp, sender: str, to: str, subject: str, text: str,
                     seconds: float) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    try:
        await asyncio.to_thread(smtp.send, message, seconds)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"the SMTP server answered {exc.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__} talking to the SMTP server") from None


def webhook_target(url: str) -> str:
    """The webhook's address as recorded: without credentials or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


async def post_webhook(url: str, secret: str, event: str, payload: dict[str, Any],
                       seconds: float) -> None:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", EVENT_HEADER: event, **sign(secret, body)}
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as client:
            answer = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__} calling the webhook") from None
    if not 200 <= answer.status_code < 300:
        raise DeliveryError(f"the webhook answered {answer.status_code}")
