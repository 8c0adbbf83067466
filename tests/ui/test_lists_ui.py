"""The list tools in Chromium on the demo: the Export button (shown only to roles with the
export right; the file is the list on screen) and saved views (save, share, open from the
sidebar, the code's views, select-all from a view runs on the view's filter, delete). Every
page: no console error, no CSP violation (the new_page fixture fails the test on one)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.helpers import ADMIN, MANAGER, SUPPORT, Site, expect, screenshot, toasts

INVITED = {"field": "status", "operator": "equal", "value": "invited"}


@pytest.fixture
def console_errors() -> Iterator[list[str]]:
    errors: list[str] = []
    yield errors
    assert not errors, f"console errors: {errors}"


def signed_in(new_page: Any, site: Site, who: tuple[str, str], errors: list[str]) -> Any:
    page = new_page(site, *who)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


def wait_for_table(page: Any) -> None:
    expect(page.locator("table tbody tr").first).to_be_visible()
    expect(page.locator("[data-state=loading]")).to_have_count(0)


def test_export_downloads_the_list_on_screen(new_page: Any, demo_site: Site,
                                             console_errors: list[str]) -> None:
    page = signed_in(new_page, demo_site, ADMIN, console_errors)
    flt = {"field": "status", "operator": "equal", "value": "live"}
    page.goto(demo_site.url + "/collections/companies?sort=-name&filter=" + json.dumps(flt))
    wait_for_table(page)
    page.locator("[data-export-button]").click()
    menu = page.locator("[data-export-menu]")
    expect(menu).to_contain_text("Export")
    screenshot(page, "companies-export-menu")
    with page.expect_download() as download:
        menu.locator("[data-export-format=csv]").click()
    path = download.value.path()
    assert download.value.suggested_filename.startswith("companies-")
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    shown = page.locator("thead [data-sort-field]")
    header = [shown.nth(i).get_attribute("data-sort-field") for i in range(shown.count())]
    live = demo_site.rows("SELECT name FROM companies WHERE status = 'live' ORDER BY name DESC")
    assert len(rows) - 1 == len(live) and rows[0] == header
    names = [r[rows[0].index("name")] for r in rows[1:]]
    assert names == [r[0] for r in live]
    with page.expect_download() as jsonl:
        page.locator("[data-export-button]").click()
        menu.locator("[data-export-format=jsonl]").click()
    lines = Path(jsonl.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(live) and "values" in json.loads(lines[0])
    # Each export is a run in the audit, shown like a select-all of the list's filter.
    runs = page.request.get(demo_site.url + "/api/runs?action=export.csv").json()["runs"]
    page.goto(demo_site.url + f"/runs/{runs[0]['id']}")
    expect(page.locator("[data-selection]")).to_contain_text(
        f"All {len(live)} companies matching the list's filter")
    screenshot(page, "export-run")


def test_no_export_button_without_the_right(new_page: Any, demo_site: Site,
                                            console_errors: list[str]) -> None:
    page = signed_in(new_page, demo_site, SUPPORT, console_errors)
    page.goto(demo_site.url + "/collections/companies")
    wait_for_table(page)
    expect(page.locator("[data-save-view]")).to_be_visible()
    expect(page.locator("[data-export-button]")).to_have_count(0)


def test_a_view_declared_in_code_opens_from_the_sidebar(new_page: Any, demo_site: Site,
                                                       console_errors: list[str]) -> None:
    page = signed_in(new_page, demo_site, SUPPORT, console_errors)
    page.goto(demo_site.url + "/")
    link = page.locator("[data-sidebar-views=companies] a", has_text="Pending companies")
    link.click()
    expect(page).to_have_url(re.compile(r"view=code-companies-pending-companies"))
    wait_for_table(page)
    expect(page.locator("[data-view-name]")).to_have_text("Pending companies")
    expect(page.locator("[data-view-title]")).to_have_text(
        "View: Pending companies · from the code")
    expect(page.locator("[data-filter-chip]")).to_contain_text("pending")
    expect(page.locator("thead [data-sort-field]")).to_have_count(5)
    pending = demo_site.rows("SELECT count(*) FROM companies WHERE status = 'pending'")[0][0]
    expect(page.locator("[data-count]")).to_contain_text(f"{pending} compan")
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.locator("[data-delete-view]")).to_have_count(0)  # nobody edits the code's
    for width, height in ((1440, 900), (1024, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"companies-code-view-{width}")


def test_save_share_open_select_all_and_delete_a_view(new_page: Any, demo_site: Site,
                                                     console_errors: list[str]) -> None:
    page = signed_in(new_page, demo_site, ADMIN, console_errors)
    page.goto(demo_site.url + "/collections/users?sort=email&filter=" + json.dumps(INVITED))
    wait_for_table(page)
    page.locator("[data-save-view]").click()
    dialog = page.locator("dialog[data-view-dialog]")
    dialog.get_by_label("Name").fill("Invited users")
    dialog.get_by_label("manager").check()
    screenshot(page, "users-save-view-dialog")
    dialog.locator("[data-save-view-submit]").click()
    expect(page).to_have_url(re.compile(r"/collections/users\?.*view=[0-9a-f]{32}"))
    wait_for_table(page)
    expect(page.locator("[data-view-name]")).to_have_text("Invited users")
    sidebar_link = page.locator("[data-sidebar-views=users] a", has_text="Invited users")
    expect(sidebar_link).to_have_attribute("aria-current", "page")

    # The owner changes the list and saves the changes into the view.
    view_id = page.url.rsplit("view=", 1)[1]
    page.locator("[data-sort-field=lastname]").click()
    expect(page.locator("[data-sort-field=lastname]")).to_have_attribute("data-direction", "asc")
    page.locator("[data-save-view]").click()
    expect(dialog.get_by_label("Name")).to_have_value("Invited users")
    expect(dialog.get_by_label("manager")).to_be_checked()
    dialog.locator("[data-save-view-submit]").click()
    expect(page).to_have_url(re.compile(rf"view={view_id}"))
    wait_for_table(page)
    saved = page.request.get(demo_site.url + f"/api/collections/users/views/{view_id}").json()
    assert saved["sort"] == "lastname" and saved["filter"] == INVITED

    # A bad name is refused in the dialog, naming the field; nothing else changes.
    page.locator("[data-save-view]").click()
    dialog.get_by_label("Name").fill("Invited users")
    dialog.locator("[data-save-as-new]").click()
    expect(dialog.locator("[data-view-error]")).to_contain_text("Name")
    dialog.get_by_role("button", name="Cancel").click()
    # The browser logs the refused request itself; that one was expected.
    console_errors.remove("Failed to load resource: the server responded with a status of "
                          "409 (Conflict)")

    # Select-all on the view runs on the view's filter.
    invited = demo_site.rows("SELECT count(*) FROM users WHERE status = 'invited'")[0][0]
    page.locator("[data-select-page]").check()
    if invited > 25:
        page.locator("[data-select-all]").click()
    with page.expect_request(re.compile(r"/actions/mail-users$")) as sent:
        page.locator(".page-header [data-actions-button]").click()
        page.locator("[data-actions-menu] [data-action=mail-users]").click()
        action = page.locator("dialog[data-action-dialog=mail-users]")
        action.get_by_label("Subject").fill("Welcome")
        action.get_by_label("Body").fill("Please accept your invitation")
        action.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text=f"for {invited} users")).to_be_visible()
    attributes = sent.value.post_data_json["data"]["attributes"]
    if invited > 25:
        assert attributes["all_records"] is True
        assert json.loads(attributes["all_records_subset_query"]["filters"]) == INVITED

    # Shared with the manager role: the manager sees it, support does not.
    manager = signed_in(new_page, demo_site, MANAGER, console_errors)
    manager.goto(demo_site.url + "/collections/users")
    expect(manager.locator("[data-sidebar-views=users] a",
                           has_text="Invited users")).to_be_visible()
    support = signed_in(new_page, demo_site, SUPPORT, console_errors)
    support.goto(demo_site.url + "/collections/users")
    wait_for_table(support)
    expect(support.locator("[data-view-link]", has_text="Invited users")).to_have_count(0)

    page.once("dialog", lambda d: d.accept())
    page.locator("[data-delete-view]").click()
    expect(page).to_have_url(re.compile(r"/collections/users$"))
    wait_for_table(page)
    expect(page.locator("[data-view-link]", has_text="Invited users")).to_have_count(0)
