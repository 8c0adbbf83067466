"""The demo's background action, *Audit balances*, over HTTP on a real server: it reports
progress, a cancelled run stops between two batches, and a run left running by a server that
stopped resumes on the next server from its checkpoint and finishes with the right answer."""

from __future__ import annotations

import time
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from actiondesk.demo.app import create_demo_desk
from tests.live_server import live_server
from tests.support import jsonapi
from tests.ui.helpers import ADMIN, api_client, demo_desk, demo_site_in

SECRET = "demo-background-test-secret-Zq8Lr2Vx7Kp4Nw1Y"
ALL = {"all_records": True}


def audit(api: httpx.Client, pause: float) -> str:
    answer = api.post("/collections/accounts/actions/audit-balances",
                      json=jsonapi([], {"pause": pause}, **ALL))
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["run"]["id"]
    return run_id


def wait(api: httpx.Client, run_id: str, until: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = api.get(f"/runs/{run_id}").json()
        if until(run):
            return run
        assert time.monotonic() < deadline, f"the run never got there: {run}"
        time.sleep(0.05)


def expected_differences(directory: Path) -> int:
    site = demo_site_in("", directory)
    balances = site.rows(
        "SELECT a.balance, coalesce((SELECT sum(amount) FROM incomes WHERE account_id = a.id), 0)"
        " - coalesce((SELECT sum(amount) FROM outcomes WHERE account_id = a.id), 0) "
        "FROM accounts a")
    return sum(Decimal(str(b)).quantize(Decimal("0.01")) != Decimal(str(e)).quantize(
        Decimal("0.01")) for b, e in balances)


def test_audit_balances_cancels_and_resumes_after_a_restart(tmp_path: Path) -> None:
    desk = demo_desk(tmp_path, SECRET)
    total = demo_site_in("", tmp_path).rows("SELECT count(*) FROM accounts")[0][0]
    with live_server(desk) as url, closing(api_client(demo_site_in(url, tmp_path), *ADMIN)) as api:
        cancelled = audit(api, 0.3)
        wait(api, cancelled, lambda r: (r.get("progress") or {}).get("done", 0) >= 25)
        assert api.post(f"/runs/{cancelled}/cancel", json={}).status_code in (200, 202)
        stopped = wait(api, cancelled, lambda r: r["status"] == "cancelled")
        assert 0 < stopped["progress"]["done"] < total
        left = audit(api, 0.3)
        wait(api, left, lambda r: (r.get("progress") or {}).get("done", 0) >= 50)
    # The server stopped mid-run; the next one (same files) takes the run up again.
    again = create_demo_desk(tmp_path / "demo.db", secret_key=SECRET)
    with live_server(again) as url, closing(api_client(demo_site_in(url, tmp_path), *ADMIN)) as api:
        run = wait(api, left, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "succeeded", run
    assert run["attempts"] == 2 and run["progress"]["done"] == total
    differ = expected_differences(tmp_path)
    assert run["result"] == {"success": f"{total} accounts audited: {differ} balances differ "
                                        "from their incomes minus outcomes"}
