"""The approvals, runs and settings pages mounted under a prefix in a host application that
sends a strict Content-Security-Policy (script-src 'self'; style-src 'self'): every page works,
every link and request stays under the prefix, and the browser reports no CSP violation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

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
    strict_csp_host,
)

PREFIX = "/admin"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
# Collects what the browser refuses, before any page script runs (init scripts are not
# subject to the page's CSP).
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.reportCsp(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


@pytest.fixture(scope="module")
def mounted_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("ui-prefix")
    desk = demo_desk(directory, "ui-prefix-secret")
    with live_server(strict_csp_host(desk, PREFIX, CSP)) as url:
        yield demo_site_in(url + PREFIX, directory)


def requested_charge(site: Site) -> str:
    """An approval request by support, made through the mounted API."""
    with closing(api_client(site, *SUPPORT)) as api:
        made = execute(api, "charge-credit-card",
                       jsonapi(["9"], {"amount": "4321", "description": "CSP"}), "customers")
        assert made.status_code == 202, made.text
        approval_id: str = made.json()["approval"]["id"]
        return approval_id


def test_pages_work_under_a_prefix_and_a_strict_csp(new_page: Any, mounted_site: Site) -> None:
    approval_id = requested_charge(mounted_site)
    page = new_page(mounted_site, *ADMIN)
    violations: list[str] = []
    page.expose_function("reportCsp", lambda text: violations.append(text))
    page.add_init_script(WATCH_CSP)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(mounted_site.url + "/") else None)

    response = page.goto(mounted_site.url + f"/approvals/{approval_id}")
    assert response.headers["content-security-policy"] == CSP
    links = page.locator("#sidebar a").evaluate_all("all => all.map(a => a.getAttribute('href'))")
    for href in links:
        assert href.startswith(PREFIX + "/"), href
    page.locator("[data-decide=approve]").click()  # an unsafe request: CSRF under the prefix
    expect(page.locator("[data-detail=status]")).to_have_text("Executed")
    expect(page.locator("[data-result] .charge-amount")).to_have_text("4,321.00 EUR")
    run_link = page.locator("[data-run-link]")
    assert (run_link.get_attribute("href") or "").startswith(PREFIX + "/runs/")
    run_link.click()
    expect(page.locator("[data-detail=status]")).to_have_text("Succeeded")
    screenshot(page, "prefix-csp-run")

    page.goto(mounted_site.url + "/approvals?box=history")
    expect(page.locator(f"tr[data-id='{approval_id}']")).to_be_visible()
    assert (page.locator("[data-export-csv]").get_attribute("href") or "").startswith(
        PREFIX + "/api/approvals/export.csv")
    page.goto(mounted_site.url + "/runs")
    page.get_by_label("Status").select_option("succeeded")
    expect(page.locator("tbody tr").first).to_be_visible()

    page.goto(mounted_site.url + "/settings/permissions")
    page.locator("[data-cell='support|companies|mark-as-live']").click()
    dialog = page.locator("dialog[data-policy-dialog]")
    dialog.locator("input[name=rule][value=approval]").check()
    dialog.locator("input[name=condition_on][value=records]").check()
    dialog.locator("[data-edit-condition]").click()
    expect(dialog.locator(".filter-builder")).to_be_visible()
    screenshot(page, "prefix-csp-policy-dialog")
    dialog.locator("[data-cancel]").click()
    for section in ("users", "roles", "actions"):
        page.goto(mounted_site.url + f"/settings/{section}")
        expect(page.locator("[data-settings] [data-state=loading]")).to_have_count(0)
        expect(page.locator("[data-settings] [data-state=error]")).to_have_count(0)

    assert violations == []
    assert refused == []
    assert outside == []
