"""Security headers on every answer of the desk (pages, API, static files, errors, the 503 of
a desk that cannot start), the API docs page's own policy, session cookie flags, and the
pages working in a real Chromium under the Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from actiondesk import Desk
from actiondesk.errors import ConfigurationError
from actiondesk.http.middleware.security_headers import CONTENT_SECURITY_POLICY
from tests.databases import unavailable
from tests.live_server import live_server
from tests.security.attack_app import AGENT, PASSWORD, build_desk
from tests.security.conftest import Site
from tests.support import jsonapi

EXPECTED = {
    # The browser sends the webhooks actions answer with: any https URL by default.
    "content-security-policy": f"{CONTENT_SECURITY_POLICY}; connect-src 'self' https:",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
CHROMIUM = "/usr/bin/chromium"


def assert_secured(response: httpx.Response, *, api: bool) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers)
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                      "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):
        assert directive in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    if api:
        assert response.headers.get("cache-control") == "no-store", response.url


def test_every_kind_of_answer_is_secured(site: Site) -> None:
    with site.admin() as admin, httpx.Client(base_url=site.base, timeout=30) as anonymous:
        answers = {
            "api json": (admin.get("/me"), True),
            "api 401": (anonymous.get("/api/me"), True),
            "api 404 route": (anonymous.get("/api/no-such-route"), True),
            "api 405": (admin.delete("/me"), True),
            "api 413": (admin.put("/settings/roles/x", content=b"x" * (1 << 17)), True),
            "api 500": (admin.post("/collections/companies/actions/crash",
                                   json=jsonapi(["1"])), True),
            "api file": (admin.post("/collections/companies/actions/download-as",
                                    json=jsonapi(["1"], {"name": "r.txt"})), True),
            "openapi": (anonymous.get("/api/openapi.json"), True),
            "login page": (anonymous.get("/login"), False),
            "home redirect": (anonymous.get("/"), False),
            "static file": (anonymous.get("/static/actiondesk/login.js"), False),
            "static 404": (anonymous.get("/static/nope.js"), False),
        }
    statuses = {name: r.status_code for name, (r, _) in answers.items()}
    assert statuses == {
        "api json": 200, "api 401": 401, "api 404 route": 404, "api 405": 405, "api 413": 413,
        "api 500": 500, "api file": 200, "openapi": 200, "login page": 200,
        "home redirect": 303, "static file": 200, "static 404": 404,
    }
    for response, api in answers.values():
        assert_secured(response, api=api)


def test_the_docs_page_allows_only_its_own_inline_script(site: Site) -> None:
    response = httpx.get(site.api + "/docs", timeout=30)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_desk_that_cannot_start_still_answers_secured(tmp_path: Path) -> None:
    host = FastAPI()
    host.mount("/admin", Desk(database_url="postgresql://x@127.0.0.1:1/none",
                              state_url=f"sqlite:///{tmp_path}/s.db", secret_key="k"))
    with live_server(host) as base:
        response = httpx.get(base + "/admin/api/collections", timeout=30)
    assert response.status_code == 503
    assert_secured(response, api=True)


def test_a_mounted_desk_is_secured_under_its_prefix(site: Site) -> None:
    host = FastAPI()
    host.mount("/admin", build_desk(site.data_url, site.state_url))
    with live_server(host) as base:
        api = httpx.get(base + "/admin/api/me", timeout=30)
        page = httpx.get(base + "/admin/login", timeout=30)
    assert api.status_code == 401
    assert_secured(api, api=True)
    assert_secured(page, api=False)


def _session_cookie(response: httpx.Response) -> dict[str, str]:
    header = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("actiondesk_session="))
    attributes = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value.lower()
    return attributes


@pytest.mark.parametrize(("trusted", "forwarded", "secure"), [
    (True, None, False),  # plain http: a Secure cookie would never come back
    (True, "https", True),  # behind a TLS proxy the desk trusts
    (False, "https", False),  # the header from a client nobody configured as a proxy
])
def test_session_cookie_flags(site: Site, trusted: bool, forwarded: str | None,
                              secure: bool) -> None:
    desk = build_desk(site.data_url, site.state_url)
    # uvicorn trusts X-Forwarded-Proto only from the addresses it is configured with.
    with live_server(desk, forwarded_allow_ips="127.0.0.1" if trusted else "") as base:
        headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
        response = httpx.post(base + "/api/login", json={"email": AGENT, "password": PASSWORD},
                              headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    attributes = _session_cookie(response)
    assert "httponly" in attributes and attributes["samesite"] == "lax"
    assert attributes["path"] == "/"
    assert ("secure" in attributes) is secure


def test_the_pages_work_in_chromium_under_the_policy(site: Site) -> None:
    from playwright import sync_api

    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    violations: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.goto(site.base + "/login")
            page.fill("#email", AGENT)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(site.base + "/")
            page.wait_for_selector(".user-name")
            assert page.inner_text(".user-name").strip()  # the shell rendered, signed in
            assert violations == []  # the login and home pages need nothing the policy denies
            # An inline script is refused on these pages, as the policy says.
            page.evaluate("() => { const s = document.createElement('script'); "
                          "s.textContent = 'window.inlineRan = true'; "
                          "document.body.appendChild(s); }")
            assert page.evaluate("() => window.inlineRan === true") is False
            assert len(violations) == 1 and "inline script" in violations[0]
        finally:
            browser.close()


async def test_webhook_origins_set_where_the_browser_may_connect(tmp_path: Path) -> None:
    desk = Desk(database_url=f"sqlite:///{tmp_path / 'data.db'}",
                state_url=f"sqlite:///{tmp_path / 'state.db'}", secret_key="k" * 32,
                webhook_origins="https://hooks.slack.com http://localhost:9000")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=desk),
                                 base_url="http://desk") as client:
        response = await client.get("/login")
    policy = response.headers["content-security-policy"]
    assert policy.endswith("; connect-src 'self' https://hooks.slack.com http://localhost:9000")
    await desk.stop()


def test_webhook_origins_cannot_inject_directives(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="webhook_origins"):
        Desk(database_url=f"sqlite:///{tmp_path / 'data.db'}", secret_key="k" * 32,
             webhook_origins="https:; script-src *")
