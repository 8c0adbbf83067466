"""The operator's day of issue 17, polished, in a real Chromium on the demo: every page at
1440, 1024 and 390 px, and at 1440 px in dark mode (screenshots under test-artifacts/ui/pages/,
no console error, no CSP violation, no page wider than the screen), wide tables that scroll
under a sticky first column, dark mode, toasts that leave or stack, a reject that asks why,
limits said out loud, approval tags that say their condition, and tabs that show what an
action changed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest

from tests.support import execute, jsonapi
from tests.ui.helpers import (
    ADMIN,
    ARTIFACTS,
    MANAGER,
    SUPPORT,
    Site,
    api_client,
    expect,
    screenshot,
    toasts,
)

WIDTHS = (1440, 1024, 390)
PAGES = ARTIFACTS / "pages"


@pytest.fixture
def watched(new_page: Any) -> Any:
    """watched(site, email, password, width) -> a page of ``new_page`` (which fails the test on
    an uncaught exception or a CSP violation) whose every other console error fails it too."""
    errors: list[str] = []

    def make(site: Site, email: str | None, password: str | None, width: int = 1280) -> Any:
        page = new_page(site, email, password)
        page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
        page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                if message.type == "error" else None)
        return page

    yield make
    assert not errors, f"console errors: {errors}"


def settled(page: Any) -> None:
    """Wait until the page's module has drawn its data (no spinner, no 'Loading')."""
    expect(page.locator("[data-state=loading]")).to_have_count(0)
    expect(page.locator("[aria-busy=true]")).to_have_count(0)


def approval_by_support(site: Site, customer: int, amount: str) -> str:
    with closing(api_client(site, *SUPPORT)) as api:
        answer = execute(api, "charge-credit-card",
                         jsonapi([str(customer)], {"amount": amount, "description": "Plan"}),
                         "customers")
        assert answer.status_code == 202, answer.text
        approval_id: str = answer.json()["approval"]["id"]
        return approval_id


def test_every_page_at_three_widths(watched: Any, demo_site: Site) -> None:
    approval_id = approval_by_support(demo_site, 11, "4000")
    run_id = demo_site.state_rows("SELECT id FROM actiondesk_runs ORDER BY started_at "
                                  "LIMIT 1")[0][0]
    transaction = demo_site.rows("SELECT id FROM transactions ORDER BY id LIMIT 1")[0][0]
    paths = {
        "home": "/",
        **{f"list-{name}": f"/collections/{name}" for name in (
            "companies", "customers", "transactions", "users", "accounts", "incomes", "outcomes")},
        "record-company": "/collections/companies/records/1",
        "record-transaction": f"/collections/transactions/records/{transaction}",
        "approvals-requested": "/approvals?box=requested",
        "approvals-to-review": "/approvals?box=to_review",
        "approvals-history": "/approvals?box=history",
        "approval": f"/approvals/{approval_id}",
        "runs": "/runs",
        "run": f"/runs/{run_id}",
        "audit": "/audit",
        **{f"settings-{name}": f"/settings/{name}" for name in (
            "users", "roles", "permissions", "actions")},
    }
    PAGES.mkdir(parents=True, exist_ok=True)
    # Each width in the light scheme, and the widest once more in the dark one.
    for width, scheme in [*((w, "light") for w in WIDTHS), (WIDTHS[0], "dark")]:
        suffix = f"{width}" if scheme == "light" else f"{width}-dark"
        signed_out = watched(demo_site, None, None, width)
        signed_out.emulate_media(color_scheme=scheme)
        signed_out.goto(demo_site.url + "/login")
        signed_out.screenshot(path=str(PAGES / f"login-{suffix}.png"), full_page=True)
        page = watched(demo_site, *ADMIN, width)
        page.emulate_media(color_scheme=scheme)
        for name, path in paths.items():
            response = page.goto(demo_site.url + path)
            assert response.status == 200, (path, response.status)
            settled(page)
            # Only a table's frame scrolls sideways, never the page.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} at {width} px is {overflow} px wider than the screen"
            page.screenshot(path=str(PAGES / f"{name}-{suffix}.png"), full_page=True)
        page.context.close()
        signed_out.context.close()


def test_wide_tables_scroll_under_a_sticky_first_column(watched: Any, demo_site: Site) -> None:
    page = watched(demo_site, *ADMIN, 1440)
    page.goto(demo_site.url + "/collections/transactions")
    columns = page.locator("[data-columns-button]")
    settled(page)
    # Every column shown, IBANs included: wider than the screen, so the frame scrolls.
    columns.click()
    for box in page.locator(".column-list input").all():
        box.check()
    page.keyboard.press("Escape")
    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")
    first = page.locator("tbody tr").first.locator("td").nth(1)
    before = first.bounding_box()
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    page.wait_for_function("document.querySelector('.table-wrap').scrollLeft > 0")
    after = first.bounding_box()
    assert abs(after["x"] - before["x"]) < 1, "the first column stays in view"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "transactions-scrolled-sticky-first-column")

    phone = watched(demo_site, *MANAGER, 390)
    approval_by_support(demo_site, 12, "3000")
    phone.goto(demo_site.url + "/approvals?box=to_review")
    status = phone.locator("tbody tr").first.locator("[data-status]")
    expect(status).to_be_visible()
    box = status.bounding_box()
    assert box["x"] + box["width"] <= 390, "the status is on the phone's screen"
    screenshot(phone, "approvals-phone-status")


def test_dark_mode_follows_the_system(watched: Any, demo_site: Site) -> None:
    page = watched(demo_site, *ADMIN, 1024)
    page.emulate_media(color_scheme="dark")
    page.goto(demo_site.url + "/collections/companies")
    settled(page)

    def lightness(selector: str, prop: str) -> float:
        rgb = page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")
        red, green, blue = (int(n) for n in re.findall(r"\d+", rgb)[:3])
        return (red + green + blue) / 3

    assert lightness("body", "backgroundColor") < 60
    assert lightness(".table-wrap", "backgroundColor") < 60
    assert lightness("body", "color") > 180
    screenshot(page, "companies-dark")
    page.emulate_media(color_scheme="light")
    assert lightness("body", "backgroundColor") > 200


def make_live(page: Any, site: Site, company: int, *, meanwhile: bool) -> None:
    """Run Mark as Live on ``company`` from the companies list; with ``meanwhile``, another
    process makes it live while the dialog is open (so the action is refused)."""
    page.locator(f"[data-select-row='{company}']").check()
    page.locator(".page-header [data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=mark-as-live]").click()
    dialog = page.locator("dialog[data-action-dialog=mark-as-live]")
    expect(dialog).to_be_visible()
    if meanwhile:
        site.execute("UPDATE companies SET status = 'live' WHERE id = ?", company)
    dialog.locator("[data-submit]").click()
    expect(dialog).to_have_count(0)
    page.locator(f"[data-select-row='{company}']").uncheck()


def not_live(site: Site, n: int) -> list[int]:
    return [r[0] for r in site.rows(
        "SELECT id FROM companies WHERE status != 'live' ORDER BY id LIMIT ?", n)]


def test_success_toasts_leave_and_errors_stack(admin: Any, demo_site: Site) -> None:
    page = admin
    first, second, third = not_live(demo_site, 3)
    page.goto(demo_site.url + "/collections/companies?filter=" + json.dumps(
        {"field": "id", "operator": "in", "value": [first, second, third]}))
    settled(page)
    make_live(page, demo_site, first, meanwhile=True)
    make_live(page, demo_site, second, meanwhile=True)
    # The stale tab shows the records as they are now: live (its label), not the status it had.
    row = page.locator(f"tr[data-id='{first}']")
    expect(row.get_by_role("cell", name="Live", exact=True)).to_be_visible()
    make_live(page, demo_site, third, meanwhile=False)
    stack = page.locator("[data-error-stack]")
    expect(stack).to_have_count(1)
    expect(stack.locator("[data-latest-error]")).to_contain_text("The company was already live!")
    expect(stack.locator("[data-more-errors]")).to_have_text("1 earlier error")
    expect(stack.locator("[data-earlier-errors]")).to_be_hidden()
    success = toasts(page).filter(has_text="Company is now live!")
    expect(success).to_be_visible()
    assert toasts(page).count() == 2  # one stack of errors, one success: not three toasts
    screenshot(page, "toasts-error-stack")
    stack.locator("[data-more-errors]").click()
    expect(stack.locator("[data-earlier-errors] li")).to_have_count(1)
    # The success leaves on its own; the errors stay until dismissed.
    expect(success).to_have_count(0)
    expect(stack).to_be_visible()
    stack.get_by_role("button", name="Dismiss all errors").click()
    expect(toasts(page)).to_have_count(0)


def test_reject_asks_why_and_other_tabs_see_the_decision(manager: Any, demo_site: Site) -> None:
    approval_id = approval_by_support(demo_site, 13, "2000")
    other = manager.context.new_page()
    for page in (manager, other):
        page.goto(demo_site.url + f"/approvals/{approval_id}")
        expect(page.locator("[data-detail=status]")).to_have_text("Pending")
    manager.locator("[data-decide=reject]").click()
    dialog = manager.locator("dialog[data-reject-dialog]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-confirm-reject]").click()
    expect(dialog.locator(".field-error")).to_contain_text("required")
    state = "SELECT status FROM actiondesk_approvals WHERE id = ?"
    assert demo_site.state_rows(state, approval_id)[0][0] == "pending"
    dialog.get_by_role("button", name="Keep it pending").click()
    expect(dialog).to_have_count(0)
    assert demo_site.state_rows(state, approval_id)[0][0] == "pending"

    manager.locator("[data-decide=reject]").click()
    dialog.get_by_label("Why you reject it").fill("No purchase order")
    screenshot(manager, "reject-dialog")
    dialog.locator("[data-confirm-reject]").click()
    expect(manager.locator("[data-detail=status]")).to_have_text("Rejected")
    assert demo_site.state_rows(state, approval_id)[0][0] == "rejected"
    # The other tab was told: it no longer shows a pending request one could still decide.
    expect(other.locator("[data-detail=status]")).to_have_text("Rejected")
    expect(other.locator("[data-decide]")).to_have_count(0)


def test_a_limit_is_shown_not_silently_applied(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/users")
    settled(page)
    page.locator("[data-select-page]").check()
    page.locator(".page-header [data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=mail-users]").click()
    dialog = page.locator("dialog[data-action-dialog=mail-users]")
    subject = dialog.get_by_label("Subject")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/mail-users") else None)
    subject.fill("x" * 250)
    expect(subject).to_have_value("x" * 250)  # kept whole: the person chooses what to cut
    limit = dialog.locator("[data-field=subject] [data-limit]")
    expect(limit).to_contain_text("50 characters too many (at most 200)")
    expect(limit.locator("[data-limit-count]")).to_have_text("250 / 200")
    expect(subject).to_have_attribute("aria-invalid", "true")
    screenshot(page, "input-limit-over")
    dialog.locator("[data-submit]").click()
    expect(dialog.locator("[data-field=subject] .field-error")).to_contain_text(
        "at most 200 characters (50 too many)")
    assert not sent
    subject.fill("y" * 200)
    expect(limit.locator("[data-limit-count]")).to_have_text("200 / 200")
    expect(limit.locator("[data-limit-message]")).to_have_text("")


def menu_tag(page: Any, slug: str) -> Any:
    page.locator(".page-header [data-actions-button]").click()
    item = page.locator(f"[data-actions-menu] [data-action={slug}]")
    expect(item).to_be_visible()
    return item


def test_approval_tags_say_when_approval_applies(
    support: Any, demo_site: Site, new_page: Any
) -> None:
    page = support
    page.goto(demo_site.url + "/collections/customers/records/11")
    item = menu_tag(page, "charge-credit-card")
    # Only amounts over 1,000 need approval: the tag says so.
    expect(item.locator("[data-approval-tag]")).to_have_text(
        "approval if amount is greater than 1,000")
    screenshot(page, "approval-tag-condition")
    item.click()
    dialog = page.locator("dialog[data-action-dialog=charge-credit-card]")
    expect(dialog.locator("[data-approval-note]")).to_have_text(
        "Needs a reviewer's approval only when amount is greater than 1,000: nothing runs "
        "until it is approved.")
    dialog.locator("[data-cancel]").click()
    page.goto(demo_site.url + "/collections/companies/records/1")
    expect(menu_tag(page, "add-new-transaction").locator("[data-approval-tag]")).to_have_text(
        "approval")

    # A condition on the records: tagged only for a selection it holds for.
    churned = demo_site.rows("SELECT id FROM companies WHERE status = 'churned' LIMIT 1")[0][0]
    other = demo_site.rows("SELECT id FROM companies WHERE status = 'pending' LIMIT 1")[0][0]
    policy = {"role": "support", "collection": "companies", "action": "mark-as-live",
              "rule": "approval", "condition": {"field": "status", "operator": "equal",
                                                "value": "churned"}}
    with closing(api_client(demo_site, *ADMIN)) as api:
        answer = api.put("/settings/policies", json=policy)
        assert answer.status_code in (200, 201), answer.text
        try:
            page.goto(demo_site.url + f"/collections/companies/records/{churned}")
            tag = menu_tag(page, "mark-as-live").locator("[data-approval-tag]")
            expect(tag).to_have_text("approval")
            page.goto(demo_site.url + f"/collections/companies/records/{other}")
            expect(menu_tag(page, "mark-as-live")).to_be_visible()
            expect(page.locator("[data-action=mark-as-live] [data-approval-tag]")).to_have_count(0)
        finally:
            api.put("/settings/policies", json={**policy, "rule": "trigger", "condition": None})


def add_transaction(page: Any, beneficiary: Any) -> None:
    page.locator(".page-header [data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=add-new-transaction]").click()
    dialog = page.locator("dialog[data-action-dialog=add-new-transaction]")
    expect(dialog.locator("[data-state=loading]")).to_have_count(0)
    picker = dialog.get_by_role("combobox", name="Beneficiary company")
    picker.fill(beneficiary["name"])
    expect(dialog.get_by_role("option").first).to_be_visible()
    picker.press("Enter")
    expect(dialog.locator(".reference-chosen")).to_contain_text(f"#{beneficiary['id']}")
    dialog.get_by_label("Amount").fill("45.60")
    dialog.locator("[data-submit]").click()
    expect(dialog).to_have_count(0)


def test_a_new_related_row_is_brought_into_view_here_and_in_other_tabs(
    admin: Any, demo_site: Site
) -> None:
    page = admin
    emitter = demo_site.rows("SELECT emitter_company_id FROM transactions GROUP BY 1 "
                             "HAVING count(*) > 10 ORDER BY 1 LIMIT 1")[0][0]
    beneficiary = demo_site.rows("SELECT id, name FROM companies WHERE id != ? ORDER BY id "
                                 "LIMIT 1", emitter)[0]
    other = page.context.new_page()
    other.goto(demo_site.url + "/collections/transactions")
    settled(other)
    page.goto(demo_site.url + f"/collections/companies/records/{emitter}#emitted_transactions")
    panel = page.locator("[data-tab-panel=emitted_transactions]")
    expect(panel.locator("tbody tr")).to_have_count(10)
    add_transaction(page, beneficiary)
    new_id = demo_site.rows("SELECT max(id) FROM transactions")[0][0]
    # Page 1 of 10 rows does not hold it: it is pinned on top, marked new.
    pinned = panel.locator(f"tbody tr[data-pinned][data-id='{new_id}']")
    expect(pinned).to_be_visible()
    expect(pinned).to_have_class(re.compile(r"\bis-new\b"))
    expect(pinned.locator("[data-new-tag]")).to_have_text("New")
    screenshot(page, "new-related-row-pinned")
    # The transactions list open in another tab heard of it and shows it the same way.
    expect(other.locator(f"tbody tr[data-pinned][data-id='{new_id}']")).to_be_visible()
    # Changing the list clears the marks.
    panel.locator("[data-page=next]").click()
    expect(panel.locator("tbody tr[data-pinned]")).to_have_count(0)
    expect(panel.locator(f"tbody tr[data-id='{new_id}']")).to_have_count(1)


def test_runs_show_approval_requested_in_its_colour(admin: Any, demo_site: Site) -> None:
    approval_by_support(demo_site, 14, "1500")
    admin.goto(demo_site.url + "/runs")
    pill = admin.locator("[data-status=approval_requested]").first
    expect(pill).to_be_visible()
    expect(pill).to_have_class(re.compile(r"\bstatus-info\b"))
    assert pill.evaluate("e => getComputedStyle(e).backgroundColor") != pill.evaluate(
        "e => getComputedStyle(document.querySelector('.status-muted') || document.body)"
        ".backgroundColor")


def run_page_of(page: Any, site: Site, start: Callable[[], None]) -> str:
    with page.expect_response(re.compile(r"/actions/audit-balances$")) as answer:
        start()
    assert answer.value.status == 202
    run_id: str = answer.value.json()["run"]["id"]
    return run_id


def test_the_demo_background_action_shows_progress_and_cancels(
    admin: Any, demo_site: Site
) -> None:
    page = admin
    total = demo_site.rows("SELECT count(*) FROM accounts")[0][0]
    page.goto(demo_site.url + "/collections/accounts")
    settled(page)
    page.locator("[data-select-page]").check()
    page.locator("[data-select-all]").click()
    page.locator(".page-header [data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=audit-balances]").click()
    dialog = page.locator("dialog[data-action-dialog=audit-balances]")
    expect(dialog.get_by_label("Seconds per batch")).to_have_value("0.5")

    def start() -> None:
        dialog.locator("[data-submit]").click()

    run_id = run_page_of(page, demo_site, start)
    toasts(page).get_by_role("link", name="Follow its progress").click()
    bar = page.locator("[data-progress]")
    expect(bar).to_have_attribute("max", str(total))
    expect(bar).not_to_have_attribute("value", "0")
    screenshot(page, "demo-audit-balances-progress")
    # The accounts list open in another tab reloads once the run ends.
    other = page.context.new_page()
    other.goto(demo_site.url + "/collections/accounts")
    settled(other)
    with other.expect_request(re.compile(r"/api/collections/accounts/records\?")):
        page.locator("[data-cancel-run]").click()
        expect(page.locator("[data-detail=status]")).to_have_text("Cancelled")
    done = int(bar.get_attribute("value") or 0)
    assert 0 < done < total
    stored = demo_site.state_rows("SELECT status FROM actiondesk_runs WHERE id = ?", run_id)
    assert stored[0][0] == "cancelled"


def test_the_record_page_marks_what_its_action_changed(admin: Any, demo_site: Site) -> None:
    company = not_live(demo_site, 1)[0]
    admin.goto(demo_site.url + f"/collections/companies/records/{company}")
    admin.locator(".page-header [data-actions-button]").click()
    admin.locator("[data-actions-menu] [data-action=mark-as-live]").click()
    admin.locator("dialog[data-action-dialog=mark-as-live] [data-submit]").click()
    status = admin.locator("[data-record-fields] dd[data-field=status]")
    # The label of the value live (the demo's companies are editable: a pencil follows it).
    expect(status).to_have_text(re.compile(r"^Live\b"))
    expect(status).to_have_class(re.compile(r"\bis-changed\b"))
    expect(admin.locator("[data-record-fields] dd.is-changed")).to_have_count(1)
