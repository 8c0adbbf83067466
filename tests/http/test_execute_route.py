"""The execute route, served as a plain Starlette endpoint (issue 15): the same answers as the
other API routes for the refusals FastAPI used to make, a client that goes away mid-body is
no server error, and the route is still documented in the OpenAPI schema."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actiondesk import ActionContext, Desk, Success
from actiondesk.permissions.service import Policy
from tests.auth_support import bearer, provision, token_for
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata
from tests.support import jsonapi

SECRET = "execute-route-tests-secret-0123456789"
PATH = "/api/collections/companies/actions/touch"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Desk]]:
    tmp: Path = tmp_path_factory.mktemp("execute-route")
    data_url = f"sqlite:///{tmp / 'data.db'}"
    asyncio.run(create_and_seed(data_url))
    desk = Desk(database_url=data_url, state_url=f"sqlite:///{tmp / 'state.db'}",
                secret_key=SECRET, models=[metadata])

    @desk.action("companies", name="Touch")
    async def touch(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        record = await ctx.selection.record()
        return Success(f"touched {record['id']}")

    token = token_for(desk)
    provision(desk, policies=[Policy("admin", "companies", "touch")])
    with live_server(desk) as base:
        yield base, token, desk


def test_an_action_runs_and_names_its_run(served: tuple[str, str, Desk]) -> None:
    base, token, _ = served
    answer = httpx.post(base + PATH, json=jsonapi(["1"]), headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": "touched 1"}
    assert len(answer.headers["X-Actiondesk-Run-Id"]) == 32
    assert answer.headers["Cache-Control"] == "no-store"  # the security headers apply


def test_refusals_keep_their_json_answers(served: tuple[str, str, Desk]) -> None:
    base, token, _ = served
    anonymous = httpx.post(base + PATH, json=jsonapi(["1"]))
    assert anonymous.status_code == 401
    assert "sign in" in anonymous.json()["error"]
    too_long = httpx.post(base + PATH, json=jsonapi(["1"]),
                          headers={**bearer(token), "Idempotency-Key": "k" * 201})
    assert too_long.status_code == 400
    assert too_long.json()["fields"] == {
        "Idempotency-Key": "String should have at most 200 characters"}
    unknown = httpx.post(base + "/api/actions/no-such-action", json=jsonapi([]),
                         headers=bearer(token))
    assert unknown.status_code == 404 and "error" in unknown.json()
    wrong_method = httpx.get(base + PATH, headers=bearer(token))
    assert wrong_method.status_code == 405


def test_the_route_is_still_documented(served: tuple[str, str, Desk]) -> None:
    base, _, _ = served
    paths = httpx.get(base + "/api/openapi.json").json()["paths"]
    operation = paths["/api/collections/{collection}/actions/{slug}"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    assert "post" in paths["/api/actions/{slug}"]


def test_a_client_that_disconnects_mid_body_is_no_server_error(
    served: tuple[str, str, Desk], caplog: pytest.LogCaptureFixture
) -> None:
    base, token, _ = served
    host, port = base.removeprefix("http://").split(":")
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 5000\r\n\r\n")
    with caplog.at_level(logging.INFO, logger="actiondesk"):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head.encode() + b'{"data": {')
            time.sleep(0.3)  # the server is reading the body when the client goes
        deadline = time.monotonic() + 10
        while not any("disconnected" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the disconnect was never noticed"
            time.sleep(0.05)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The server goes on serving.
    answer = httpx.post(base + PATH, json=jsonapi(["2"]), headers=bearer(token))
    assert answer.status_code == 200, answer.text
