"""End-to-end UI tests: a real Chromium (headless, driven by playwright) against a real uvicorn
server. One browser per session; each module starts its own server; each test gets a fresh
browser context (its own cookies and storage).

Chromium is /usr/bin/chromium (or ACTIONDESK_TEST_CHROMIUM). Without it, or without the
playwright package, the tests skip with the reason; under CI=true they fail.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.databases import unavailable
from tests.live_server import live_server

T = TypeVar("T")

CHROMIUM = os.environ.get("ACTIONDESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
# Long enough for a loaded 2-core machine; a UI that works answers in well under a second.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
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


@dataclass
class Site:
    """A running desk: its URL, and where to read what actions changed."""

    url: str
    data_path: Path | None = None
    state_path: Path | None = None

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Rows of the data database, read directly (not through our API)."""
        assert self.data_path is not None
        return _query(self.data_path, sql, params)

    def state_rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        assert self.state_path is not None
        return _query(self.state_path, sql, params)

    def execute(self, sql: str, *params: Any) -> None:
        """Change the data database as another process would."""
        assert self.data_path is not None
        with sqlite3.connect(self.data_path) as conn:
            conn.execute(sql, params)


def _query(path: Path, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def off_loop(work: Callable[[], T]) -> T:
    """Run ``work`` in another thread: playwright's sync API keeps an event loop running in
    this one, so ``asyncio.run`` (seeding, provisioning) must run elsewhere."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo desk on a freshly seeded SQLite database, with its roles and logins."""
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.demo.app import create_demo_desk
    from actiondesk.demo.seed import seed_demo
    from tests.auth_support import with_started

    directory = tmp_path_factory.mktemp("ui-demo")
    path = directory / "demo.db"
    off_loop(lambda: asyncio.run(seed_demo(f"sqlite+aiosqlite:///{path}")))
    desk = create_demo_desk(path, secret_key="ui-test-secret")
    off_loop(lambda: with_started(desk, seed_demo_access))
    with live_server(desk) as url:
        yield Site(url, data_path=path, state_path=directory / "demo-state.db")


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


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page as a test artifact (test-artifacts/ui/, not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"),
                    full_page=True)
