"""What the UI test modules share: the running desk they drive (``Site``), playwright's
``expect`` with the suite's timeout, the demo's logins, an API client to set up data with,
the demo desk seeded for one module, and a host that sends a strict Content-Security-Policy.
The fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from fastapi import FastAPI, Request, Response

if TYPE_CHECKING:
    from actiondesk.desk import Desk

T = TypeVar("T")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
# Long enough for a loaded 2-core machine; a UI that works answers in well under a second.
TIMEOUT_MS = 15_000

ADMIN = ("admin@demo.example", "admin-demo-2026")
SUPPORT = ("support@demo.example", "support-demo-2026")
MANAGER = ("manager@demo.example", "manager-demo-2026")
BILLING = ("billing@demo.example", "billing-demo-2026")

expect: Any
try:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
except ImportError:  # the browser fixture skips (or fails under CI) with the reason
    expect = None


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


def demo_desk(directory: Path, secret_key: str, *, add: Callable[[Desk], None] | None = None,
              provision: Callable[[Desk], Awaitable[None]] | None = None) -> Desk:
    """The demo desk on a freshly seeded SQLite database in ``directory`` (demo.db, its state
    in demo-state.db), with ``add``'s extra actions; ``provision`` (the demo's roles and
    logins by default) runs on it before any server starts."""
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.demo.app import create_demo_desk
    from actiondesk.demo.seed import seed_demo
    from tests.auth_support import with_started

    path = directory / "demo.db"
    off_loop(lambda: asyncio.run(seed_demo(f"sqlite+aiosqlite:///{path}")))
    desk = create_demo_desk(path, secret_key=secret_key)
    if add is not None:
        add(desk)
    off_loop(lambda: with_started(desk, provision or seed_demo_access))
    return desk


def demo_site_in(url: str, directory: Path) -> Site:
    """The Site of a desk ``demo_desk`` made in ``directory``, served at ``url``."""
    return Site(url, data_path=directory / "demo.db", state_path=directory / "demo-state.db")


def strict_csp_host(app: Any, prefix: str, csp: str) -> FastAPI:
    """A host application that mounts ``app`` under ``prefix`` and sends ``csp``."""
    host = FastAPI()

    @host.middleware("http")
    async def strict_csp(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = csp
        return response

    host.mount(prefix, app)
    return host


def api_client(site: Site, email: str, password: str) -> httpx.Client:
    """An API client signed in as ``email``, sending its CSRF token: close it after use
    (``contextlib.closing``; httpx does not enter a client that has already sent)."""
    client = httpx.Client(base_url=site.url + "/api", timeout=60)
    signed_in = client.post("/login", json={"email": email, "password": password})
    assert signed_in.status_code == 200, signed_in.text
    client.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
    return client


def toasts(page: Any) -> Any:
    return page.locator("[data-toasts] .toast")


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page as a test artifact (test-artifacts/ui/, not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"),
                    full_page=True)
