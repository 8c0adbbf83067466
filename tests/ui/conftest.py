"""End-to-end UI tests: a real Chromium (headless, driven by playwright) against a real uvicorn
server. One browser per module; each module starts its own server; each test gets a fresh
browser context (its own cookies and storage).

Chromium is /usr/bin/chromium (or ACTIONDESK_TEST_CHROMIUM). Without it, or without the
playwright package, the tests skip with the reason; under CI=true they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.databases import unavailable
from tests.live_server import live_server
from tests.ui.helpers import ADMIN, MANAGER, SUPPORT, TIMEOUT_MS, Site, demo_desk, demo_site_in

T = TypeVar("T")

CHROMIUM = os.environ.get("ACTIONDESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one module. Playwright's sync API marks its event loop as running in
    this thread for as long as it is started: stopped with the module, it leaves no loop
    behind for the tests that run next and call ``asyncio.run``."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"the playwright package is not installed ({exc}); "
                    "pip install -e '.[test]'")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            unavailable(f"Chromium at {CHROMIUM} does not start: {exc}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo desk on a freshly seeded SQLite database, with its roles and logins."""
    directory = tmp_path_factory.mktemp("ui-demo")
    desk = demo_desk(directory, "ui-test-secret")
    with live_server(desk) as url:
        yield demo_site_in(url, directory)


def session_cookies(base_url: str, email: str, password: str) -> list[dict[str, Any]]:
    """Sign in through the API and give the session cookie in playwright's form."""
    with httpx.Client(base_url=base_url) as client:
        response = client.post("/api/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return [{"name": c.name, "value": c.value, "url": base_url + "/"}
                for c in client.cookies.jar]


_COOKIES: dict[tuple[str, str], list[dict[str, Any]]] = {}


def open_page(browser: Any, url: str, email: str | None, password: str | None) -> Any:
    """A page in a new browser context, signed in as ``email`` (session cookie reused)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  accept_downloads=True, locale="en-US", timezone_id="UTC",
                                  reduced_motion="reduce")
    context.set_default_timeout(TIMEOUT_MS)
    if email is not None and password is not None:
        key = (url, email)
        if key not in _COOKIES:
            _COOKIES[key] = session_cookies(url, email, password)
        context.add_cookies(_COOKIES[key])
    return context.new_page()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """new_page(site, email, password) -> a page; every context is closed after the test, and
    the test fails if a page raised a JavaScript error or broke a Content-Security-Policy."""
    pages: list[Any] = []
    errors: list[str] = []

    def make(site: Site, email: str | None = None, password: str | None = None) -> Any:
        page = open_page(browser, site.url, email, password)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if (
            message.type == "error" and "Content Security Policy" in message.text) else None)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.context.close()
    assert not errors, f"JavaScript or CSP errors in the page: {errors}"


@pytest.fixture
def admin(new_page: Any, demo_site: Site) -> Any:
    """A page on the demo desk, signed in as its admin."""
    return new_page(demo_site, *ADMIN)


@pytest.fixture
def support(new_page: Any, demo_site: Site) -> Any:
    return new_page(demo_site, *SUPPORT)


@pytest.fixture
def manager(new_page: Any, demo_site: Site) -> Any:
    return new_page(demo_site, *MANAGER)
