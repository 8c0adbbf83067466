"""The record's Activity tab and the notifications menu in a real browser, on the demo: support
charges a customer (once directly, once above the approval threshold), the manager is told of
the request in the header, follows it and rejects it, support is told of the decision; both
runs and the request show on the customer's Activity tab. No JavaScript or CSP error (the
``new_page`` fixture fails the test on one); screenshots at 1440, 1024 and 390 px wide."""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

from tests.support import execute, jsonapi
from tests.ui.helpers import MANAGER, SUPPORT, Site, api_client, expect, screenshot

CUSTOMER = 21
WIDTHS = (1440, 1024, 390)


def charge(site: Site, amount: str, description: str) -> Any:
    with closing(api_client(site, *SUPPORT)) as client:
        answer = execute(client, "charge-credit-card",
                         jsonapi([str(CUSTOMER)], {"amount": amount, "description": description}),
                         collection="customers")
    assert answer.status_code in (200, 202), answer.text
    return answer


def shots(page: Any, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 860 if width > 400 else 844})
        screenshot(page, f"{name}-{width}")
        # Nothing wider than the screen: the header and the tab fit a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 1280, "height": 860})


def unread_badge(page: Any) -> Any:
    return page.locator("[data-notifications-count]")


def test_the_activity_tab_lists_runs_and_requests_on_the_record(
    new_page: Any, demo_site: Site
) -> None:
    direct = charge(demo_site, "40", "Small top-up")
    run_id = direct.headers["X-Actiondesk-Run-Id"]
    request = charge(demo_site, "4500", "Yearly plan")
    approval_id = request.json()["approval"]["id"]

    support = new_page(demo_site, *SUPPORT)
    support.goto(demo_site.url + f"/collections/customers/records/{CUSTOMER}")
    support.locator("[data-tab=activity]").click()
    expect(support).to_have_url(re.compile(r"#activity$"))
    panel = support.locator("[data-tab-panel=activity]")
    entries = panel.locator(".activity-entry")
    expect(entries.first).to_have_attribute("data-kind", "approval_request")
    newest = entries.first
    expect(newest).to_contain_text("Charge credit card")
    expect(newest.locator("[data-status]")).to_have_text("Pending")
    expect(newest.locator("[data-activity-link=approval]")).to_have_attribute(
        "href", re.compile(f"/approvals/{approval_id}$"))
    ran = panel.locator(f".activity-entry[data-run-id='{run_id}']")
    expect(ran.locator("[data-status]")).to_have_text("Succeeded")
    expect(ran).to_contain_text("Selected")
    shots(support, "record-activity-tab")

    # The manager sees the request waiting for them, not support's own run.
    manager = new_page(demo_site, *MANAGER)
    manager.goto(demo_site.url + f"/collections/customers/records/{CUSTOMER}#activity")
    seen = manager.locator("[data-tab-panel=activity] .activity-entry")
    expect(seen.filter(has=manager.locator(f"[href$='/approvals/{approval_id}']"))).to_have_count(1)
    expect(manager.locator(f"[data-tab-panel=activity] [data-run-id='{run_id}']")).to_have_count(0)


def test_notifications_tell_the_approver_and_then_the_requester(
    new_page: Any, demo_site: Site
) -> None:
    manager = new_page(demo_site, *MANAGER)
    manager.goto(demo_site.url + "/")
    manager.locator("[data-notifications] summary").click()
    manager.locator("[data-notifications-read-all]").click()
    expect(unread_badge(manager)).to_be_hidden()

    approval_id = charge(demo_site, "3200", "Team seats").json()["approval"]["id"]
    manager.reload()
    expect(unread_badge(manager)).to_have_text("1")
    manager.locator("[data-notifications] summary").click()
    note = manager.locator("[data-notification][data-unread=true]").first
    expect(note).to_contain_text("support@demo.example asks for approval: Charge credit card")
    shots(manager, "notifications-open")
    note.locator("a").click()
    expect(manager).to_have_url(re.compile(f"/approvals/{approval_id}$"))
    expect(unread_badge(manager)).to_be_hidden()

    manager.get_by_label("Message to the requester (optional)").fill("Use the yearly plan")
    manager.locator("[data-decide=reject]").click()
    # Rejecting is confirmed in the dialog that asks why; it carries the message typed above.
    dialog = manager.locator("dialog[data-reject-dialog]")
    expect(dialog.get_by_label("Why you reject it")).to_have_value("Use the yearly plan")
    dialog.locator("[data-confirm-reject]").click()
    expect(manager.locator("[data-detail=status]")).to_have_text("Rejected")

    support = new_page(demo_site, *SUPPORT)
    support.goto(demo_site.url + "/")
    expect(unread_badge(support)).not_to_be_hidden()
    support.locator("[data-notifications] summary").click()
    told = support.locator("[data-notification][data-kind=rejected]").first
    expect(told).to_contain_text("was rejected by manager@demo.example")
    expect(told).to_contain_text("Use the yearly plan")
    support.locator("[data-notifications-read-all]").click()
    expect(unread_badge(support)).to_be_hidden()
    expect(support.locator("[data-notification][data-unread=true]")).to_have_count(0)
