"""Every display format in a real browser, read in another time zone (New York) than the
database's (UTC): numbers, money from a currency field, percent, date, date-time, relative
time, boolean, e-mail, URL (only http(s) becomes a link) and image URL (an image only from the
desk's own origin, so the Content-Security-Policy is never broken)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk import Desk, FieldDisplay
from tests.auth_support import ADMIN_EMAIL, PASSWORD, token_for
from tests.live_server import live_server
from tests.ui.conftest import session_cookies
from tests.ui.helpers import TIMEOUT_MS, Site, expect, off_loop, screenshot

metadata = sa.MetaData()
products = sa.Table(
    "products", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(80), nullable=False),
    sa.Column("stock", sa.Integer, nullable=False),
    sa.Column("price", sa.Numeric(12, 2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("discount", sa.Float, nullable=False),
    sa.Column("launched", sa.Date, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("checked_at", sa.DateTime, nullable=False),
    sa.Column("homepage", sa.String(200), nullable=False),
    sa.Column("picture", sa.String(200), nullable=False),
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)
ROWS = [
    {"id": 1, "title": "Lamp", "stock": 12500, "price": Decimal("1234.50"), "currency": "USD",
     "discount": 0.125, "launched": dt.date(2026, 3, 1),
     "updated_at": dt.datetime(2026, 1, 15, 12, 0, 0),
     "checked_at": dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=3),
     "homepage": "https://lamps.example/lamp", "picture": "/static/actiondesk/favicon.svg",
     "contact": "sales@lamps.example", "active": True},
    {"id": 2, "title": "Chair", "stock": 3, "price": Decimal("99.00"), "currency": "EUR",
     "discount": 0.5, "launched": dt.date(2025, 12, 31),
     "updated_at": dt.datetime(2026, 7, 4, 23, 30, 0),
     "checked_at": dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2),
     "homepage": "javascript:alert(1)", "picture": "https://images.example/chair.png",
     "contact": "chairs@example.com", "active": False},
]


async def seed(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(products.insert(), ROWS)
    await engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory: Path = tmp_path_factory.mktemp("ui-formats")
    off_loop(lambda: asyncio.run(seed(f"sqlite+aiosqlite:///{directory / 'data.db'}")))
    desk = Desk(database_url=f"sqlite:///{directory / 'data.db'}",
                state_url=f"sqlite:///{directory / 'state.db'}", secret_key="ui-formats-secret",
                models=[metadata])
    desk.display("products", fields={
        "price": FieldDisplay(format="money", currency_field="currency"),
        "discount": FieldDisplay(format="percent", decimals=1),
        "checked_at": FieldDisplay(label="Last check", format="relative"),
        "homepage": FieldDisplay(format="url"),
        "picture": FieldDisplay(format="image_url"),
        "contact": FieldDisplay(format="email"),
    })
    off_loop(lambda: token_for(desk))
    with live_server(desk) as url:
        yield Site(url)


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US",
                                  timezone_id="America/New_York")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies(session_cookies(site.url, ADMIN_EMAIL, PASSWORD))
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if (
        message.type == "error" and "Content Security Policy" in message.text) else None)
    yield opened
    context.close()
    assert not errors, f"JavaScript or CSP errors in the page: {errors}"


def cell(page: Any, record: int, column: str) -> Any:
    return page.locator(f"tbody tr[data-id='{record}'] td[data-column={column}]")


def test_each_format_in_the_list(page: Any, site: Site) -> None:
    page.goto(site.url + "/collections/products")
    page.locator("[data-columns-button]").click()
    for label in ("Last check", "Homepage", "Picture", "Contact", "Active"):
        page.get_by_role("checkbox", name=label, exact=True).check()
    page.keyboard.press("Escape")
    expect(cell(page, 1, "title")).to_have_text("Lamp")
    expect(cell(page, 1, "stock")).to_have_text("12,500")
    expect(cell(page, 1, "price")).to_have_text("1,234.50 USD")
    expect(cell(page, 2, "price")).to_have_text("99.00 EUR")
    expect(cell(page, 1, "discount")).to_have_text("12.5%")
    # A date is the same day in every zone; a naive time is UTC, read in New York.
    expect(cell(page, 1, "launched")).to_have_text("Mar 1, 2026")
    expect(cell(page, 2, "launched")).to_have_text("Dec 31, 2025")
    updated = cell(page, 1, "updated_at").locator("time")
    expect(updated).to_have_text("Jan 15, 2026, 07:00:00 AM EST")
    expect(updated).to_have_attribute("title", "2026-01-15T12:00:00.000Z")
    expect(cell(page, 2, "updated_at")).to_have_text("Jul 4, 2026, 07:30:00 PM EDT")
    expect(cell(page, 1, "checked_at")).to_have_text("3 days ago")
    expect(cell(page, 2, "checked_at")).to_have_text("2 hours ago")
    expect(cell(page, 1, "checked_at").locator("time")).to_have_attribute(
        "title", re.compile(r"\(\d{4}-\d\d-\d\dT.*Z\)$"))
    link = cell(page, 1, "homepage").locator("a")
    expect(link).to_have_attribute("href", "https://lamps.example/lamp")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(cell(page, 2, "homepage").locator("a")).to_have_count(0)
    expect(cell(page, 2, "homepage")).to_have_text("javascript:alert(1)")
    expect(cell(page, 1, "picture").locator("img")).to_have_attribute(
        "src", site.url + "/static/actiondesk/favicon.svg")
    elsewhere = cell(page, 2, "picture")
    expect(elsewhere.locator("img")).to_have_count(0)
    expect(elsewhere.locator("a")).to_have_attribute("href", "https://images.example/chair.png")
    expect(cell(page, 1, "contact").locator("a")).to_have_attribute(
        "href", "mailto:sales@lamps.example")
    expect(cell(page, 1, "active")).to_have_text("Yes")
    expect(cell(page, 2, "active")).to_have_text("No")
    screenshot(page, "readable-formats-list")
