"""The UI's server-rendered pages over HTTP: sign-in redirects, where sign-in may lead, error
pages, escaping, and what a page embeds (the browser side is in tests/ui/)."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from tests.auth_support import ADMIN_EMAIL, PASSWORD


@pytest.fixture
def browser_client(sample_server: str) -> httpx.Client:
    client = httpx.Client(base_url=sample_server)
    response = client.post("/api/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def page_data(text: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', text,
                      re.DOTALL)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_pages_send_anonymous_visitors_to_sign_in_and_back(sample_server: str) -> None:
    with httpx.Client(base_url=sample_server) as client:
        response = client.get("/collections/companies?search=a b")
        assert response.status_code == 303
        assert response.headers["location"] == (
            "/login?next=%2Fcollections%2Fcompanies%3Fsearch%3Da%2520b")
        login = client.get("/login", params={"next": "/collections/companies?search=a%20b"})
        assert 'data-home="/collections/companies?search=a%20b"' in login.text


@pytest.mark.parametrize("target", [
    "//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
    "/ok\r\nSet-Cookie: x=1",
])
def test_sign_in_never_leads_to_another_site(sample_server: str, target: str) -> None:
    with httpx.Client(base_url=sample_server) as client:
        login = client.get("/login", params={"next": target})
        assert login.status_code == 200
        assert 'data-home="/"' in login.text


def test_collection_page_embeds_its_schema_and_no_records(browser_client: httpx.Client) -> None:
    response = browser_client.get("/collections/transactions")
    assert response.status_code == 200
    data = page_data(response.text)
    assert data["collection"]["name"] == "transactions"  # type: ignore[index]
    assert set(data["targets"]) == {"companies", "transactions"}  # type: ignore[arg-type]
    assert "records" not in data and "record" not in data
    assert 'data-csrf="' in response.text
    assert response.headers["cache-control"] == "no-store"
    # Scripts only from files (no inline code), as a strict CSP requires.
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", response.text) == []
    assert " style=" not in response.text and " onclick=" not in response.text


def test_record_page_embeds_its_record(browser_client: httpx.Client) -> None:
    response = browser_client.get("/collections/orders/records/A%257C1")
    assert response.status_code == 200
    data = page_data(response.text)
    assert data["record"] == {"id": "A%7C1", "label": "A|1",
                              "values": {"code": "A|1", "company_id": 1},
                              "references": {"companies": {"1": "Company 01"}}}


def test_error_pages(browser_client: httpx.Client) -> None:
    missing = browser_client.get("/collections/nope")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "Not found" in missing.text
    record = browser_client.get("/collections/companies/records/<b>x")
    assert record.status_code == 404
    assert "text/html" in record.headers["content-type"]
    assert html.escape("<b>x") in record.text and "<b>x" not in record.text
