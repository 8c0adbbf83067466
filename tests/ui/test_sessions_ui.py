"""Ending sessions from the browser: "Sign out everywhere" in the user menu signs the person
out of every browser (a copied cookie included), and an admin's "End sessions" on the users
settings page does it for someone else. Sessions are the server's: the other browsers find out
at their next page."""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

import httpx

from actiondesk.http.dependencies import COOKIE
from tests.ui.helpers import ADMIN, Site, api_client, expect, screenshot, toasts

ROAMER = ("roamer@demo.example", "roamer-demo-2026")


def sign_in(page: Any, site: Site) -> None:
    page.goto(site.url + "/runs")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(ROAMER[0])
    page.get_by_label("Password").fill(ROAMER[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".user-role")).to_have_text("support")


def cookie_of(page: Any) -> str:
    value: str = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    return value


def signed_out(page: Any, site: Site) -> None:
    page.goto(site.url + "/runs")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fruns$"))


def test_sign_out_everywhere_and_an_admin_ending_sessions(
    new_page: Any, admin: Any, demo_site: Site
) -> None:
    with closing(api_client(demo_site, *ADMIN)) as api:
        made = api.post("/settings/users", json={"email": ROAMER[0], "role": "support",
                                                 "password": ROAMER[1]})
        assert made.status_code == 201, made.text
    laptop, phone = new_page(demo_site), new_page(demo_site)
    sign_in(laptop, demo_site)
    sign_in(phone, demo_site)
    copied = cookie_of(phone)

    # The menu opens from the user's name and closes with Escape.
    everywhere = laptop.get_by_role("button", name="Sign out everywhere")
    expect(everywhere).to_be_hidden()
    laptop.locator("[data-user]").click()
    expect(everywhere).to_be_visible()
    expect(laptop.locator(".user-menu-panel")).to_contain_text(ROAMER[0])
    screenshot(laptop, "user-menu")
    laptop.keyboard.press("Escape")
    expect(everywhere).to_be_hidden()
    laptop.locator("[data-user]").click()
    everywhere.click()
    expect(laptop).to_have_url(re.compile(r"/login$"))

    signed_out(phone, demo_site)
    response = httpx.get(demo_site.url + "/api/me", cookies={COOKIE: copied}, timeout=30)
    assert response.status_code == 401, response.text

    # An admin ends the sessions of someone who signed in again.
    sign_in(phone, demo_site)
    admin.goto(demo_site.url + "/settings/users")
    row = admin.locator(f"tr[data-id='{ROAMER[0]}']")
    expect(admin.locator(f"tr[data-id='{ADMIN[0]}'] [data-end-sessions]")).to_be_disabled()
    row.get_by_role("button", name="End sessions").click()
    expect(toasts(admin).filter(has_text=f"{ROAMER[0]} is signed out everywhere.")
           ).to_be_visible()
    signed_out(phone, demo_site)
    # The admin's own session goes on.
    admin.reload()
    expect(row).to_contain_text(ROAMER[0])
