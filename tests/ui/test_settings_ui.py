"""The settings pages in a real browser: an admin creates a role and a user, grants policies in
the permission matrix (with a condition built in the filter builder), switches actions off and
adds conditions; the new user then sees, or does not see, the actions. The server's 4xx errors
show next to the field they name; other roles get a 403 page. Changes are checked in the state
database."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.ui.helpers import BILLING, SUPPORT, Site, expect, screenshot, toasts


def field_error(scope: Any, name: str) -> Any:
    return scope.locator(f".field[data-field={name}] > .field-error")


def open_cell(page: Any, role: str, collection: str, action: str) -> Any:
    page.locator(f"[data-cell='{role}|{collection}|{action}']").click()
    dialog = page.locator(f"dialog[data-policy-dialog='{role}|{collection}|{action}']")
    expect(dialog).to_be_visible()
    return dialog


def menu_actions(page: Any) -> list[str]:
    page.locator(".page-header [data-actions-button]").click()
    menu = page.locator("[data-actions-menu]")
    expect(menu.locator("[role=menuitem]").first).to_be_visible()
    slugs = [item.get_attribute("data-action") or ""
             for item in menu.locator("[role=menuitem]").all()]
    page.keyboard.press("Escape")
    return slugs


def test_admin_creates_a_role_and_a_user_and_grants_actions(
    admin: Any, new_page: Any, demo_site: Site
) -> None:
    page = admin
    # A role reading customers only.
    page.goto(demo_site.url + "/settings/roles")
    expect(page.locator("tr[data-id=support]")).to_be_visible()
    page.locator("[data-new-role-button]").click()
    form = page.locator("#role-form")
    form.get_by_label("Name").fill("billing")
    form.get_by_label("Description").fill("Charges and invoices")
    form.get_by_role("checkbox", name="Customers", exact=True).check()
    screenshot(page, "settings-roles-new")
    form.get_by_role("button", name="Create role").click()
    expect(page.locator("tr[data-id=billing]")).to_contain_text("Customers")
    role = demo_site.state_rows("SELECT * FROM actiondesk_roles WHERE name = 'billing'")[0]
    assert not role["is_admin"] and not role["read_all"]
    assert "customers" in json.dumps(dict(role), default=str)

    # A user with that role.
    page.goto(demo_site.url + "/settings/users")
    page.locator("[data-new-user-button]").click()
    form = page.locator("#new-user")
    form.get_by_label("Email").fill(BILLING[0])
    form.get_by_label("First name").fill("Bea")
    form.get_by_label("Last name").fill("Biller")
    form.get_by_label("Role").select_option("billing")
    form.get_by_label("Password").fill(BILLING[1])
    form.get_by_role("button", name="Create user").click()
    created = toasts(page).filter(has_text=f"{BILLING[0]} may now sign in as billing.")
    expect(created).to_be_visible()
    expect(page.locator(f"tr[data-id='{BILLING[0]}']")).to_contain_text("Bea Biller")
    screenshot(page, "settings-users")
    user = demo_site.state_rows("SELECT role, active FROM actiondesk_users WHERE email = ?",
                                BILLING[0])[0]
    assert (user["role"], bool(user["active"])) == ("billing", True)

    # Without a policy, the new user sees the customers but no action on them.
    bea = new_page(demo_site)
    bea.goto(demo_site.url + "/login")
    bea.get_by_label("Email").fill(BILLING[0])
    bea.get_by_label("Password").fill(BILLING[1])
    bea.get_by_role("button", name="Sign in").click()
    expect(bea.locator(".user-role")).to_have_text("billing")
    sidebar = bea.locator("#sidebar")
    expect(sidebar.get_by_role("link", name="Customers")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Companies")).to_have_count(0)
    expect(sidebar.get_by_role("link", name="Settings")).to_have_count(0)
    bea.goto(demo_site.url + "/collections/customers/records/5")
    bea.locator(".page-header [data-actions-button]").click()
    expect(bea.locator("[data-actions-menu]")).to_contain_text("No action available to you here.")
    bea.keyboard.press("Escape")

    # The matrix: billing triggers invoices, and charges with approval above 500 (form values).
    page.goto(demo_site.url + "/settings/permissions")
    dialog = open_cell(page, "billing", "customers", "generate-invoice")
    dialog.locator("input[name=rule][value=trigger]").check()
    dialog.locator("[data-save-policy]").click()
    expect(dialog).to_have_count(0)
    invoice = page.locator("[data-cell='billing|customers|generate-invoice']")
    expect(invoice.locator("[data-rule]")).to_have_text("Trigger")

    dialog = open_cell(page, "billing", "customers", "charge-credit-card")
    dialog.locator("input[name=rule][value=approval]").check()
    dialog.locator("input[name=condition_on][value=values]").check()
    dialog.locator("[data-edit-condition]").click()
    builder = dialog.locator(".filter-builder")
    builder.get_by_label("Field of condition 1").select_option("amount")
    builder.get_by_label("Operator of condition 1").select_option("greater_than")
    builder.get_by_label("Value of condition 1").fill("500")
    builder.get_by_role("button", name="Apply").click()
    expect(dialog.locator("[data-condition-summary]")).to_have_text("Amount greater than 500")
    screenshot(page, "settings-policy-dialog")
    dialog.locator("[data-save-policy]").click()
    expect(dialog).to_have_count(0)
    cell = page.locator("[data-cell='billing|customers|charge-credit-card']")
    expect(cell.locator("[data-rule]")).to_have_text("With approval")
    expect(cell.locator("[data-rule-condition]")).to_have_text("if form: Amount greater than 500")
    # No role but admin and manager approves charges; billing's requests can be decided.
    expect(page.locator("tr[data-action='customers|charge-credit-card'] [data-no-approver]")) \
        .to_have_count(0)
    screenshot(page, "settings-permissions")
    policies = {r["action_slug"]: r for r in demo_site.state_rows(
        "SELECT * FROM actiondesk_policies WHERE role = 'billing'")}
    assert policies["generate-invoice"]["rule"] == "trigger"
    charge = policies["charge-credit-card"]
    assert (charge["rule"], charge["condition_on"]) == ("approval", "values")
    assert json.loads(charge["condition"]) == {
        "field": "amount", "operator": "greater_than", "value": "500"}

    # The new user now sees both, the charge marked for approval.
    bea.reload()
    assert sorted(menu_actions(bea)) == ["charge-credit-card", "generate-invoice"]
    bea.locator(".page-header [data-actions-button]").click()
    expect(bea.locator("[data-action=charge-credit-card] .tag")).to_have_text(
        "approval if amount is greater than 500")
    bea.keyboard.press("Escape")

    # Taking a rule away hides the action again.
    dialog = open_cell(page, "billing", "customers", "generate-invoice")
    dialog.locator("[data-remove-policy]").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("[data-cell='billing|customers|generate-invoice'] .rule")).to_have_text(
        "Hidden")
    bea.reload()
    assert menu_actions(bea) == ["charge-credit-card"]

    # A new role ends the user's session at their next request.
    page.goto(demo_site.url + "/settings/users")
    role = page.get_by_label(f"Role of {BILLING[0]}")
    role.select_option("support")
    page.locator(f"[data-save-role='{BILLING[0]}']").click()
    expect(toasts(page).filter(has_text=f"{BILLING[0]} is now support")).to_be_visible()
    expect(page.locator(f"[data-save-role='{BILLING[0]}']")).to_be_hidden()
    assert demo_site.state_rows("SELECT role FROM actiondesk_users WHERE email = ?",
                                BILLING[0])[0][0] == "support"
    bea.reload()
    expect(bea).to_have_url(re.compile(r"/login\?next="))
    # Deactivated, they cannot sign in again.
    page.locator(f"[data-toggle-active='{BILLING[0]}']").click()
    expect(page.locator(f"tr[data-id='{BILLING[0]}'] [data-status]")).to_have_text("Deactivated")
    assert not demo_site.state_rows("SELECT active FROM actiondesk_users WHERE email = ?",
                                    BILLING[0])[0][0]
    bea.get_by_label("Email").fill(BILLING[0])
    bea.get_by_label("Password").fill(BILLING[1])
    bea.get_by_role("button", name="Sign in").click()
    expect(bea.locator("#login-error")).to_be_visible()


def test_server_errors_show_next_to_their_fields(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/settings/users")
    page.locator("[data-new-user-button]").click()
    form = page.locator("#new-user")
    form.get_by_label("Email").fill("not an email")
    form.get_by_label("Role").select_option("support")
    form.get_by_label("Password").fill("x")
    form.get_by_role("button", name="Create user").click()
    expect(field_error(form, "email")).to_have_text("Email is not an email address")
    expect(form.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Email")).to_be_focused()
    expect(field_error(form, "password")).to_contain_text("Password ")
    screenshot(page, "settings-user-field-errors")
    form.get_by_label("Email").fill(SUPPORT[0])
    form.get_by_label("Password").fill("")
    form.get_by_role("button", name="Create user").click()
    expect(field_error(form, "email")).to_have_text("Email already used")
    expect(field_error(form, "password")).to_be_hidden()

    page.goto(demo_site.url + "/settings/roles")
    page.locator("[data-new-role-button]").click()
    page.locator("#role-form").get_by_role("button", name="Create role").click()
    expect(field_error(page.locator("#role-form"), "name")).to_have_text("Name is required")
    # A role given to users cannot be deleted (409); an unused one can, after confirming.
    delete = page.locator("[data-delete-role=support]")
    delete.click()
    expect(delete).to_have_text("Confirm delete")
    expect(delete).to_have_attribute(
        "aria-label", "Confirm: delete role support and its permissions")
    delete.click()
    in_use = re.compile(r"role 'support' is given to \d+ user\(s\)")
    expect(toasts(page).filter(has_text=in_use)).to_be_visible()
    expect(page.locator("tr[data-id=support]")).to_be_visible()
    page.locator("#role-form").get_by_label("Name").fill("temporary")
    page.locator("#role-form").get_by_role("button", name="Create role").click()
    delete = page.locator("[data-delete-role=temporary]")
    delete.click()
    delete.click()
    expect(page.locator("tr[data-id=temporary]")).to_have_count(0)
    assert not demo_site.state_rows("SELECT 1 FROM actiondesk_roles WHERE name = 'temporary'")

    page.goto(demo_site.url + "/settings/permissions")
    dialog = open_cell(page, "support", "companies", "mark-as-live")
    dialog.get_by_label("May approve requests for this action").check()
    dialog.get_by_label("Approvals a request needs").fill("0")
    dialog.locator("[data-save-policy]").click()
    expect(field_error(dialog, "approvals_required")).to_have_text(
        "Approvals a request needs must be a whole number from 1 to 100")
    dialog.get_by_label("Approvals a request needs").fill("1")
    # A condition on the records that does not fit the collection: the server says why.
    dialog.locator("input[name=rule][value=approval]").check()
    dialog.locator("input[name=condition_on][value=records]").check()
    dialog.locator("[data-edit-condition]").click()
    builder = dialog.locator(".filter-builder")
    builder.get_by_label("Field of condition 1").select_option("status")
    builder.get_by_label("Operator of condition 1").select_option("in")
    builder.get_by_label("Value of condition 1").fill("live, nonsense")
    builder.get_by_role("button", name="Apply").click()
    dialog.locator("[data-save-policy]").click()
    expect(field_error(dialog, "condition")).to_contain_text("Condition does not fit companies")
    screenshot(page, "settings-policy-field-error")
    dialog.locator("[data-cancel]").click()
    expect(dialog).to_have_count(0)
    stored = demo_site.state_rows("SELECT rule, can_approve FROM actiondesk_policies WHERE "
                                  "role = 'support' AND action_slug = 'mark-as-live'")[0]
    assert (stored["rule"], bool(stored["can_approve"])) == ("trigger", False)


def test_action_settings_switch_off_and_condition(
    admin: Any, new_page: Any, demo_site: Site
) -> None:
    page = admin
    page.goto(demo_site.url + "/settings/actions")
    row = page.locator("[data-setting='customers|return-and-track']")
    row.get_by_label(re.compile("Switched on")).uncheck()
    row.locator("[data-save-setting]").click()
    expect(toasts(page).filter(has_text="Return and track: switched off for everyone.")) \
        .to_be_visible()
    setting = demo_site.state_rows("SELECT visible FROM actiondesk_action_settings WHERE "
                                   "action_slug = 'return-and-track'")[0]
    assert not setting["visible"]
    support = new_page(demo_site, *SUPPORT)
    support.goto(demo_site.url + "/collections/customers/records/5")
    assert "return-and-track" not in menu_actions(support)

    # An extra condition on Mark as Live: only companies in Retail.
    row = page.locator("[data-setting='companies|mark-as-live']")
    expect(row.locator("[data-code-condition]")).to_have_text(
        "In code: enabled only when Status is not live.")
    row.locator("[data-edit-condition]").click()
    builder = row.locator(".filter-builder")
    builder.get_by_label("Field of condition 1").select_option("industry")
    builder.get_by_label("Operator of condition 1").select_option("equal")
    builder.get_by_label("Value of condition 1").fill("Retail")
    builder.get_by_role("button", name="Apply").click()
    row = page.locator("[data-setting='companies|mark-as-live']")
    row.locator("[data-save-setting]").click()
    row = page.locator("[data-setting='companies|mark-as-live']")
    expect(row.locator("[data-condition-summary]")).to_have_text("Industry is Retail")
    expect(row.locator("[data-setting-state]")).to_have_text("changed by an admin")
    screenshot(page, "settings-actions")
    stored = demo_site.state_rows("SELECT enabled_if FROM actiondesk_action_settings WHERE "
                                  "action_slug = 'mark-as-live'")[0]
    assert json.loads(stored["enabled_if"]) == {
        "field": "industry", "operator": "equal", "value": "Retail"}
    other = demo_site.rows("SELECT id FROM companies WHERE status != 'live' AND industry != "
                           "'Retail' ORDER BY id LIMIT 1")[0][0]
    support.goto(demo_site.url + f"/collections/companies/records/{other}")
    support.locator(".page-header [data-actions-button]").click()
    item = support.locator("[data-actions-menu] [data-action=mark-as-live]")
    expect(item).to_have_attribute("aria-disabled", "true")
    support.keyboard.press("Escape")

    # Back to the defaults.
    row.locator("[data-reset-setting]").click()
    expect(page.locator("[data-setting='companies|mark-as-live'] [data-setting-state]")) \
        .to_have_text("defaults: on, no extra condition")
    assert not demo_site.state_rows("SELECT 1 FROM actiondesk_action_settings WHERE "
                                    "action_slug = 'mark-as-live'")


def test_settings_are_for_admins_only(new_page: Any, demo_site: Site) -> None:
    page = new_page(demo_site, *SUPPORT)
    page.goto(demo_site.url + "/")
    expect(page.locator("#sidebar").get_by_role("link", name="Runs")).to_be_visible()
    expect(page.locator("#sidebar").get_by_role("link", name="Settings")).to_have_count(0)
    for path in ("/settings", "/settings/users", "/settings/roles", "/settings/permissions",
                 "/settings/actions"):
        response = page.goto(demo_site.url + path)
        assert response.status == 403, path
        expect(page.locator(".empty-title")).to_have_text("Not allowed")
        expect(page.get_by_text("settings are for admins; role 'support' is not an admin "
                                "role")).to_be_visible()
    screenshot(page, "settings-403")


def test_the_matrix_is_usable_with_the_keyboard(admin: Any, demo_site: Site) -> None:
    page = admin
    page.goto(demo_site.url + "/settings/permissions")
    key = "manager|users|mail-users"
    cell = page.locator(f"[data-cell='{key}']")
    expect(cell).to_have_attribute("aria-label", re.compile(r"^Mail users on users, role "
                                                            r"manager: trigger, approves\. Edit$"))
    cell.focus()
    page.keyboard.press("Enter")
    dialog = page.locator(f"dialog[data-policy-dialog='{key}']")
    expect(dialog.locator("input[name=rule][value=trigger]")).to_be_focused()
    page.keyboard.press("ArrowUp")  # radios move with the arrows: now "Hidden"
    expect(dialog.locator("input[name=rule][value=hidden]")).to_be_checked()
    page.keyboard.press("Escape")  # closes without saving; focus back on the cell
    expect(dialog).to_have_count(0)
    expect(cell).to_be_focused()
    assert demo_site.state_rows("SELECT rule FROM actiondesk_policies WHERE role = 'manager' "
                                "AND action_slug = 'mail-users'")[0][0] == "trigger"
    # Saving from the keyboard: the rule, then Save.
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")  # "Trigger with approval"
    dialog.locator("[data-save-policy]").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)
    expect(cell.locator("[data-rule]")).to_have_text("With approval")
    expect(cell).to_be_focused()
