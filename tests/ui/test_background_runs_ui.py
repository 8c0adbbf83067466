"""Background runs (issue 8) in a real browser: the run page shows a progress bar that moves as
batches commit (server-sent events, no reload), the run ends on its own, and Cancel stops a
running one. The execute dialog answers a queued run with a link to its page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from actiondesk import ActionContext, Success
from actiondesk import fields as f
from actiondesk.desk import Desk
from tests.live_server import live_server
from tests.support import execute, jsonapi
from tests.ui.helpers import (
    ADMIN,
    Site,
    api_client,
    demo_desk,
    demo_site_in,
    expect,
    screenshot,
)


def add_background_action(desk: Desk) -> None:
    @desk.action("companies", name="Tag companies", scope="bulk", form=[f.Number("delay")],
                 background=True)
    async def tag(ctx: ActionContext) -> Success:
        delay = float(ctx.values.get("delay") or 0)
        batches = ctx.batches(size=20)
        async for _batch in batches:
            await asyncio.sleep(delay)
        return Success(f"{batches.done} companies tagged")


async def provision(desk: Desk) -> None:
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.permissions.service import Policy

    await seed_demo_access(desk)
    await desk.permissions.put_policy(Policy("admin", "companies", "tag-companies"))


@pytest.fixture(scope="module")
def background_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("ui-background")
    desk = demo_desk(directory, "ui-background-secret", add=add_background_action,
                     provision=provision)
    with live_server(desk) as url:
        yield demo_site_in(url, directory)


def queue_run(site: Site, delay: float) -> str:
    with closing(api_client(site, *ADMIN)) as api:
        answer = execute(api, "tag-companies", jsonapi([], {"delay": delay}, all_records=True))
        assert answer.status_code == 202, answer.text
        run_id: str = answer.json()["run"]["id"]
        return run_id


def test_progress_follows_a_background_run_until_it_ends(
    new_page: Any, background_site: Site
) -> None:
    total = background_site.rows("SELECT count(*) FROM companies")[0][0]
    run_id = queue_run(background_site, 0.15)
    page = new_page(background_site, *ADMIN)
    with page.expect_response(re.compile(rf"/api/runs/{run_id}/events$")) as events:
        page.goto(background_site.url + f"/runs/{run_id}")
    assert events.value.status == 200
    bar = page.locator("[data-progress]")
    expect(bar).to_have_attribute("max", str(total))
    expect(page.locator("[data-progress-text]")).to_contain_text(f"of {total:,} records")
    # The bar moves without a reload, then the run ends on its own.
    expect(bar).not_to_have_attribute("value", "0")
    screenshot(page, "run-background-progress")
    expect(page.locator("[data-detail=status]")).to_have_text("Succeeded")
    expect(bar).to_have_attribute("value", str(total))
    expect(page.locator("[data-result]")).to_contain_text(f"{total} companies tagged")
    expect(page.locator("[data-cancel-run]")).to_have_count(0)


def test_cancel_a_running_background_run(new_page: Any, background_site: Site) -> None:
    run_id = queue_run(background_site, 0.5)
    page = new_page(background_site, *ADMIN)
    page.goto(background_site.url + f"/runs/{run_id}")
    cancel = page.locator("[data-cancel-run]")
    expect(cancel).to_be_visible()
    cancel.click()
    expect(page.locator("[data-toasts] .toast").filter(has_text="Cancel requested")).to_be_visible()
    expect(page.locator("[data-detail=status]")).to_have_text("Cancelled")
    stored = background_site.state_rows("SELECT status FROM actiondesk_runs WHERE id = ?",
                                        run_id)[0][0]
    assert stored == "cancelled"


def test_the_dialog_links_a_queued_run_to_its_page(new_page: Any, background_site: Site) -> None:
    page = new_page(background_site, *ADMIN)
    page.goto(background_site.url + "/collections/companies")
    expect(page.locator("table tbody tr").first).to_be_visible()
    page.locator("[data-select-page]").check()
    page.locator(".page-header [data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=tag-companies]").click()
    dialog = page.locator("dialog[data-action-dialog=tag-companies]")
    dialog.get_by_label("Delay").fill("0")
    dialog.locator("[data-submit]").click()
    notice = page.locator("[data-toasts] .toast").filter(has_text="runs in the background")
    expect(notice).to_be_visible()
    notice.get_by_role("link", name="Follow its progress").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    expect(page.locator("[data-detail=status]")).to_have_text("Succeeded")
