"""Notification e-mails and webhooks, delivered to real local servers: an SMTP server
(aiosmtpd) and an HTTP receiver that checks the signature with README's receiver. A failing
delivery never fails the decision; it is recorded without the SMTP password or the webhook
secret. README's notification settings load as documented."""

from __future__ import annotations

import json
import logging
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from actiondesk import ConfigurationError, Settings
from tests.activity.activity_app import (
    ADMIN,
    MANAGER,
    REFUND_VALUES,
    SUPPORT,
    Served,
    serve_activity,
)
from tests.activity.receivers import smtp_server, webhook_receiver
from tests.conftest import STRONG_KEY, Environ
from tests.databases import BACKENDS
from tests.doc_blocks import block_named, section
from tests.live_server import free_port
from tests.support import jsonapi

NOTIFICATIONS = section("### Notifications")


def readme_receiver() -> dict[str, Any]:
    """README's notification_receiver.py, run as written."""
    namespace: dict[str, Any] = {"__name__": "notification_receiver"}
    exec(block_named(NOTIFICATIONS, "# notification_receiver.py").text, namespace)  # noqa: S102
    return namespace


RECEIVER = readme_receiver()
SECRET = RECEIVER["SECRET"]
PASSWORD = "Sm7pPassw0rd-not-to-be-logged"
REFUND = "/collections/companies/actions/refund"


def deliveries(served: Served, count: int) -> list[dict[str, Any]]:
    """The admin's view of the deliveries, once ``count`` of them are recorded."""
    deadline = time.monotonic() + 30
    while True:
        found: list[dict[str, Any]] = served.api(ADMIN).get("/notifications/deliveries").json()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def request_and_reject(served: Served) -> str:
    answer = served.api(SUPPORT).post(REFUND, json=jsonapi(["4"], REFUND_VALUES))
    assert answer.status_code == 202, answer.text
    approval_id: str = answer.json()["approval"]["id"]
    rejected = served.api(MANAGER).post(f"/approvals/{approval_id}/reject",
                                        json={"message": "not this month"})
    assert rejected.status_code == 200, rejected.text
    return approval_id


@pytest.mark.parametrize("backend", BACKENDS)
def test_emails_and_signed_webhooks_reach_real_servers(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with smtp_server() as (port, mailbox), webhook_receiver() as (hook_url, hooks), \
            serve_activity(backend, tmp_path_factory.mktemp("deliver"),
                           notify_smtp_url=f"smtp://127.0.0.1:{port}",
                           notify_email_from="desk@example.test",
                           notify_webhook_url=hook_url, notify_webhook_secret=SECRET,
                           public_url="https://desk.example.test/admin") as served:
        approval_id = request_and_reject(served)
        # requested: manager, manager2 and lead by e-mail, one webhook; rejected: the
        # requester by e-mail, one webhook.
        recorded = deliveries(served, 6)
        assert sorted((d["channel"], d["kind"], d["ok"]) for d in recorded) == sorted(
            [("email", "requested", True)] * 3 + [("webhook", "requested", True),
                                                  ("email", "rejected", True),
                                                  ("webhook", "rejected", True)])
        assert {d["target"] for d in recorded if d["channel"] == "webhook"} == {hook_url}

        to_support = [m for rcpt, m in mailbox.messages if rcpt == [SUPPORT]]
        assert len(to_support) == 1
        mail = to_support[0]
        assert mail["From"] == "desk@example.test"
        assert str(mail["Subject"]).strip() == (
            f"Your request Refund (1 record of companies) was rejected by {MANAGER}")
        text = mail.get_content()
        assert "Message: not this month" in text
        assert f"https://desk.example.test/admin/approvals/{approval_id}" in text

        events = []
        for headers, body in hooks.calls:
            payload = RECEIVER["receive"](headers, body)  # checks the signature
            assert headers["X-Actiondesk-Event"] == payload["event"]
            with pytest.raises(RECEIVER["SignatureError"]):
                RECEIVER["receive"](headers, body.replace(b"approval.", b"approval.x"))
            assert payload["approval"]["id"] == approval_id
            events.append(payload["event"])
        assert sorted(events) == ["approval.rejected", "approval.requested"]


def test_a_failing_delivery_is_recorded_and_never_fails_the_decision(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()  # nothing listens there
    with webhook_receiver() as (hook_url, hooks), caplog.at_level(logging.WARNING), \
            serve_activity("sqlite", tmp_path_factory.mktemp("fail"),
                           notify_smtp_url=f"smtp://desk:{PASSWORD}@127.0.0.1:{closed}",
                           notify_webhook_url=hook_url,
                           notify_webhook_secret=SECRET) as served:
        hooks.status = 500
        request_and_reject(served)
        recorded = deliveries(served, 6)
        assert len(recorded) == 6 and not any(d["ok"] for d in recorded)
        errors = {d["channel"]: d["error"] for d in recorded}
        assert errors["webhook"] == "the webhook answered 500"
        assert "SMTP server" in errors["email"]
        # The in-app notification was still written.
        kinds = [n["kind"] for n in served.api(SUPPORT).get("/notifications").json()
                 ["notifications"]]
        assert "rejected" in kinds
        shown = json.dumps(recorded) + caplog.text
        assert "notification webhook" in caplog.text
        assert PASSWORD not in shown and SECRET not in shown


def test_readme_notification_settings_load_as_documented(tmp_path: Path, environ: Environ
                                                        ) -> None:
    exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                   for line in block_named(NOTIFICATIONS, "# notification settings").text
                   .splitlines() if line.startswith("export "))
    environ(exports)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", secret_key=STRONG_KEY)
    assert settings.notify_smtp_url == exports["ACTIONDESK_NOTIFY_SMTP_URL"]
    assert settings.notify_webhook_secret == RECEIVER["SECRET"]
    assert settings.public_url == "https://ops.example.com/admin"
    assert "app-password" not in repr(settings) and SECRET not in repr(settings)


@pytest.mark.parametrize(("values", "named"), [
    ({"notify_webhook_url": "https://hooks.example.com/x"}, "notify_webhook_secret"),
    ({"notify_webhook_url": "ftp://hooks.example.com/x", "notify_webhook_secret": SECRET},
     "notify_webhook_url"),
    ({"notify_webhook_secret": "short"}, "notify_webhook_secret"),
    ({"notify_smtp_url": "mail.example.com:25"}, "notify_smtp_url"),
    ({"notify_timeout": 0}, "notify_timeout"),
])
def test_a_bad_notification_setting_is_named(tmp_path: Path, environ: Environ,
                                             values: dict[str, Any], named: str) -> None:
    environ({})
    with pytest.raises(ConfigurationError) as caught:
        Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", secret_key=STRONG_KEY, **values)
    assert named in str(caught.value)
    assert SECRET not in str(caught.value)
