"""The desk under test: local actions plus every kind of remote provider."""

from __future__ import annotations

from dataclasses import dataclass

from actiondesk import ActionContext, Condition, Desk, Success
from actiondesk import fields as f
from tests.remote.remote_app import SECRET
from tests.sample_schema import metadata


@dataclass(frozen=True)
class Remote:
    """Where the remote test services listen."""

    base: str
    wsgi: str
    down: str


def build_desk(db_url: str, state_url: str, remote: Remote, *, dev_mode: bool = True,
               refresh_interval: float = 0) -> Desk:
    desk = Desk(database_url=db_url, state_url=state_url, secret_key="remote-desk-key",
                models=[metadata], dev_mode=dev_mode, remote_refresh_interval=refresh_interval)

    @desk.action("companies", name="Mark as Live",
                 enabled_if=Condition("status", "not_equal", "live"))
    async def mark_as_live(ctx: ActionContext) -> Success:
        return Success("local")

    desk.remote_provider("native", url=remote.base + "/native/", secret=SECRET, batch_size=7)
    desk.remote_provider("jet", url=remote.base + "/jet/", secret=SECRET,
                         collections={"app.Company": "companies",
                                      "app.Transaction": "transactions"})
    desk.remote_provider("garbage", url=remote.base + "/garbage", secret=SECRET, timeout=2,
                         max_answer_bytes=1_000_000)
    desk.remote_provider("slowlist", url=remote.base + "/slowlist", secret=SECRET, timeout=1)
    desk.remote_provider("down", url=remote.down, secret=SECRET, timeout=2)
    desk.remote_provider("wrongkey", url=remote.base + "/native/",
                         secret="not-the-secret-the-remote-knows-0123")
    desk.remote_provider("wsgi", url=remote.wsgi, secret=SECRET)
    desk.remote_provider("endpoints", url=remote.base, secret=SECRET, discover=False,
                         batch_size=7)
    desk.endpoint_action("companies", name="Ship by endpoint", endpoint="/endpoint/ship",
                         provider="endpoints", scope="bulk",
                         form=[f.Decimal("fee", required=True, min="0")])
    desk.endpoint_action("companies", name="Export by endpoint",
                         endpoint=remote.base + "/endpoint/file", provider="endpoints",
                         http_method="put", download=True)
    desk.endpoint_action("companies", name="Refused by endpoint", endpoint="/endpoint/fail",
                         provider="endpoints")
    return desk
