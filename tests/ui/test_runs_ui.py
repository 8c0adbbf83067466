"""The runs audit in a real browser: the list and its filters (checked against the state
database), a run's page, a run followed live while it is still running, and who may see what.
The demo desk gets one extra action, "Slow export", which waits until the test releases it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from actiondesk import ActionContext, Success
from actiondesk.desk import Desk
from tests.live_server import live_server
from tests.support import execute, jsonapi
from tests.ui.helpers import (
    ADMIN,
    SUPPORT,
    Site,
    api_client,
    demo_desk,
    demo_site_in,
    expect,
    screenshot,
)

RELEASE = threading.Event()


def add_slow_export(desk: Desk) -> None:
    @desk.action("companies", name="Slow export", description="Waits for the test.")
    async def slow_export(ctx: ActionContext) -> Success:
        await anyio.to_thread.run_sync(RELEASE.wait, 60)
        return Success("Export finished")


async def provision(desk: Desk) -> None:
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.permissions.service import Policy

    await seed_demo_access(desk)
    await desk.permissions.put_policy(Policy("admin", "companies", "slow-export", "trigger"))


@pytest.fixture(scope="module")
def runs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("ui-runs")
    desk = demo_desk(directory, "ui-runs-secret", add=add_slow_export, provision=provision)
    with live_server(desk) as url:
        site = demo_site_in(url, directory)
        make_runs(site)
        yield site


def make_runs(site: Site) -> None:
    """A few runs by two people, one of them refused."""
    admin, support = api_client(site, *ADMIN), api_client(site, *SUPPORT)
    try:
        live = [str(r[0]) for r in site.rows(
            "SELECT id FROM companies WHERE status != 'live' ORDER BY id LIMIT 3")]
        assert execute(admin, "mark-as-live", jsonapi([live[0]], {})).status_code == 200
        assert execute(support, "mark-as-live", jsonapi([live[1]], {})).status_code == 200
        assert execute(support, "charge-credit-card",
                       jsonapi(["5"], {"amount": "12.5", "description": "Small"}),
                       "customers").status_code == 200
        # Already live: a refused run (an unreadable collection is audited, not a run).
        assert execute(support, "mark-as-live", jsonapi([live[1]], {})).status_code == 403
    finally:
        admin.close()
        support.close()


def count(site: Site, where: str = "1 = 1", *params: Any) -> int:
    return int(site.state_rows(f"SELECT count(*) FROM actiondesk_runs WHERE {where}",
                               *params)[0][0])


def user_id(site: Site, email: str) -> str:
    return str(site.state_rows("SELECT id FROM actiondesk_users WHERE email = ?", email)[0][0])


def plural(n: int) -> str:
    return f"{n} run{'' if n == 1 else 's'}"


def test_runs_list_filters_and_run_detail(new_page: Any, runs_site: Site) -> None:
    page = new_page(runs_site, *ADMIN)
    page.goto(runs_site.url + "/runs")
    expect(page.locator("[data-count]")).to_have_text(plural(count(runs_site)))
    screenshot(page, "runs")

    page.get_by_label("Action").select_option("mark-as-live")
    live_runs = count(runs_site, "action_slug = 'mark-as-live'")
    expect(page.locator("[data-count]")).to_have_text(plural(live_runs))
    expect(page.locator("tbody tr")).to_have_count(live_runs)
    assert "action=mark-as-live" in page.url

    page.get_by_label("Caller").fill("support@demo.example")
    support_live = count(runs_site, "action_slug = 'mark-as-live' AND caller_id = ?",
                         user_id(runs_site, SUPPORT[0]))
    expect(page.locator("[data-count]")).to_have_text(plural(support_live))
    expect(page.locator("tbody tr").first).to_contain_text("support@demo.example")

    page.locator("[data-clear-filters]").click()
    page.get_by_label("Status").select_option("refused")
    expect(page.locator("[data-count]")).to_have_text(plural(count(runs_site,
                                                                   "status = 'refused'")))
    expect(page.locator("tbody [data-status]").first).to_have_text("Refused")
    page.get_by_label("To", exact=True).fill("2001-01-01")
    expect(page.locator("[data-state=empty]")).to_contain_text("No run matches")
    # The filters live in the URL: a reload keeps them.
    page.reload()
    expect(page.get_by_label("Status")).to_have_value("refused")
    expect(page.locator("[data-state=empty]")).to_be_visible()
    page.locator("[data-clear-filters]").click()

    # A run's page: who, what, on which record, with which values, and how it ended.
    run = runs_site.state_rows("SELECT id, selection FROM actiondesk_runs WHERE action_slug = "
                               "'charge-credit-card' ORDER BY started_at DESC LIMIT 1")[0]
    page.locator(f"[data-run-link='{run['id']}']").click()
    expect(page).to_have_url(runs_site.url + f"/runs/{run['id']}")
    expect(page.locator("[data-detail=caller]")).to_have_text(
        "Support Demo (support@demo.example)")
    expect(page.locator("[data-detail=status]")).to_have_text("Succeeded")
    expect(page.locator("[data-detail=value-amount]")).to_have_text("12.5")
    expect(page.locator("[data-detail=value-description]")).to_have_text("Small")
    expect(page.locator("[data-detail=duration]")).to_have_text(re.compile(r"^[\d.]+ m?s$"))
    expect(page.locator("[data-result] .charge-amount")).to_have_text("12.50 EUR")
    record = page.locator("[data-records] a")
    name = runs_site.rows("SELECT firstname || ' ' || lastname FROM customers WHERE id = 5")[0][0]
    expect(record).to_have_text(name)  # the record by its label, its id beside it
    expect(record).to_have_attribute("data-label-id", "5")
    screenshot(page, "run-detail")
    record.click()
    expect(page).to_have_url(runs_site.url + "/collections/customers/records/5")


def test_non_admins_see_only_their_own_runs(new_page: Any, runs_site: Site) -> None:
    page = new_page(runs_site, *SUPPORT)
    page.goto(runs_site.url + "/runs")
    mine = count(runs_site, "caller_id = ?", user_id(runs_site, SUPPORT[0]))
    expect(page.locator("[data-count]")).to_have_text(f"{plural(mine)} of yours")
    expect(page.locator("[data-filter=caller]")).to_have_count(0)
    expect(page.locator("[data-filter=action]")).to_be_visible()
    admins = runs_site.state_rows("SELECT id FROM actiondesk_runs WHERE caller_id = ? LIMIT 1",
                                  user_id(runs_site, ADMIN[0]))[0][0]
    response = page.goto(runs_site.url + f"/runs/{admins}")
    assert response.status == 403
    expect(page.get_by_text("only admins may see other people's runs")).to_be_visible()
    response = page.goto(runs_site.url + "/runs/" + "f" * 32)
    assert response.status == 404


def test_a_running_run_is_followed_until_it_ends(new_page: Any, runs_site: Site) -> None:
    RELEASE.clear()
    before = count(runs_site)
    with ThreadPoolExecutor(max_workers=1) as pool:
        admin = api_client(runs_site, *ADMIN)
        try:
            answer = pool.submit(execute, admin, "slow-export", jsonapi(["4"], {}))
            deadline = time.monotonic() + 20
            while count(runs_site) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            run_id = runs_site.state_rows("SELECT id FROM actiondesk_runs WHERE action_slug "
                                          "= 'slow-export' AND status = 'running'")[0][0]
            page = new_page(runs_site, *ADMIN)
            page.goto(runs_site.url + f"/runs/{run_id}")
            expect(page.locator("[data-detail=status]")).to_have_text("Running")
            expect(page.locator("[data-detail=finished]")).to_have_count(0)
            # An inline run cannot be cancelled: no button.
            expect(page.locator("[data-cancel-run]")).to_have_count(0)
            screenshot(page, "run-running")
            RELEASE.set()
            assert answer.result(timeout=30).status_code == 200
        finally:
            RELEASE.set()
            admin.close()
    # Without a reload: the page follows the run (events, or polling) until it ends.
    expect(page.locator("[data-detail=status]")).to_have_text("Succeeded")
    expect(page.locator("[data-result]")).to_contain_text("Export finished")
    expect(page.locator("[data-detail=finished]")).to_be_visible()


def test_refused_requests_audit_for_admins(new_page: Any, runs_site: Site) -> None:
    support = api_client(runs_site, *SUPPORT)
    try:
        assert support.get("/settings/users").status_code == 403
    finally:
        support.close()
    page = new_page(runs_site, *ADMIN)
    page.goto(runs_site.url + "/runs")
    page.get_by_role("navigation", name="Audits").get_by_role(
        "link", name="Refused requests").click()
    expect(page).to_have_url(runs_site.url + "/audit")
    page.get_by_label("Kind").select_option("forbidden")
    forbidden = runs_site.state_rows("SELECT count(*) FROM actiondesk_audit_events WHERE "
                                     "kind = 'forbidden'")[0][0]
    expect(page.locator("tbody tr")).to_have_count(forbidden)
    row = page.locator("tbody tr").filter(has_text="/api/settings/users").first
    expect(row).to_contain_text("support@demo.example")
    expect(row).to_contain_text("GET /api/settings/users")
    expect(row).to_contain_text("settings are for admins")
    screenshot(page, "audit-refused-requests")
    # Others get a 403 page, and no tabs on their runs page.
    other = new_page(runs_site, *SUPPORT)
    assert other.goto(runs_site.url + "/audit").status == 403
    other.goto(runs_site.url + "/runs")
    expect(other.locator("[data-count]")).to_contain_text("of yours")
    expect(other.get_by_role("navigation", name="Audits")).to_have_count(0)
