"""Approvals in a real browser, as the demo's people would use them: support asks for a large
charge or a new transaction, the manager reviews it in the UI (approve or reject with a
message), support sees the outcome; the history's filters and CSV export. Every check reads
the page and the demo's state and data databases directly."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from tests.support import execute, jsonapi
from tests.ui.helpers import ADMIN, MANAGER, SUPPORT, Site, api_client, expect, screenshot, toasts


def request_charge(page: Any, site: Site, customer: int, amount: str, description: str) -> str:
    """Support runs Charge credit card from the customer's page; give the approval id."""
    page.goto(site.url + f"/collections/customers/records/{customer}")
    page.locator(".page-header [data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=charge-credit-card]").click()
    dialog = page.locator("dialog[data-action-dialog=charge-credit-card]")
    dialog.get_by_label("Amount").fill(amount)
    dialog.get_by_label("Description").fill(description)
    dialog.locator("[data-submit]").click()
    link = toasts(page).filter(has_text="waits for approval").get_by_role(
        "link", name="See the request")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[1]


def pending_count(site: Site) -> int:
    return int(site.state_rows("SELECT count(*) FROM actiondesk_approvals WHERE "
                               "status = 'pending'")[0][0])


def approval_row(site: Site, approval_id: str) -> Any:
    return site.state_rows("SELECT * FROM actiondesk_approvals WHERE id = ?", approval_id)[0]


def test_large_charge_requested_by_support_approved_by_manager(
    support: Any, manager: Any, demo_site: Site
) -> None:
    approval_id = request_charge(support, demo_site, 11, "5000", "Annual plan")
    # Support follows the notice's link: the frozen request, which only they may cancel.
    toasts(support).get_by_role("link", name="See the request").click()
    expect(support.locator("[data-detail=status]")).to_have_text("Pending")
    expect(support.locator("[data-decide=cancel]")).to_be_visible()
    expect(support.locator("[data-decide=approve]")).to_have_count(0)

    waiting = pending_count(demo_site)
    manager.goto(demo_site.url + "/")
    expect(manager.locator("[data-badge-count]")).to_have_text(str(waiting))
    manager.locator("[data-approvals-badge]").click()
    expect(manager).to_have_url(re.compile(r"/approvals\?box=to_review$"))
    row = manager.locator(f"tr[data-id='{approval_id}']")
    expect(row).to_contain_text("Charge credit card")
    expect(row).to_contain_text("support@demo.example")
    screenshot(manager, "approvals-to-review")
    row.locator("[data-approval-link]").click()

    # What was frozen, and why it needs approval (the rule's condition on the form values).
    expect(manager.locator("[data-detail=why]")).to_contain_text("rule: approval")
    expect(manager.locator("[data-detail=condition]")).to_have_text("amount greater than 1000")
    expect(manager.locator("[data-detail=value-amount]")).to_have_text("5000")
    expect(manager.locator("[data-detail=value-description]")).to_have_text("Annual plan")
    # The record by its label, its id beside it.
    expect(manager.locator("[data-records] li")).to_have_text([re.compile(r"^\S.* #11$")])
    expect(manager.locator("[data-records] li a")).to_have_attribute("data-label-id", "11")
    expect(manager.locator("[data-detail=requester]")).to_have_text(
        "Support Demo (support@demo.example)")
    screenshot(manager, "approval-request-detail")

    manager.get_by_label("Message to the requester (optional)").fill("OK for the annual plan")
    manager.locator("[data-decide=approve]").click()
    expect(toasts(manager).filter(has_text="Approved; the action ran.")).to_be_visible()
    expect(manager.locator("[data-detail=status]")).to_have_text("Executed")
    expect(manager.locator("[data-result] .charge-amount")).to_have_text("5,000.00 EUR")
    expect(manager.locator("[data-decide]")).to_have_count(0)
    # The header's badge counts one request less.
    badge = manager.locator("[data-badge-count]")
    if waiting > 1:
        expect(badge).to_have_text(str(waiting - 1))
    else:
        expect(badge).to_be_hidden()
    screenshot(manager, "approval-executed")

    stored = approval_row(demo_site, approval_id)
    assert stored["status"] == "executed" and stored["run_id"]
    run = demo_site.state_rows("SELECT action_slug, status, caller FROM actiondesk_runs "
                               "WHERE id = ?", stored["run_id"])[0]
    assert (run["action_slug"], run["status"]) == ("charge-credit-card", "succeeded")
    assert "manager@demo.example" in run["caller"] and "support@demo.example" in run["caller"]
    events = demo_site.state_rows("SELECT kind, actor_email, message FROM "
                                  "actiondesk_approval_events WHERE approval_id = ? ORDER BY id",
                                  approval_id)
    assert [(e["kind"], e["actor_email"]) for e in events][1] == (
        "approved", "manager@demo.example")
    assert events[1]["message"] == "OK for the annual plan"

    # The request is in the history, for both of them; the run is the requester's.
    manager.goto(demo_site.url + "/approvals?box=history")
    expect(manager.locator(f"tr[data-id='{approval_id}'] [data-status]")).to_have_text(
        "Executed")
    screenshot(manager, "approvals-history")
    support.goto(demo_site.url + "/approvals?box=requested")
    row = support.locator(f"tr[data-id='{approval_id}']")
    expect(row.locator("[data-status]")).to_have_text("Executed")
    row.locator("[data-approval-link]").click()
    expect(support.locator("[data-event=approved] .timeline-message")).to_have_text(
        "OK for the annual plan")
    support.locator("[data-run-link]").click()
    expect(support.locator("[data-detail=approved-by]")).to_have_text("manager@demo.example")
    expect(support.locator("[data-detail=status]")).to_have_text("Succeeded")


def test_new_transaction_approved_in_the_ui_changes_the_data(
    support: Any, manager: Any, demo_site: Site
) -> None:
    emitter = 3
    before = demo_site.rows("SELECT count(*) FROM transactions WHERE emitter_company_id = ?",
                            emitter)[0][0]
    support.goto(demo_site.url + f"/collections/companies/records/{emitter}")
    support.locator(".page-header [data-actions-button]").click()
    support.locator("[data-actions-menu] [data-action=add-new-transaction]").click()
    dialog = support.locator("dialog[data-action-dialog=add-new-transaction]")
    dialog.get_by_role("combobox", name="Beneficiary company").fill("2")
    dialog.get_by_role("option").filter(has_text="#2").first.click()
    dialog.get_by_label("Amount").fill("77.70")
    dialog.locator("[data-submit]").click()
    expect(toasts(support).filter(has_text="waits for approval")).to_be_visible()
    # Nothing happened to the data yet.
    assert demo_site.rows("SELECT count(*) FROM transactions WHERE emitter_company_id = ?",
                          emitter)[0][0] == before

    manager.goto(demo_site.url + "/approvals")
    row = manager.locator("tbody tr").filter(has_text="Add new transaction").first
    row.locator("[data-approval-link]").click()
    expect(manager.locator("[data-detail=why]")).to_contain_text("rule: approval")
    expect(manager.locator("[data-detail=condition]")).to_have_count(0)
    manager.locator("[data-decide=approve]").click()
    expect(manager.locator("[data-detail=status]")).to_have_text("Executed")
    expect(manager.locator("[data-result]")).to_contain_text("New transaction emitted")

    rows = demo_site.rows("SELECT beneficiary_company_id, amount, status FROM transactions "
                          "WHERE emitter_company_id = ? ORDER BY id DESC", emitter)
    assert len(rows) == before + 1
    assert (rows[0][0], float(rows[0][1]), rows[0][2]) == (2, 77.7, "to_validate")
    # The record's page shows it too.
    manager.goto(demo_site.url + f"/collections/companies/records/{emitter}"
                 "#emitted_transactions")
    expect(manager.locator("[data-tab=emitted_transactions] [data-tab-count]")).to_have_text(
        f" {before + 1}")


def test_rejection_with_a_message_is_seen_by_the_requester(
    support: Any, manager: Any, demo_site: Site
) -> None:
    runs_before = demo_site.state_rows(
            "SELECT count(*) FROM actiondesk_runs WHERE status != 'approval_requested'")[0][0]
    approval_id = request_charge(support, demo_site, 12, "2500", "Upgrade")
    manager.goto(demo_site.url + f"/approvals/{approval_id}")
    message = manager.get_by_label("Message to the requester (optional)")
    message.fill("Too large without a purchase order <b>please</b>")
    manager.locator("[data-decide=reject]").click()
    # Rejecting is confirmed in a dialog that asks why; the message typed so far is kept.
    dialog = manager.locator("dialog[data-reject-dialog]")
    why = dialog.get_by_label("Why you reject it")
    expect(why).to_have_value("Too large without a purchase order <b>please</b>")
    dialog.locator("[data-confirm-reject]").click()
    expect(manager.locator("[data-detail=status]")).to_have_text("Rejected")
    expect(toasts(manager).filter(has_text="Rejected.")).to_be_visible()

    support.goto(demo_site.url + "/approvals?box=requested")
    row = support.locator(f"tr[data-id='{approval_id}']")
    expect(row.locator("[data-status]")).to_have_text("Rejected")
    row.locator("[data-approval-link]").click()
    expect(support.locator("[data-detail=reason]")).to_have_text(
        "Too large without a purchase order <b>please</b>")
    rejected = support.locator("[data-event=rejected]")
    expect(rejected).to_contain_text("Rejected by manager@demo.example")
    expect(rejected.locator(".timeline-message")).to_have_text(
        "Too large without a purchase order <b>please</b>")
    assert support.locator("[data-approval] b").count() == 0  # text, never HTML
    expect(support.locator("[data-decide]")).to_have_count(0)
    screenshot(support, "approval-rejected-seen-by-requester")
    assert approval_row(demo_site, approval_id)["status"] == "rejected"
    # Nothing ran.
    ran = "SELECT count(*) FROM actiondesk_runs WHERE status != 'approval_requested'"
    assert demo_site.state_rows(ran)[0][0] == runs_before


def test_requester_cancels_and_a_late_decision_is_refused(
    support: Any, manager: Any, demo_site: Site
) -> None:
    approval_id = request_charge(support, demo_site, 13, "1800", "Cancelled later")
    # The manager has the request open while support withdraws it.
    manager.goto(demo_site.url + f"/approvals/{approval_id}")
    expect(manager.locator("[data-decide=approve]")).to_be_visible()
    support.goto(demo_site.url + f"/approvals/{approval_id}")
    support.get_by_label("Why you cancel it (optional)").fill("Customer changed their mind")
    support.locator("[data-decide=cancel]").click()
    expect(support.locator("[data-detail=status]")).to_have_text("Cancelled")
    assert approval_row(demo_site, approval_id)["status"] == "cancelled"

    manager.locator("[data-decide=approve]").click()
    expect(toasts(manager).filter(has_text="This request is already cancelled.")).to_be_visible()
    expect(manager.locator("[data-detail=status]")).to_have_text("Cancelled")
    expect(manager.locator("[data-decide]")).to_have_count(0)
    assert approval_row(demo_site, approval_id)["status"] == "cancelled"


def decided_by_api(site: Site, verb: str) -> str:
    """A request made by support and decided by the manager through the JSON API."""
    support, manager = api_client(site, *SUPPORT), api_client(site, *MANAGER)
    try:
        made = execute(support, "charge-credit-card", jsonapi(
            ["14"], {"amount": "3000", "description": f"to be {verb}ed"}), "customers")
        assert made.status_code == 202, made.text
        approval_id: str = made.json()["approval"]["id"]
        decided = manager.post(f"/approvals/{approval_id}/{verb}", json={})
        assert decided.status_code == 200, decided.text
    finally:
        support.close()
        manager.close()
    return approval_id


def test_history_filters_and_csv_export(manager: Any, demo_site: Site) -> None:
    page = manager
    decided_by_api(demo_site, "reject")
    decided_by_api(demo_site, "approve")
    page.goto(demo_site.url + "/approvals?box=history")
    expect(page.locator("tbody tr").first).to_be_visible()
    page.get_by_label("Status").select_option("rejected")
    rejected = demo_site.state_rows("SELECT id FROM actiondesk_approvals WHERE status = "
                                    "'rejected'")
    assert rejected
    expect(page.locator("tbody tr")).to_have_count(len(rejected))
    expect(page.locator("tbody [data-status]").first).to_have_text("Rejected")
    # Who decided, and when: the manager rejected every one of them.
    expect(page.locator("thead")).to_contain_text("Reviewer")
    reviewers = page.locator("tbody [data-reviewer]")
    expect(reviewers).to_have_count(len(rejected))
    for index in range(len(rejected)):
        expect(reviewers.nth(index)).to_contain_text(MANAGER[0])
    expect(page.locator("tbody tr").first.locator("time")).to_have_count(2)
    assert "status=rejected" in page.url
    screenshot(page, "approvals-history-filtered")

    export = page.locator("[data-export-csv]")
    assert "status=rejected" in (export.get_attribute("href") or "")
    with page.expect_download() as download_info:
        export.click()
    download = download_info.value
    assert download.suggested_filename == "approvals.csv"
    with open(download.path(), encoding="utf-8") as handle:
        lines = list(csv.DictReader(io.StringIO(handle.read())))
    assert sorted(line["id"] for line in lines) == sorted(r["id"] for r in rejected)
    assert {line["status"] for line in lines} == {"rejected"}
    assert {line["reviewer"] for line in lines} == {MANAGER[0]}
    assert all(line["decided_at"].endswith("+00:00") for line in lines)

    # A day range with nothing in it: the empty state says so; clearing brings them back.
    page.get_by_label("To", exact=True).fill("2001-01-01")
    expect(page.locator("[data-state=empty]")).to_contain_text("No request matches")
    page.locator("[data-clear-filters]").click()
    decided = demo_site.state_rows("SELECT count(*) FROM actiondesk_approvals WHERE "
                                   "status != 'pending'")[0][0]
    expect(page.locator("[data-count]")).to_have_text(
        f"{decided} request{'' if decided == 1 else 's'} · History")


def test_approval_pages_for_unknown_and_foreign_requests(
    new_page: Any, demo_site: Site
) -> None:
    page = new_page(demo_site, *ADMIN)
    response = page.goto(demo_site.url + "/approvals/" + "0" * 32)
    assert response.status == 404
    expect(page.locator(".empty-title")).to_have_text("Not found")


def test_a_large_frozen_selection_pages_its_records(manager: Any, demo_site: Site) -> None:
    admin, support = api_client(demo_site, *ADMIN), api_client(demo_site, *SUPPORT)
    try:
        granted = admin.put("/settings/policies", json={
            "role": "support", "collection": "users", "action": "mail-users",
            "rule": "approval"})
        assert granted.status_code == 200, granted.text
        active = {"field": "status", "operator": "equal", "value": "active"}
        made = execute(support, "mail-users", jsonapi(
            [], {"subject": "Hi", "body": "News"}, all_records=True,
            all_records_subset_query={"filters": json.dumps(active)}), "users")
        assert made.status_code == 202, made.text
        approval_id = made.json()["approval"]["id"]
    finally:
        admin.close()
        support.close()
    count = demo_site.rows("SELECT count(*) FROM users WHERE status = 'active'")[0][0]
    assert count > 100
    manager.goto(demo_site.url + f"/approvals/{approval_id}")
    expect(manager.locator("[data-selection]")).to_contain_text(
        f"{count} users, frozen when the request was made, selected as all matching the filter")
    ids = manager.locator("[data-records] li")
    expect(ids).to_have_count(100)
    manager.locator("[data-more-records]").click()
    expect(ids).to_have_count(min(count, 200))
    frozen = demo_site.state_rows("SELECT record_id FROM actiondesk_approval_records WHERE "
                                  "approval_id = ? ORDER BY seq LIMIT 200", approval_id)
    shown = ids.evaluate_all(
        "items => items.map((li) => li.querySelector('a')?.dataset.labelId ?? li.textContent)")
    assert shown == [r[0] for r in frozen]
    more = manager.locator("[data-more-records]")
    if count > 200:
        expect(more).to_be_visible()
    else:
        expect(more).to_be_hidden()
