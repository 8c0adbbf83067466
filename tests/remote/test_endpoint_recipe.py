"""docs/remote-actions.md, "The service side of an endpoint action": the documented service,
read from the file, runs under uvicorn in its own process; a desk declaring the documented
*Ship* endpoint action executes it over HTTP; and the service refuses what the recipe says it
refuses (forged and replayed requests), answering signed for the request's nonce."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import Condition, Desk
from actiondesk import fields as f
from actiondesk.remote import SignatureError, sign, verify
from tests.conftest import admin_api, served
from tests.doc_blocks import ROOT, block_named, section
from tests.live_server import free_port, wait_until_serving

DOC = ROOT / "docs" / "remote-actions.md"
SECRET = "shipping-secret-for-the-recipe-test-0123456789"
DOC_URL = "https://shipping.internal"


@pytest.fixture(scope="module")
def shipping_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The documented service, as its own uvicorn process; its base URL."""
    directory = tmp_path_factory.mktemp("shipping")
    recipe = section("### The service side of an endpoint action", DOC)
    (directory / "shipping_service.py").write_text(
        block_named(recipe, "# shipping_service.py").text
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "shipping_service:app", "--port", str(port),
         "--log-level", "warning"],
        cwd=directory, env={**os.environ, "SHIPPING_ACTIONS_SECRET": SECRET},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/actions/ship", process, "the documented shipping service")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def shop(tmp_path: Path, shipping_service: str,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """A desk over an orders table with the documented provider and *Ship* declaration."""
    data = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{data}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)"))
        conn.execute(sa.text("INSERT INTO orders VALUES (1042, 'paid'), (1043, 'paid'), "
                             "(1044, 'pending')"))
    engine.dispose()
    desk = Desk(database_url=f"sqlite:///{data}", state_url=f"sqlite:///{tmp_path / 's.db'}",
                secret_key="Vq3x9Lm2Rt8Wz5Ny7Pb4Hc6Jd1Kf0Gs-cli-test", dev_mode=True)
    declaration = block_named(section("## Endpoint actions (Forest's `endpoint`)", DOC),
                              'desk.remote_provider("shipping", url="https://shipping.internal"'
                              ', discover=False,').text
    assert DOC_URL in declaration
    monkeypatch.setenv("SHIPPING_ACTIONS_SECRET", SECRET)
    exec(declaration.replace(DOC_URL, shipping_service),  # noqa: S102 - the documented code
         {"desk": desk, "f": f, "Condition": Condition, "os": os})
    with served(desk) as base_url, admin_api(base_url) as api:
        yield api


def _ship(api: httpx.Client, ids: list[str], fee: str) -> httpx.Response:
    return api.post("/collections/orders/actions/ship", json={"data": {"attributes": {
        "ids": ids, "values": {"fee": fee}}}})


def test_the_documented_service_runs_the_documented_action(shop: httpx.Client) -> None:
    answer = _ship(shop, ["1042", "1043"], "2.50")
    assert answer.status_code == 200, answer.text
    me = shop.get("/me").json()["user"]["email"]
    assert answer.json() == {"success": f"Shipped orders 1042, 1043 (fee 2.50) for {me}"}
    run = shop.get(f"/runs/{answer.headers['X-Actiondesk-Run-Id']}").json()
    assert run["status"] == "succeeded" and run["action_slug"] == "ship"
    # actiondesk's checks come first: a pending order never reaches the service.
    refused = _ship(shop, ["1044"], "2.50")
    assert refused.status_code == 403, refused.text


def test_the_documented_service_refuses_forged_and_replayed_requests(
    shipping_service: str,
) -> None:
    body = json.dumps({"data": {"attributes": {"ids": ["7"], "values": {"fee": "1"}}},
                       "meta": {"caller": {"email": "ada@example.com"}}}).encode()
    url = shipping_service + "/actions/ship"
    headers = {**sign(SECRET, body), "Content-Type": "application/json"}
    first = httpx.post(url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    nonce = headers["X-Actiondesk-Nonce"]
    verify(SECRET, first.headers, first.content, expected_nonce=nonce)  # signed for us
    assert first.json() == {"success": "Shipped orders 7 (fee 1) for ada@example.com"}

    replayed = httpx.post(url, content=body, headers=headers)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["error"]
    forged = httpx.post(url, content=body, headers=sign("another-secret-" * 3, body))
    assert forged.status_code == 401 and "wrong signature" in forged.json()["error"]
    tampered = httpx.post(url, content=body.replace(b'"7"', b'"8"'),
                          headers=sign(SECRET, body))
    assert tampered.status_code == 401
    unsigned = httpx.post(url, content=body)
    assert unsigned.status_code == 401 and "not signed" in unsigned.json()["error"]
    with pytest.raises(SignatureError):  # a refusal is not signed
        verify(SECRET, unsigned.headers, unsigned.content)

    empty = json.dumps({"data": {"attributes": {"ids": [], "values": {"fee": "1"}}},
                        "meta": {"caller": {"email": "ada@example.com"}}}).encode()
    nothing = httpx.post(url, content=empty, headers=sign(SECRET, empty))
    assert nothing.status_code == 400 and nothing.json() == {"error": "nothing to ship"}
