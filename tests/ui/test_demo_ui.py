"""The demo desk in a real browser, used as an operator would: sign in, browse, select, run
each demo action through its dialog, and check what the page shows and what changed in the
database (read directly from the demo's SQLite files)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from actiondesk.demo.actions import SLACK_WEBHOOK_URL
from tests.ui.helpers import ADMIN, Site, expect, screenshot, toasts

DASH = "\N{EN DASH}"  # in the pagination range, "1-25 of 400"


def open_menu(page: Any, scope: Any = None) -> Any:
    """Open the actions menu (the page's, or the one inside ``scope``); wait for its items."""
    root = scope or page.locator(".page-header")
    root.locator("[data-actions-button]").click()
    menu = page.locator("[data-actions-menu]")
    expect(menu.locator("[role=menuitem]").first).to_be_visible()
    return menu


def start_action(page: Any, slug: str, scope: Any = None) -> Any:
    open_menu(page, scope).locator(f"[data-action={slug}]").click()
    dialog = page.locator(f"dialog[data-action-dialog={slug}]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-state=loading]")).to_have_count(0)
    return dialog


def wait_for_table(page: Any, scope: Any = None) -> None:
    root = scope or page
    expect(root.locator("table tbody tr").first).to_be_visible()
    expect(root.locator("[data-state=loading]")).to_have_count(0)


# -- shell -------------------------------------------------------------------------------------


def test_sign_in_shell_and_sign_out(new_page: Any, demo_site: Site) -> None:
    page = new_page(demo_site)
    page.goto(demo_site.url + "/collections/customers?search=paul")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    screenshot(page, "login")
    page.get_by_label("Email").fill(ADMIN[0])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_be_visible()
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    # Back where the person was going, with the search kept.
    expect(page).to_have_url(demo_site.url + "/collections/customers?search=paul")
    expect(page.locator("[data-search]")).to_have_value("paul")
    expect(page.locator(".user-name")).to_have_text("Admin Demo")
    expect(page.locator(".user-role")).to_have_text("admin")
    sidebar = page.locator("#sidebar")
    for name in ("Companies", "Customers", "Transactions", "Users", "Accounts"):
        expect(sidebar.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(sidebar.locator("[aria-current=page]")).to_have_text("Customers")
    expect(page.locator(".dev-banner")).to_have_count(0)
    page.goto(demo_site.url + "/")
    expect(page.get_by_role("heading", name="Welcome, Admin")).to_be_visible()
    screenshot(page, "home")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(demo_site.url + "/collections/companies")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcollections%2Fcompanies$"))


def test_unknown_collection_and_record_pages(admin: Any, demo_site: Site) -> None:
    response = admin.goto(demo_site.url + "/collections/nope")
    assert response.status == 404
    expect(admin.locator(".empty-title")).to_have_text("Not found")
    response = admin.goto(demo_site.url + "/collections/companies/records/999999")
    assert response.status == 404
    expect(admin.get_by_text("no record '999999' in companies")).to_be_visible()


def test_a_list_that_cannot_load_says_why(admin: Any, demo_site: Site) -> None:
    bad = json.dumps({"field": "nope", "operator": "equal", "value": 1})
    admin.goto(demo_site.url + "/collections/companies?filter=" + bad)
    error = admin.locator("[data-state=error]")
    expect(error).to_contain_text("The companies could not be loaded:")
    expect(error).to_contain_text("nope")
    # A 400 answers the same every time: no "Try again", a way out instead.
    expect(error.get_by_role("button", name="Try again")).to_have_count(0)
    screenshot(admin, "companies-error-state")
    error.get_by_role("button", name="Clear the filter, search and sort").click()
    wait_for_table(admin)
    assert "filter=" not in admin.url


def open_filter(page: Any, field: str, operator: str) -> tuple[Any, Any]:
    """Open the filter builder with condition 1 on ``field``: (the builder, its value input)."""
    page.locator("[data-filter-button]").click()
    builder = page.locator(".filter-builder")
    builder.get_by_label("Field of condition 1").select_option(field)
    builder.get_by_label("Operator of condition 1").select_option(operator)
    return builder, builder.get_by_label("Value of condition 1")


def test_a_filter_value_that_does_not_fit_its_field_is_refused_at_the_field(
    admin: Any, demo_site: Site
) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/transactions")
    wait_for_table(page)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "filter=" in r.url else None)
    builder, value = open_filter(page, "amount", "greater_than")
    value.fill("12a")
    builder.get_by_role("button", name="Apply").click()
    error = builder.locator("[data-filter-error]")
    expect(error).to_have_text("“12a” is not valid: enter a decimal number, e.g. 1250.50.")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_be_focused()
    screenshot(page, "filter-value-error")
    # A list of whole numbers is checked item by item.
    builder.get_by_role("button", name="+ Condition").click()
    builder.get_by_label("Field of condition 2").select_option("id")
    builder.get_by_label("Operator of condition 2").select_option("in")
    builder.get_by_label("Value of condition 2").fill("1, two")
    builder.get_by_role("button", name="Apply").click()
    expect(builder.locator("[data-filter-error='2']")).to_have_text(
        "“two” is not valid: enter a whole number, e.g. 42.")
    assert sent == []  # nothing reached the server

    value.fill("1000")
    expect(builder.locator("[data-filter-error='1']")).to_have_count(0)
    builder.get_by_label("Value of condition 2").fill("1, 2, 3")
    builder.get_by_role("button", name="Apply").click()
    expected = demo_site.rows(
        "SELECT count(*) FROM transactions WHERE amount > 1000 AND id IN (1, 2, 3)")[0][0]
    expect(page.locator("[data-count]")).to_have_text(
        f"{expected} transaction{'' if expected == 1 else 's'}")


def test_a_list_the_server_refuses_keeps_the_previous_one(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/transactions?sort=-id")
    wait_for_table(page)
    total = demo_site.rows("SELECT count(*) FROM transactions")[0][0]
    first = str(demo_site.rows("SELECT max(id) FROM transactions")[0][0])
    expect(page.locator("table tbody tr").first).to_have_attribute("data-id", first)
    # A whole number the builder takes but no 64-bit column holds: the server says 400.
    builder, value = open_filter(page, "id", "equal")
    value.fill("99999999999999999999")
    with page.expect_response(lambda r: "filter=" in r.url and r.status == 400):
        builder.get_by_role("button", name="Apply").click()
    refusal = page.locator("[data-list-refusal]")
    expect(refusal).to_contain_text("The list was not changed:")
    expect(refusal).to_contain_text("out of range")
    expect(page.locator("[data-state=error]")).to_have_count(0)
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)
    # The list on screen, its count and its state are the previous ones.
    expect(page.locator("table tbody tr").first).to_have_attribute("data-id", first)
    expect(page.locator("[data-count]")).to_have_text(f"{total:,} transactions")
    expect(page.locator("[data-filter-button]")).to_have_text("Filter")
    assert "filter=" not in page.url and "sort=-id" in page.url
    screenshot(page, "list-refused-filter")
    refusal.get_by_role("button", name="Dismiss").click()
    expect(refusal).to_be_hidden()


def test_tablet_width_sidebar_opens_from_the_menu_button(new_page: Any, demo_site: Site) -> None:
    page = new_page(demo_site, *ADMIN)
    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(demo_site.url + "/collections/companies")
    wait_for_table(page)
    sidebar = page.locator("#sidebar")
    expect(sidebar.get_by_role("link", name="Customers")).not_to_be_in_viewport()
    page.get_by_role("button", name="Show the navigation").click()
    expect(sidebar.get_by_role("link", name="Customers")).to_be_in_viewport()
    screenshot(page, "companies-tablet-sidebar")
    page.keyboard.press("Escape")
    expect(sidebar.get_by_role("link", name="Customers")).not_to_be_in_viewport()


def test_pages_load_only_what_they_show(admin: Any, demo_site: Site) -> None:
    calls: list[str] = []
    admin.on("request", lambda r: calls.append(urlsplit(r.url).path)
             if "/api/" in r.url else None)
    admin.goto(demo_site.url + "/collections/companies")
    wait_for_table(admin)
    expect(admin.locator("[data-badge-count]")).to_be_attached()
    admin.wait_for_load_state("networkidle")
    # The sidebar's saved views come from /api/views on every page.
    assert sorted(calls) == ["/api/approvals/badge", "/api/collections/companies/records",
                             "/api/notifications/unread", "/api/views"]
    # The actions (and their state for the selection) load when the menu opens.
    calls.clear()
    open_menu(admin)
    assert calls == ["/api/collections/companies/actions"]
    # A record page: its record comes with the page; only the open tab loads records.
    calls.clear()
    admin.goto(demo_site.url + "/collections/companies/records/1")
    wait_for_table(admin, admin.locator("[data-tab-panel=customers]"))
    admin.wait_for_load_state("networkidle")
    assert sorted(calls) == ["/api/approvals/badge", "/api/collections/companies/records/1/"
                             "relationships/customers", "/api/collections/customers",
                             "/api/notifications/unread", "/api/views"]


# -- collection view ------------------------------------------------------------------------


def test_collection_paging_sorting_search_and_columns(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/companies")
    wait_for_table(page)
    total = demo_site.rows("SELECT count(*) FROM companies")[0][0]
    expect(page.locator("[data-count]")).to_have_text(f"{total} companies")
    expect(page.locator("[data-range]")).to_have_text(f"1{DASH}25 of {total}")
    screenshot(page, "companies")

    page.locator("[data-page=next]").click()
    expect(page.locator("[data-range]")).to_have_text(f"26{DASH}50 of {total}")
    expect(page.locator("tbody tr").first).to_have_attribute("data-id", "26")

    page.locator("[data-sort-field=name]").click()
    first = demo_site.rows("SELECT id, name FROM companies ORDER BY name, id LIMIT 1")[0]
    expect(page.locator("tbody tr").first).to_have_attribute("data-id", str(first["id"]))
    expect(page.locator("[data-range]")).to_have_text(f"1{DASH}25 of {total}")
    page.locator("[data-sort-field=name]").click()
    last = demo_site.rows("SELECT id FROM companies ORDER BY name DESC, id DESC LIMIT 1")[0]
    expect(page.locator("tbody tr").first).to_have_attribute("data-id", str(last["id"]))
    assert "sort=-name" in page.url

    page.locator("[data-search]").fill("robotics")
    page.locator("[data-search]").press("Enter")
    robotics = demo_site.rows("SELECT count(*) FROM companies WHERE lower(name) LIKE "
                              "'%robotics%' OR lower(industry) LIKE '%robotics%' OR "
                              "lower(headquarter) LIKE '%robotics%' OR lower(description) LIKE "
                              "'%robotics%' OR lower(status) LIKE '%robotics%'")[0][0]
    expect(page.locator("[data-count]")).to_have_text(f"{robotics} companies")

    page.locator("[data-search]").fill("no such company anywhere")
    page.locator("[data-search]").press("Enter")
    expect(page.locator("[data-state=empty]")).to_contain_text("No companies match")
    screenshot(page, "companies-empty-search")

    # Columns: hide "industry"; the choice survives a reload.
    page.locator("[data-search]").fill("")
    page.locator("[data-search]").press("Enter")
    wait_for_table(page)
    expect(page.locator("[data-sort-field=industry]")).to_be_visible()
    page.locator("[data-columns-button]").click()
    page.get_by_role("checkbox", name="Industry").uncheck()
    expect(page.locator("[data-sort-field=industry]")).to_have_count(0)
    page.reload()
    wait_for_table(page)
    expect(page.locator("[data-sort-field=name]")).to_be_visible()
    expect(page.locator("[data-sort-field=industry]")).to_have_count(0)


def test_filter_builder_with_and_or_groups(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/companies")
    wait_for_table(page)
    page.locator("[data-filter-button]").click()
    builder = page.locator(".filter-builder")
    builder.get_by_label("Field of condition 1").select_option("status")
    builder.get_by_label("Operator of condition 1").select_option("equal")
    builder.get_by_label("Value of condition 1").select_option("churned")
    builder.get_by_role("button", name="+ Group").click()
    group = builder.locator(".filter-group .filter-group")
    group.get_by_label("Field of condition 1").select_option("industry")
    group.get_by_label("Operator of condition 1").select_option("equal")
    group.get_by_label("Value of condition 1").fill("Retail")
    group.get_by_role("button", name="+ Condition").click()
    group.get_by_label("Field of condition 2").select_option("industry")
    group.get_by_label("Operator of condition 2").select_option("starts_with")
    group.get_by_label("Value of condition 2").fill("Soft")
    screenshot(page, "companies-filter-builder")
    builder.get_by_role("button", name="Apply").click()

    expected = demo_site.rows(
        "SELECT count(*) FROM companies WHERE status = 'churned' AND "
        "(industry = 'Retail' OR lower(industry) LIKE 'soft%')")[0][0]
    assert expected > 0
    expect(page.locator("[data-count]")).to_have_text(
        f"{expected} compan{'y' if expected == 1 else 'ies'}")
    expect(page.locator("[data-filter-chip]")).to_contain_text("Status is churned and")
    expect(page.locator("[data-filter-button]")).to_have_text("Filter (3)")
    sent = json.loads(parse_qs(urlsplit(page.url).query)["filter"][0])
    assert sent["aggregator"] == "and" and sent["conditions"][1]["aggregator"] == "or"
    page.get_by_role("button", name="Clear filter").click()
    total = demo_site.rows("SELECT count(*) FROM companies")[0][0]
    expect(page.locator("[data-count]")).to_have_text(f"{total} companies")


# -- actions from the collection and record views -------------------------------------------


def test_mark_as_live_success_then_disabled_with_reason_then_error(
    admin: Any, demo_site: Site
) -> None:
    page = admin
    pending = demo_site.rows("SELECT id, name FROM companies WHERE status = 'pending' "
                             "ORDER BY id LIMIT 2")
    company, other = pending[0], pending[1]
    page.goto(demo_site.url + "/collections/companies")
    wait_for_table(page)
    # Nothing selected: the single action says why it cannot run.
    menu = open_menu(page)
    item = menu.locator("[data-action=mark-as-live]")
    expect(item).to_have_attribute("aria-disabled", "true")
    expect(item.locator("[data-reason]")).to_have_text("select a record first")
    page.keyboard.press("Escape")

    page.locator(f"[data-select-row='{company['id']}']").check()
    expect(page.locator("[data-selection-text]")).to_have_text("1 selected")
    dialog = start_action(page, "mark-as-live")
    expect(dialog.locator("[data-summary]")).to_have_text(f"On company {company['id']}.")
    screenshot(page, "mark-as-live-confirm")
    dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text="Company is now live!")).to_be_visible()
    expect(dialog).to_have_count(0)
    assert demo_site.rows("SELECT status FROM companies WHERE id = ?",
                          company["id"])[0][0] == "live"
    row = page.locator(f"tbody tr[data-id='{company['id']}']")
    expect(row).to_contain_text("Live")  # the enum value by its label

    # Now live: disabled, with the action's reason.
    item = open_menu(page).locator("[data-action=mark-as-live]")
    expect(item).to_have_attribute("aria-disabled", "true")
    expect(item.locator("[data-reason]")).to_have_text("The company was already live!")
    page.keyboard.press("Escape")

    # Someone else makes the other company live while the dialog is open: an error toast.
    page.goto(demo_site.url + f"/collections/companies/records/{other['id']}")
    dialog = start_action(page, "mark-as-live")
    demo_site.execute("UPDATE companies SET status = 'live' WHERE id = ?", other["id"])
    dialog.locator("[data-submit]").click()
    error = toasts(page).filter(has_text="The company was already live!")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-kind", "error")
    screenshot(page, "mark-as-live-error-toast")


def test_charge_credit_card_field_errors_then_html_panel(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/customers/records/7")
    dialog = start_action(page, "charge-credit-card")
    amount = dialog.get_by_label("Amount")
    expect(amount).to_be_focused()
    expect(dialog.locator("[data-field=amount] .required-mark")).to_be_visible()
    expect(dialog.locator("[data-field=amount] .field-description")).to_have_text(
        "The amount to charge, in euros (at least 0.01).")
    # Required fields are checked before sending.
    dialog.locator("[data-submit]").click()
    expect(dialog.locator("[data-field=description] .field-error")).to_have_text(
        "Description is required")
    # The server's 422 lands next to its field.
    amount.fill("0")
    dialog.get_by_label("Description").fill("Order 42 <script>alert(1)</script>")
    dialog.locator("[data-submit]").click()
    error = dialog.locator("[data-field=amount] .field-error")
    expect(error).to_have_text("Amount must be at least 0.01")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_be_focused()
    screenshot(page, "charge-422-field-error")

    amount.fill("1250.5")
    dialog.locator("[data-submit]").click()
    panel = page.locator("[data-result-panel]")
    expect(panel).to_be_visible()
    expect(panel.locator(".charge-amount")).to_have_text("1,250.50 EUR")
    expect(panel.locator(".card-number")).to_have_text(re.compile(r"\*{4} \*{4} \*{4} \d{4}"))
    expect(panel).to_contain_text("Order 42 <script>alert(1)</script>")
    assert panel.locator("script").count() == 0
    screenshot(page, "charge-html-panel")


def test_generate_invoice_downloads_the_pdf(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/customers/records/3")
    dialog = start_action(page, "generate-invoice")
    with page.expect_download() as download_info:
        dialog.locator("[data-submit]").click()
    download = download_info.value
    assert download.suggested_filename == "invoice-3.pdf"
    with open(download.path(), "rb") as handle:
        content = handle.read()
    assert content.startswith(b"%PDF-")
    expect(toasts(page).filter(has_text="invoice-3.pdf downloaded.")).to_be_visible()


def test_show_some_activity_redirects_inside_the_desk(admin: Any, demo_site: Site) -> None:
    page = admin
    company = demo_site.rows("SELECT emitter_company_id, count(*) AS n FROM transactions "
                             "GROUP BY emitter_company_id ORDER BY n DESC LIMIT 1")[0]
    page.goto(demo_site.url + f"/collections/companies/records/{company[0]}")
    dialog = start_action(page, "show-some-activity")
    dialog.locator("[data-submit]").click()
    expect(page).to_have_url(re.compile(r"/collections/transactions\?filter="))
    wait_for_table(page)
    expect(page.locator("[data-count]")).to_have_text(f"{company['n']} transactions")
    expect(page.locator("[data-filter-chip]")).to_contain_text(
        f"Emitter company id is {company[0]}")
    sent = json.loads(unquote(parse_qs(urlsplit(page.url).query)["filter"][0]))
    assert sent["conditions"][0]["value"] == company[0]


def test_return_and_track_opens_the_carrier_in_a_new_tab(admin: Any, demo_site: Site) -> None:
    page = admin
    page.context.route("https://www.royalmail.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<h1>Tracking</h1>"))
    page.goto(demo_site.url + "/collections/customers/records/5")
    dialog = start_action(page, "return-and-track")
    with page.context.expect_page() as new_tab:
        dialog.locator("[data-submit]").click()
    tab = new_tab.value
    tab.wait_for_load_state()
    assert tab.url.startswith("https://www.royalmail.com/track-your-item#/tracking-results/RM")
    assert page.url == demo_site.url + "/collections/customers/records/5"
    # A new tab opened with noopener cannot reach back to the desk.
    assert tab.evaluate("window.opener") is None


def test_add_new_transaction_refreshes_emitted_transactions(admin: Any, demo_site: Site) -> None:
    page = admin
    emitter = demo_site.rows("SELECT id FROM companies ORDER BY id DESC LIMIT 1")[0][0]
    beneficiary = demo_site.rows("SELECT id, name FROM companies WHERE id = 2")[0]
    before = demo_site.rows("SELECT count(*) FROM transactions WHERE emitter_company_id = ?",
                            emitter)[0][0]
    page.goto(demo_site.url + f"/collections/companies/records/{emitter}#emitted_transactions")
    tab = page.locator("[data-tab=emitted_transactions]")
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(tab.locator("[data-tab-count]")).to_have_text(f" {before}")

    dialog = start_action(page, "add-new-transaction")
    picker = dialog.get_by_role("combobox", name="Beneficiary company")
    picker.fill(beneficiary["name"])
    option = dialog.get_by_role("option", name=re.compile(re.escape(beneficiary["name"])))
    expect(option.first).to_be_visible()
    screenshot(page, "add-transaction-reference-picker")
    picker.press("ArrowDown")
    picker.press("ArrowUp")
    picker.press("Enter")
    expect(dialog.locator(".reference-chosen")).to_contain_text("#2")
    dialog.get_by_label("Amount").fill("321.09")
    dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text="New transaction emitted")).to_be_visible()
    expect(tab.locator("[data-tab-count]")).to_have_text(f" {before + 1}")
    row = demo_site.rows("SELECT beneficiary_company_id, amount, status FROM transactions "
                         "WHERE emitter_company_id = ? ORDER BY id DESC LIMIT 1", emitter)[0]
    assert (row[0], str(row[1]), row[2]) == (2, "321.09", "to_validate")
    panel = page.locator("[data-tab-panel=emitted_transactions]")
    shown = min(before + 1, 10)
    expect(panel.locator("[data-range]")).to_have_text(f"1{DASH}{shown} of {before + 1}")
    screenshot(page, "company-record-emitted-transactions")


def test_mail_users_select_all_matching_with_exclusions(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/users?" + "filter=" + json.dumps(
        {"field": "status", "operator": "equal", "value": "active"}))
    wait_for_table(page)
    active = demo_site.rows("SELECT count(*) FROM users WHERE status = 'active'")[0][0]
    assert active > 25
    page.locator("[data-select-page]").check()
    expect(page.locator("[data-selection-text]")).to_have_text("25 selected")
    page.locator("[data-select-all]").click()
    expect(page.locator("[data-selection-text]")).to_have_text(
        f"All {active} matching users are selected")
    # Deselect two rows on page 1 and one on page 2: they stay excluded across pages.
    rows = page.locator("tbody tr")
    excluded = [rows.nth(0).get_attribute("data-id"), rows.nth(3).get_attribute("data-id")]
    for record_id in excluded:
        page.locator(f"[data-select-row='{record_id}']").uncheck()
    page.locator("[data-page=next]").click()
    expect(page.locator("[data-range]")).to_contain_text(f"26{DASH}")
    third = page.locator("tbody tr").nth(1).get_attribute("data-id")
    expect(page.locator(f"[data-select-row='{third}']")).to_be_checked()
    page.locator(f"[data-select-row='{third}']").uncheck()
    excluded.append(third)
    expect(page.locator("[data-selection-text]")).to_have_text(
        f"All {active - 3} matching users are selected (3 deselected)")
    screenshot(page, "users-select-all-with-exclusions")

    # The menu asks for the actions' state on the same selection the action will run on.
    menu_request = page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/api/collections/users/actions"))
    with menu_request as listed, page.expect_request(
            re.compile(r"/actions/mail-users$")) as sent:
        dialog = start_action(page, "mail-users")
        expect(dialog.locator("[data-summary]")).to_have_text(
            f"On all {active - 3} matching users.")
        dialog.get_by_label("Subject").fill("Hello")
        dialog.get_by_label("Body").fill("News for active users")
        dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text=f"Mail queued for {active - 3} users")).to_be_visible()
    asked = listed.value.post_data_json["data"]["attributes"]
    assert asked["all_records"] is True
    assert sorted(asked["all_records_ids_excluded"]) == sorted(excluded)
    attributes = sent.value.post_data_json["data"]["attributes"]
    assert attributes["all_records"] is True
    assert sorted(attributes["all_records_ids_excluded"]) == sorted(excluded)
    assert json.loads(attributes["all_records_subset_query"]["filters"]) == {
        "field": "status", "operator": "equal", "value": "active"}
    run = demo_site.state_rows("SELECT selection, record_count FROM actiondesk_runs WHERE "
                               "action_slug = 'mail-users' ORDER BY started_at DESC LIMIT 1")[0]
    assert run["record_count"] == active - 3
    assert sorted(json.loads(run["selection"])["excluded_ids"]) == sorted(excluded)


def test_refresh_users_status_global_action(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/collections/users")
    wait_for_table(page)
    menu = open_menu(page)
    expect(menu.get_by_text("Global")).to_be_visible()
    expect(menu.locator("[data-action=refresh-users-status]")).to_have_attribute(
        "data-enabled", "true")
    menu.locator("[data-action=refresh-users-status]").click()
    dialog = page.locator("dialog[data-action-dialog=refresh-users-status]")
    expect(dialog.locator("[data-summary]")).to_have_text("Runs once, on no record in particular.")
    dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text=re.compile(r"\d+ users changed status"))).to_be_visible()


def test_account_transfer_jet_form_moves_money(admin: Any, demo_site: Site) -> None:
    page = admin
    source, target = demo_site.rows(
        "SELECT a.id, a.name, a.balance FROM accounts a WHERE a.currency = 'EUR' AND "
        "a.balance > 100 ORDER BY a.id LIMIT 2")
    page.goto(demo_site.url + f"/collections/accounts/records/{source['id']}")
    dialog = start_action(page, "account-transfer")
    # The source is the selected account: the form chooses only the target.
    expect(dialog.locator("[data-field=from_account]")).to_have_count(0)
    picker = dialog.get_by_role("combobox", name="To account")
    picker.fill(str(target["id"]))
    dialog.get_by_role("option").filter(has_text=f"#{target['id']}").first.click()
    dialog.get_by_label("Amount").fill("12.34")
    dialog.get_by_label("Comment").fill("Monthly top-up")
    dialog.get_by_label("Date").fill("2026-02-03T10:30")
    expect(dialog.locator("[data-field=date] .field-description")).to_have_text(
        "When the transfer happens; now if empty.")
    screenshot(page, "account-transfer-form")
    dialog.locator("[data-submit]").click()
    expect(toasts(page).filter(has_text="Transferred 12.34 EUR")).to_be_visible()
    balances = dict(demo_site.rows("SELECT id, balance FROM accounts WHERE id IN (?, ?)",
                                   source["id"], target["id"]))
    assert round(balances[source["id"]], 2) == round(source["balance"] - 12.34, 2)
    assert round(balances[target["id"]], 2) == round(target["balance"] + 12.34, 2)
    income = demo_site.rows("SELECT label, received_at FROM incomes WHERE account_id = ? "
                            "ORDER BY id DESC LIMIT 1", target["id"])[0]
    assert income["label"].endswith("Monthly top-up")
    assert income["received_at"].startswith("2026-02-03 10:30")


def test_notify_slack_webhook_is_called_by_the_browser(admin: Any, demo_site: Site) -> None:
    page = admin
    calls: list[Any] = []

    def hook(route: Any) -> None:
        request = route.request
        if request.method == "OPTIONS":  # the CORS preflight of a JSON POST
            route.fulfill(status=204, headers={
                "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "content-type"})
            return
        calls.append((request.method, request.headers.get("content-type"),
                      request.post_data_json))
        route.fulfill(status=200, body="ok", headers={"Access-Control-Allow-Origin": "*"})

    page.context.route(SLACK_WEBHOOK_URL, hook)
    transaction = demo_site.rows("SELECT id, reference FROM transactions ORDER BY id LIMIT 1")[0]
    run_id = notify_slack(page, demo_site, transaction["id"])
    expect(toasts(page).filter(has_text="The webhook was called.")).to_be_visible()
    assert len(calls) == 1
    method, content_type, body = calls[0]
    assert (method, content_type) == ("POST", "application/json")
    assert body["transaction"]["reference"] == transaction["reference"]
    outcome = webhook_outcome(page, demo_site, run_id)
    expect(outcome).to_have_attribute("data-webhook-outcome", "delivered")
    expect(outcome).to_contain_text("Webhook delivered · HTTP 200")


def notify_slack(page: Any, site: Site, transaction_id: int) -> str:
    """Run Notify Slack on a transaction from its page; the run id its browser reported on."""
    page.goto(site.url + f"/collections/transactions/records/{transaction_id}")
    dialog = start_action(page, "notify-slack")
    with page.expect_response(re.compile(r"/api/runs/\w+/webhook$")) as reported:
        dialog.locator("[data-submit]").click()
    assert reported.value.status == 200, reported.value.text()
    return str(reported.value.url.split("/")[-2])


def webhook_outcome(page: Any, site: Site, run_id: str) -> Any:
    """The run's page: its status and what it shows of the webhook's outcome."""
    page.goto(site.url + f"/runs/{run_id}")
    expect(page.locator("[data-status]").first).to_have_text("Succeeded")
    return page.locator("[data-webhook-outcome]")


def test_an_unreachable_webhook_is_recorded_as_not_delivered(admin: Any, demo_site: Site) -> None:
    page = admin
    page.context.route(SLACK_WEBHOOK_URL, lambda route: route.abort("connectionrefused"))
    transaction = demo_site.rows("SELECT id FROM transactions ORDER BY id DESC LIMIT 1")[0]
    run_id = notify_slack(page, demo_site, transaction["id"])
    expect(toasts(page).filter(has_text="The webhook could not be reached.")).to_be_visible()
    stored = json.loads(demo_site.state_rows(
        "SELECT result FROM actiondesk_runs WHERE id = ?", run_id)[0]["result"])
    assert stored["webhook_outcome"]["delivered"] is False
    outcome = webhook_outcome(page, demo_site, run_id)
    expect(outcome).to_have_attribute("data-webhook-outcome", "undelivered")
    expect(outcome).to_contain_text("Webhook not delivered: could not be reached")
    screenshot(page, "run-webhook-not-delivered")
    page.goto(demo_site.url + "/runs")
    row = page.locator("tr", has=page.locator(f"[data-run-link='{run_id}']"))
    expect(row.locator("[data-webhook-undelivered]")).to_have_text("Webhook not delivered")


def test_related_tab_runs_actions_in_the_parent_context(admin: Any, demo_site: Site) -> None:
    page = admin
    company = demo_site.rows("SELECT company_id FROM customers WHERE company_id IS NOT NULL "
                             "GROUP BY company_id "
                             "HAVING count(*) >= 2 ORDER BY company_id LIMIT 1")[0][0]
    customer = demo_site.rows("SELECT id FROM customers WHERE company_id = ? ORDER BY id "
                              "LIMIT 1", company)[0][0]
    page.goto(demo_site.url + f"/collections/companies/records/{company}#customers")
    panel = page.locator("[data-tab-panel=customers]")
    wait_for_table(page, panel)
    panel.locator(f"[data-select-row='{customer}']").check()
    with page.expect_request(re.compile(r"/actions/charge-credit-card$")) as sent:
        dialog = start_action(page, "charge-credit-card", scope=panel)
        expect(dialog.locator("[data-summary]")).to_have_text(
            f"On customer {customer} of company {company}.")
        dialog.get_by_label("Amount").fill("10")
        dialog.get_by_label("Description").fill("Tab charge")
        dialog.locator("[data-submit]").click()
    attributes = sent.value.post_data_json["data"]["attributes"]
    assert attributes["parent_collection_name"] == "companies"
    assert attributes["parent_collection_id"] == str(company)
    assert attributes["parent_association_name"] == "customers"
    assert attributes["ids"] == [str(customer)]
    expect(panel.locator("[data-result-html] .charge-amount")).to_have_text("10.00 EUR")


# -- permissions and approvals ------------------------------------------------------------


def test_support_sees_only_permitted_collections_and_actions(
    support: Any, demo_site: Site
) -> None:
    page = support
    page.goto(demo_site.url + "/collections/users")
    wait_for_table(page)
    sidebar = page.locator("#sidebar")
    expect(sidebar.get_by_role("link", name="Users")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Accounts")).to_have_count(0)
    expect(page.locator(".user-role")).to_have_text("support")
    menu = open_menu(page)
    expect(menu.locator("[data-action=mail-users]")).to_have_count(1)
    expect(menu.locator("[data-action=refresh-users-status]")).to_have_count(0)
    page.keyboard.press("Escape")
    page.goto(demo_site.url + "/collections/companies/records/1")
    menu = open_menu(page)
    expect(menu.locator("[data-action=add-new-transaction] .tag")).to_have_text("approval")
    response = page.goto(demo_site.url + "/collections/accounts")
    assert response.status == 403
    expect(page.locator(".empty-title")).to_have_text("Not allowed")


def test_large_charge_by_support_requests_approval(
    support: Any, new_page: Any, demo_site: Site
) -> None:
    page = support
    page.goto(demo_site.url + "/collections/customers/records/11")
    dialog = start_action(page, "charge-credit-card")
    dialog.get_by_label("Amount").fill("5000")
    dialog.get_by_label("Description").fill("Annual plan")
    dialog.locator("[data-submit]").click()
    notice = toasts(page).filter(has_text="waits for approval")
    expect(notice).to_be_visible()
    link = notice.get_by_role("link", name="See the request")
    href = link.get_attribute("href")
    assert href is not None and re.fullmatch(r"/approvals/[\w-]+", href)
    approval_id = href.rsplit("/", 1)[1]
    stored = demo_site.state_rows("SELECT status, action_slug FROM actiondesk_approvals "
                                  "WHERE id = ?", approval_id)
    assert [tuple(r) for r in stored] == [("pending", "charge-credit-card")]
    screenshot(page, "approval-requested-notice")
    # Nothing was charged: no HTML result.
    expect(page.locator("[data-result-panel]")).to_be_hidden()

    # The manager, who approves support's requests, sees it counted in the header's badge.
    pending = demo_site.state_rows("SELECT count(*) FROM actiondesk_approvals WHERE "
                                   "status = 'pending'")[0][0]
    manager = new_page(demo_site, "manager@demo.example", "manager-demo-2026")
    manager.goto(demo_site.url + "/")
    expect(manager.locator("[data-badge-count]")).to_have_text(str(pending))
    expect(manager.locator("[data-approvals-badge]")).to_have_attribute(
        "aria-label", f"{pending} approval request{'' if pending == 1 else 's'} to review")
