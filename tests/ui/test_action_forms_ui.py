"""Every form widget, dynamic forms and each kind of result, in a real browser, on the test desk
of tests/actions_app.py (development mode) mounted under /admin in a host application that
sends the strict Content-Security-Policy the UI is written for. Any CSP violation or
JavaScript error fails the test (see the new_page fixture)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth_support import ADMIN_EMAIL, PASSWORD, token_for
from tests.live_server import live_server
from tests.sample_schema import create_and_seed
from tests.ui.helpers import Site, expect, off_loop, screenshot, strict_csp_host

PREFIX = "/admin"
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def forms_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from tests.actions_app import build_desk

    directory = tmp_path_factory.mktemp("ui-forms")
    data = directory / "data.db"
    off_loop(lambda: asyncio.run(create_and_seed(f"sqlite:///{data}")))
    desk = build_desk(f"sqlite:///{data}", f"sqlite:///{directory / 'state.db'}")
    off_loop(lambda: token_for(desk))
    with live_server(strict_csp_host(desk, PREFIX, STRICT_CSP)) as url:
        yield Site(url + PREFIX, data_path=data, state_path=directory / "state.db")


@pytest.fixture
def page(new_page: Any, forms_site: Site) -> Any:
    return new_page(forms_site, ADMIN_EMAIL, PASSWORD)


def open_dialog(page: Any, site: Site, slug: str, record: str = "1") -> Any:
    page.goto(f"{site.url}/collections/companies/records/{record}")
    page.locator(".page-header [data-actions-button]").click()
    page.locator(f"[data-actions-menu] [data-action={slug}]").click()
    dialog = page.locator(f"dialog[data-action-dialog={slug}]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-state=loading]")).to_have_count(0)
    return dialog


def success_text(page: Any) -> str:
    toast = page.locator("[data-toasts] .toast[data-kind=success]").last
    expect(toast).to_be_visible()
    text: str = toast.locator(".toast-message").inner_text()
    return text


def test_every_field_type_has_a_fitting_widget(page: Any, forms_site: Site) -> None:
    dialog = open_dialog(page, forms_site, "echo")
    fields = {name: dialog.locator(f"[data-field={name}]") for name in (
        "s", "t", "n", "d", "b", "date", "day", "time", "dt", "e", "j", "file", "files", "sl",
        "nl", "el", "ref", "password", "fixed")}
    # Widgets by type, each labelled (get_by_label finds the input through its label).
    assert dialog.get_by_label("S", exact=True).get_attribute("type") == "text"
    assert dialog.get_by_label("T", exact=True).evaluate("e => e.tagName") == "TEXTAREA"
    assert dialog.get_by_label("N", exact=True).get_attribute("type") == "number"
    assert dialog.get_by_label("D", exact=True).get_attribute("inputmode") == "decimal"
    assert dialog.get_by_label("B", exact=True).get_attribute("type") == "checkbox"
    assert dialog.get_by_label("Date", exact=True).get_attribute("type") == "datetime-local"
    assert dialog.get_by_label("Day", exact=True).get_attribute("type") == "date"
    assert dialog.get_by_label("Time", exact=True).get_attribute("type") == "time"
    assert dialog.get_by_label("E", exact=True).evaluate("e => e.tagName") == "SELECT"
    assert dialog.get_by_label("File", exact=True).get_attribute("type") == "file"
    assert dialog.get_by_label("Files", exact=True).get_attribute("multiple") == ""
    expect(dialog.get_by_role("combobox", name="Ref")).to_be_visible()
    expect(fields["s"].locator(".required-mark")).to_be_visible()
    expect(fields["t"].locator(".required-mark")).to_be_hidden()
    expect(fields["file"]).to_contain_text("At most 1000 bytes per file.")
    fixed = dialog.get_by_label("Fixed", exact=True)
    expect(fixed).to_have_value("locked")
    expect(fixed).to_have_attribute("readonly", "")
    screenshot(page, "echo-form-empty")

    dialog.get_by_label("S", exact=True).fill("abc")
    dialog.get_by_label("T", exact=True).fill("two\nlines")
    dialog.get_by_label("N", exact=True).fill("42")
    dialog.get_by_label("D", exact=True).fill("12.50")
    dialog.get_by_label("B", exact=True).check()
    dialog.get_by_label("Date", exact=True).fill("2026-02-03T10:30")
    dialog.get_by_label("Day", exact=True).fill("2026-02-03")
    dialog.get_by_label("Time", exact=True).fill("10:11:12")
    dialog.get_by_label("Dt", exact=True).fill("2026-03-04T05:06")
    dialog.get_by_label("E", exact=True).select_option("high")
    dialog.get_by_label("J", exact=True).fill('{"a": [1, 2]}')
    dialog.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    dialog.get_by_label("Files", exact=True).set_input_files(files=[
        {"name": "x.csv", "mimeType": "text/csv", "buffer": b"1,2"},
        {"name": "y.csv", "mimeType": "text/csv", "buffer": b"3,4"}])
    sl = fields["sl"]  # a list starts with one empty item
    sl.get_by_role("textbox").nth(0).fill("first")
    sl.get_by_role("button", name="+ Add").click()
    expect(sl.get_by_role("textbox").nth(1)).to_be_focused()
    page.keyboard.type("second")
    nl = fields["nl"]
    nl.get_by_role("spinbutton").nth(0).fill("3.5")
    expect(dialog.get_by_role("group", name="El")).to_be_visible()
    fields["el"].get_by_label("a", exact=True).check()
    fields["el"].get_by_label("b", exact=True).check()
    ref = dialog.get_by_role("combobox", name="Ref")
    ref.fill("Company 02")
    dialog.get_by_role("option", name=re.compile("Company 02")).click()
    dialog.get_by_label("Password", exact=True).fill("hunter2")
    screenshot(page, "echo-form-filled")
    dialog.locator("[data-submit]").click()

    echoed = json.loads(success_text(page))
    assert echoed["s"] == ["str", "abc"]
    assert echoed["t"] == ["str", "two\nlines"]
    assert echoed["n"] == ["int", "42"]
    assert echoed["d"] == ["Decimal", "12.50"]
    assert echoed["b"] == ["bool", "True"]
    assert echoed["date"] == ["datetime", "2026-02-03 10:30:00+00:00"]  # the browser is in UTC
    assert echoed["day"] == ["date", "2026-02-03"]
    assert echoed["time"] == ["time", "10:11:12"]
    assert echoed["dt"] == ["datetime", "2026-03-04 05:06:00+00:00"]
    assert echoed["e"] == ["str", "high"]
    assert echoed["j"] == ["dict", "{'a': [1, 2]}"]
    assert echoed["file"] == ["FileValue", "a.txt", "text/plain", "hello"]
    assert echoed["files"] == [["FileValue", "x.csv", "text/csv", "1,2"],
                               ["FileValue", "y.csv", "text/csv", "3,4"]]
    assert echoed["sl"] == [["str", "first"], ["str", "second"]]
    assert echoed["nl"] == [["float", "3.5"]]
    assert echoed["el"] == [["str", "a"], ["str", "b"]]
    assert echoed["ref"] == ["str", "2"]
    assert echoed["fixed"] == ["str", "locked"]
    assert echoed["password_length"] == 7
    expect(page.locator("dialog")).to_have_count(0)


def test_errors_in_the_browser_and_from_the_server(page: Any, forms_site: Site) -> None:
    dialog = open_dialog(page, forms_site, "echo")
    json_box = dialog.get_by_label("J", exact=True)
    json_box.fill('{"a": ')
    expect(dialog.locator("[data-field=j]")).to_contain_text("Not valid JSON yet")
    dialog.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "big.bin", "mimeType": "application/octet-stream",
                "buffer": b"x" * 2000}])
    dialog.get_by_label("S", exact=True).fill("ABC")
    dialog.locator("[data-submit]").click()
    # Checked in the browser first: nothing is sent while these are wrong.
    expect(dialog.locator("[data-field=j] .field-error").last).to_contain_text(
        "J is not valid JSON")
    expect(dialog.locator("[data-field=file] .field-error")).to_have_text(
        "File big.bin is 2.0 KB; the limit is 1000 bytes")
    expect(json_box).to_be_focused()
    json_box.fill('{"a": 1}')
    dialog.get_by_label("File", exact=True).set_input_files(files=[])
    # The pattern is checked by the server: its 422 lands next to the field.
    with page.expect_response(re.compile(r"/actions/echo$")) as answer:
        dialog.locator("[data-submit]").click()
    assert answer.value.status == 422
    error = dialog.locator("[data-field=s] .field-error")
    expect(error).to_have_text("S does not match the expected format ([a-z]+)")
    s = dialog.get_by_label("S", exact=True)
    expect(s).to_have_attribute("aria-invalid", "true")
    assert error.get_attribute("id") in (s.get_attribute("aria-describedby") or "")
    screenshot(page, "echo-form-errors")
    s.fill("abc")
    dialog.get_by_label("Password", exact=True).fill("x")
    dialog.locator("[data-submit]").click()
    assert json.loads(success_text(page))["j"] == ["dict", "{'a': 1}"]


def test_dynamic_form_shows_fields_and_changes_from_the_server(
    page: Any, forms_site: Site
) -> None:
    dialog = open_dialog(page, forms_site, "dynamic", record="3")
    amount = dialog.get_by_label(f"Amount for {ADMIN_EMAIL}")
    expect(amount).to_have_value("3000.25")  # the default computed from the record
    description = dialog.locator("[data-field=amount] .field-description")
    expect(description).to_have_text("<b>html</b> is escaped by clients")
    assert description.locator("b").count() == 0
    reason = dialog.locator("[data-field=reason]")
    expect(reason).to_be_hidden()
    expect(dialog.get_by_label("Kind")).to_have_value("charge")

    with page.expect_request(re.compile(r"/actions/dynamic/form$")) as change:
        dialog.get_by_label("Kind").select_option("refund")
    assert change.value.post_data_json["data"]["attributes"]["changed_field"] == "kind"
    expect(reason).to_be_visible()
    expect(reason.locator(".required-mark")).to_be_visible()
    screenshot(page, "dynamic-form-refund")
    dialog.locator("[data-submit]").click()
    expect(reason.locator(".field-error")).to_have_text("Reason is required")
    dialog.get_by_label("Reason").fill("Damaged parcel")
    amount.fill("10.5")
    dialog.locator("[data-submit]").click()
    assert json.loads(success_text(page)) == {
        "kind": "refund", "reason": "Damaged parcel", "amount": "10.5"}

    # Back to "charge": the reason is hidden again and not sent.
    dialog = open_dialog(page, forms_site, "dynamic", record="3")
    dialog.get_by_label("Kind").select_option("refund")
    expect(dialog.locator("[data-field=reason]")).to_be_visible()
    dialog.get_by_label("Reason").fill("typed, then hidden")
    dialog.get_by_label("Kind").select_option("charge")
    expect(dialog.locator("[data-field=reason]")).to_be_hidden()
    dialog.locator("[data-submit]").click()
    assert "reason" not in json.loads(success_text(page))


def move_to(page: Any, slug: str) -> None:
    """Press ArrowDown in the open menu until the action has the focus."""
    for _ in range(40):
        if page.evaluate("document.activeElement?.dataset?.action") == slug:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never reached {slug}")


def test_keyboard_only_run(page: Any, forms_site: Site) -> None:
    page.goto(f"{forms_site.url}/collections/companies/records/2")
    button = page.locator(".page-header [data-actions-button]")
    button.focus()
    page.keyboard.press("ArrowDown")
    first = page.locator("[data-actions-menu] [role=menuitem]").first
    expect(first).to_be_focused()
    page.keyboard.press("End")
    expect(page.locator("[data-actions-menu] [role=menuitem]").last).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("[data-actions-menu]")).to_have_count(0)
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    menu = page.locator("[data-actions-menu]")
    expect(menu.locator("[role=menuitem]").first).to_be_focused()
    move_to(page, "counted")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[data-action-dialog=counted]")
    number = dialog.get_by_label("N", exact=True)
    expect(number).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.keyboard.press("Enter")  # the menu button again
    move_to(page, "counted")
    page.keyboard.press("Enter")
    expect(dialog.get_by_label("N", exact=True)).to_be_focused()
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    assert re.fullmatch(r"call \d+", success_text(page))


def test_results_default_message_error_html_crash_and_download(
    page: Any, forms_site: Site
) -> None:
    dialog = open_dialog(page, forms_site, "nothing")
    dialog.locator("[data-submit]").click()
    assert success_text(page) == "Nothing ran successfully."

    dialog = open_dialog(page, forms_site, "fail-politely")
    dialog.locator("[data-submit]").click()
    error = page.locator("[data-toasts] .toast[data-kind=error]").filter(has_text="Card declined")
    expect(error).to_be_visible()
    panel = page.locator("[data-result-panel]")
    expect(panel.locator("[data-result-html] b")).to_have_text("declined")
    assert panel.locator("[onerror]").count() == 0

    dialog = open_dialog(page, forms_site, "html")
    dialog.locator("[data-submit]").click()
    expect(panel.locator("[data-result-html] p.ok")).to_contain_text("Paid")
    assert panel.locator("script, [onclick]").count() == 0
    assert panel.locator("a[href^=javascript]").count() == 0

    dialog = open_dialog(page, forms_site, "crash")
    dialog.locator("[data-submit]").click()
    crash = page.locator("[data-toasts] .toast[data-kind=error]").filter(has_text="Crash failed")
    expect(crash).to_be_visible()
    assert "secret internal detail" not in crash.inner_text()

    dialog = open_dialog(page, forms_site, "download", record="4")
    with page.expect_download() as download:
        dialog.locator("[data-submit]").click()
    # The server's safe name (quotes and line breaks dropped), from filename*.
    assert download.value.suggested_filename == "report 4.txt"
    assert Path(download.value.path()).read_text() == "company Company 04"


def test_internal_redirect_stays_under_the_mount_prefix(page: Any, forms_site: Site) -> None:
    dialog = open_dialog(page, forms_site, "go-inside")
    dialog.locator("[data-submit]").click()
    expect(page).to_have_url(f"{forms_site.url}/collections/transactions")
    expect(page.locator("[data-count]")).to_have_text("60 transactions")


def test_odd_ids_links_and_a_bulk_action_in_a_related_tab(page: Any, forms_site: Site) -> None:
    page.goto(f"{forms_site.url}/collections/order_lines?sort=order_code")
    expect(page.locator("[data-count]")).to_have_text("10 order lines")
    # Ids are encoded as documented: ("A|1", 1) is "A%7C1|1", once more in a URL path.
    page.locator("tbody tr").filter(has_text="A|1 line 1").get_by_role(
        "link", name="A|1", exact=True).click()
    expect(page).to_have_url(f"{forms_site.url}/collections/order_lines/records/A%257C1%7C1")
    expect(page.locator("[data-field=label]")).to_have_text("A|1 line 1")
    # The many-to-one value links to its record.
    page.locator("[data-field=order_code] a").click()
    expect(page).to_have_url(f"{forms_site.url}/collections/orders/records/A%257C1")
    expect(page.locator("[data-field=code]")).to_have_text("A|1")
    expect(page.locator("[data-field=company_id] a")).to_have_attribute(
        "href", f"{PREFIX}/collections/companies/records/1")

    panel = page.locator("[data-tab-panel=order_lines]")
    expect(panel.locator("tbody tr")).to_have_count(2)
    panel.locator("[data-select-page]").check()
    panel.locator("[data-actions-button]").click()
    page.locator("[data-actions-menu] [data-action=relabel]").click()
    dialog = page.locator("dialog[data-action-dialog=relabel]")
    expect(dialog.locator("[data-summary]")).to_have_text(
        "On 2 selected order lines of order A%7C1.")
    dialog.get_by_label("Label").fill("relabelled in the tab")
    dialog.locator("[data-submit]").click()
    assert success_text(page) == "2 relabelled"
    expect(panel.locator("tbody")).to_contain_text("relabelled in the tab")
    labels = forms_site.rows("SELECT order_code, label FROM order_lines WHERE label = ?",
                             "relabelled in the tab")
    assert sorted(r[0] for r in labels) == ["A|1", "A|1"]


def test_home_dev_banner_and_global_actions(page: Any, forms_site: Site) -> None:
    page.goto(forms_site.url + "/")
    expect(page.locator(".dev-banner")).to_contain_text("Development mode")
    page.get_by_role("button", name="Global actions").click()
    menu = page.locator("[data-actions-menu]")
    expect(menu.locator("[data-action=ping]")).to_be_visible()
    menu.locator("[data-action=ping]").click()
    dialog = page.locator("dialog[data-action-dialog=ping]")
    dialog.get_by_label("Who").fill("operator")
    dialog.locator("[data-submit]").click()
    assert success_text(page).startswith("pong operator from ")
    screenshot(page, "home-dev-mode")
