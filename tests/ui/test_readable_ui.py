"""Readable values in a real browser (issue 17): lists and record pages show references by
their record's label, field labels, enum labels, money with its currency and times in the
reader's zone (named, ISO on hover); the home page shows approvals waiting, recent and
background runs, and counts. Screenshots at 1440, 1024 and 390 px."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from actiondesk import ActionContext, Success
from actiondesk import fields as f
from actiondesk.desk import Desk
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
)

WIDTHS = {"1440": (1440, 900), "1024": (1024, 768), "390": (390, 844)}


def add_slow_action(desk: Desk) -> None:
    @desk.action("companies", name="Review companies", scope="bulk", form=[f.Number("delay")],
                 background=True)
    async def review(ctx: ActionContext) -> Success:
        delay = float(ctx.values.get("delay") or 0)
        batches = ctx.batches(size=10)
        async for _batch in batches:
            await asyncio.sleep(delay)
        return Success(f"{batches.done} companies reviewed")


async def provision(desk: Desk) -> None:
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.permissions.service import Policy

    await seed_demo_access(desk)
    await desk.permissions.put_policy(Policy("admin", "companies", "review-companies"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("ui-readable")
    desk = demo_desk(directory, "ui-readable-secret", add=add_slow_action, provision=provision)
    with live_server(desk) as url:
        yield demo_site_in(url, directory)


def at_widths(page: Any, name: str) -> None:
    for width, size in WIDTHS.items():
        page.set_viewport_size({"width": size[0], "height": size[1]})
        screenshot(page, f"readable-{name}-{width}")
    page.set_viewport_size({"width": 1280, "height": 860})


def money(amount: Decimal) -> str:
    return f"{amount:,.2f} EUR"


def test_a_list_reads_as_people_say_it(new_page: Any, site: Site) -> None:
    row = site.rows(
        "SELECT t.id, t.amount, t.status, t.created_at, e.name AS emitter, b.name AS beneficiary "
        "FROM transactions t JOIN companies e ON e.id = t.emitter_company_id "
        "JOIN companies b ON b.id = t.beneficiary_company_id "
        "WHERE t.status = 'to_validate' ORDER BY t.id LIMIT 1")[0]
    page = new_page(site, *ADMIN)
    condition = json.dumps({"field": "id", "operator": "equal", "value": row["id"]})
    page.goto(site.url + "/collections/transactions?" + urlencode({"filter": condition}))
    headers = page.locator("thead th")
    for label in ("ID", "Emitter", "Beneficiary", "Amount", "Status", "Emitter IBAN"):
        expect(headers.filter(has_text=re.compile(f"^{label}$"))).to_have_count(1)
    line = page.locator(f"tbody tr[data-id='{row['id']}']")
    emitter = line.locator("td[data-column=emitter_company_id] a")
    expect(emitter).to_have_text(row["emitter"])
    expect(emitter).to_have_attribute("href", re.compile(r"/collections/companies/records/\d+$"))
    expect(line.locator("td[data-column=beneficiary_company_id]")).to_have_text(row["beneficiary"])
    expect(line.locator("td[data-column=amount]")).to_have_text(money(Decimal(row["amount"])))
    expect(line.locator("td[data-column=status]")).to_have_text("To validate")
    expect(page.locator("tbody")).not_to_contain_text("to_validate")
    # A naive database time is UTC, shown in the reader's zone (UTC here) with the zone named.
    page.locator("[data-columns-button]").click()
    page.get_by_role("checkbox", name="Created").check()
    page.keyboard.press("Escape")
    created = line.locator("td[data-column=created_at] time")
    expect(created).to_contain_text("UTC")
    iso = row["created_at"].replace(" ", "T")[:19]
    expect(created).to_have_attribute("title", f"{iso}.000Z")
    at_widths(page, "transactions")


def test_a_record_page_is_titled_by_its_label(new_page: Any, site: Site) -> None:
    customer = site.rows(
        "SELECT c.id, c.firstname, c.lastname, c.stripe_id, k.name AS company, k.id AS company_id "
        "FROM customers c JOIN companies k ON k.id = c.company_id ORDER BY c.id LIMIT 1")[0]
    page = new_page(site, *ADMIN)
    page.goto(site.url + f"/collections/customers/records/{customer['id']}")
    name = f"{customer['firstname']} {customer['lastname']}"
    expect(page.locator("[data-record-title]")).to_have_text(name)
    expect(page).to_have_title(re.compile(rf"^{re.escape(name)} · Customers"))
    expect(page.locator(".breadcrumbs")).to_have_text(f"Customers / {name}")
    company = page.locator("[data-field=company_id] a")
    expect(company).to_have_text(customer["company"])
    company_href = f"/collections/companies/records/{customer['company_id']}"
    expect(company).to_have_attribute("href", company_href)
    labels = page.locator(".record-fields dt")
    expect(labels.filter(has_text="Stripe ID")).to_contain_text("The customer in Stripe.")
    expect(labels.filter(has_text=re.compile("^Company$"))).to_have_count(1)
    expect(page.locator("[data-field=email] a")).to_have_attribute(
        "href", re.compile(r"^mailto:"))
    at_widths(page, "customer")
    # The company page: its customers tab names each customer by label in the select box.
    company.click()
    expect(page.locator("[data-record-title]")).to_have_text(customer["company"])
    expect(page.locator("[data-tab-panel=customers] [data-select-row]").first).to_have_attribute(
        "aria-label", re.compile(r"^Select \w+ \w+"))


def test_an_account_balance_is_in_its_own_currency(new_page: Any, site: Site) -> None:
    account = site.rows("SELECT id, balance, currency FROM accounts WHERE currency = 'USD' "
                        "ORDER BY id LIMIT 1")[0]
    page = new_page(site, *ADMIN)
    page.goto(site.url + f"/collections/accounts/records/{account['id']}")
    expect(page.locator("[data-field=balance]")).to_have_text(
        f"{Decimal(account['balance']):,.2f} USD")


def test_home_shows_what_waits_what_ran_and_how_many(new_page: Any, site: Site) -> None:
    with closing(api_client(site, *SUPPORT)) as support:
        requested = execute(support, "charge-credit-card", jsonapi(
            ["3"], {"amount": "5000", "description": "Readable home"}), collection="customers")
        assert requested.status_code == 202, requested.text
    with closing(api_client(site, *ADMIN)) as admin:
        ran = execute(admin, "charge-credit-card", jsonapi(
            ["4"], {"amount": "12", "description": "Readable run"}), collection="customers")
        assert ran.status_code == 200, ran.text
        queued = execute(admin, "review-companies", jsonapi([], {"delay": 0.5}, all_records=True))
        assert queued.status_code == 202, queued.text
    named = {r["id"]: f"{r['firstname']} {r['lastname']}" for r in site.rows(
        "SELECT id, firstname, lastname FROM customers WHERE id IN (3, 4)")}
    page = new_page(site, *ADMIN)
    page.goto(site.url + "/")
    approvals = page.locator("[data-home=approvals]")
    # A request or a run on one record names it.
    expect(approvals.locator("a[data-label-id='3']").first).to_have_text(named[3])
    expect(page.locator("[data-home=runs] a[data-label-id='4']").first).to_have_text(named[4])
    expect(approvals.locator(".home-item").first).to_contain_text("Charge credit card")
    expect(approvals.locator(".home-item").first).to_contain_text("Support")
    runs = page.locator("[data-home=runs]")
    expect(runs.locator(".home-item").filter(has_text="Charge credit card").first).to_be_visible()
    background = page.locator("[data-home=background]")
    expect(background.locator("progress")).to_have_count(1)
    expect(background.locator("[data-progress]")).to_contain_text("/ 400")
    for name, table in (("companies", "companies"), ("transactions", "transactions"),
                        ("customers", "customers")):
        total = site.rows(f"SELECT count(*) FROM {table}")[0][0]
        expect(page.locator(f"[data-collection={name}] [data-count]")).to_have_text(
            f"{total:,} records")
    at_widths(page, "home")
    # The run and the approval request name their records, not only their ids.
    page.goto(site.url + f"/runs/{ran.headers['X-Actiondesk-Run-Id']}")
    expect(page.locator("[data-records] a[data-label-id='4']")).to_have_text(named[4])
    approval_id = requested.json()["approval"]["id"]
    page.goto(site.url + f"/approvals/{approval_id}")
    expect(page.locator("[data-records] a[data-label-id='3']")).to_have_text(named[3])
    screenshot(page, "readable-approval-records")
    # The queued run ends on its own (so it does not outlive the module's server).
    run_id = queued.json()["run"]["id"]
    with closing(api_client(site, *ADMIN)) as admin:
        admin.post(f"/runs/{run_id}/cancel")
