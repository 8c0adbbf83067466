"""Slow handlers and slow clients do not hold up anyone else: while an async handler waits, a
sync handler blocks its worker thread, a client trickles its body, another never reads its
answer and a third leaves its headers half-sent, other requests are answered. The latencies
of those other requests go to test-artifacts/faults-summary.json (no timing is asserted:
only that they were answered while the slow ones were still running)."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from actiondesk import ActionContext, Desk, File, Success
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.faults.summary import record_figure
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata
from tests.support import execute, jsonapi

ADMIN = "admin@slow.test"
RELEASE = threading.Event()
INSIDE: dict[str, threading.Event] = {"async": threading.Event(), "sync": threading.Event()}


def build_desk(data_url: str, state_url: str) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key="slow",
                models=[metadata])

    @desk.action("companies", name="Slow async")
    async def slow_async(ctx: ActionContext) -> Success:
        INSIDE["async"].set()
        while not RELEASE.is_set():  # noqa: ASYNC110 - set by the test's thread
            await anyio.sleep(0.05)
        return Success("slow async done")

    @desk.action("companies", name="Slow sync")
    def slow_sync(ctx: ActionContext) -> Success:
        INSIDE["sync"].set()
        RELEASE.wait(60)
        return Success("slow sync done")

    @desk.action("companies", name="Big file", download=True)
    async def big_file(ctx: ActionContext) -> File:
        async def chunks() -> Any:
            for _ in range(512):
                yield b"x" * 65536
        return File(filename="big.bin", stream=chunks())

    return desk


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp: Path = tmp_path_factory.mktemp("slow")
    data_url = f"sqlite:///{tmp / 'data.db'}"
    asyncio.run(create_and_seed(data_url))
    desk = build_desk(data_url, f"sqlite:///{tmp / 'state.db'}")
    made = provision(desk, roles=[RoleSpec("admin", is_admin=True, read_all=True)],
                     policies=[Policy("admin", "companies", s)
                               for s in ("slow-async", "slow-sync", "big-file")],
                     users={ADMIN: ("admin", None)})
    with live_server(desk) as base:
        yield base, access_token(desk, made[ADMIN])


def _others(client: httpx.Client, count: int = 20) -> list[float]:
    """``count`` ordinary requests, one after another; their latencies in ms."""
    latencies = []
    for n in range(count):
        started = time.monotonic()
        path = "/me" if n % 2 else "/collections/companies/records"
        response = client.get(path)
        latencies.append((time.monotonic() - started) * 1000)
        assert response.status_code == 200, response.text
    return latencies


def _figure(latencies: list[float]) -> dict[str, float]:
    return {"requests": len(latencies), "median_ms": round(statistics.median(latencies), 1),
            "max_ms": round(max(latencies), 1)}


def test_slow_handlers_do_not_hold_up_other_requests(server: tuple[str, str]) -> None:
    base, token = server
    RELEASE.clear()
    answers: dict[str, httpx.Response] = {}

    def run(slug: str) -> None:
        with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=90) as c:
            answers[slug] = execute(c, slug, jsonapi(["1"]))

    workers = [threading.Thread(target=run, args=(slug,)) for slug in ("slow-async",
                                                                       "slow-sync")]
    for worker in workers:
        worker.start()
    try:
        assert INSIDE["async"].wait(30) and INSIDE["sync"].wait(30)
        with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=30) as c:
            latencies = _others(c)
        # Answered while both slow handlers were still inside.
        assert not answers
    finally:
        RELEASE.set()
        for worker in workers:
            worker.join(60)
    assert answers["slow-async"].json() == {"success": "slow async done"}
    assert answers["slow-sync"].json() == {"success": "slow sync done"}
    record_figure("requests while two handlers are slow", _figure(latencies))


def _raw(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def test_slow_clients_do_not_hold_up_other_requests(server: tuple[str, str]) -> None:
    base, token = server
    host = base.removeprefix("http://")
    held: list[socket.socket] = []
    try:
        # A body announced at 10 kB that trickles in a byte at a time, then stops.
        trickle = _raw(base)
        trickle.sendall(
            f"POST /api/collections/companies/actions/slow-async HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 10000\r\n\r\n{".encode())
        held.append(trickle)
        # A large download whose client never reads.
        reader = _raw(base)
        body = b'{"data": {"attributes": {"ids": ["1"]}}}'
        reader.sendall(
            f"POST /api/collections/companies/actions/big-file HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        held.append(reader)
        # Headers that never end (slowloris), twenty times.
        for _ in range(20):
            partial = _raw(base)
            partial.sendall(f"GET /api/me HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
            held.append(partial)
        for _ in range(3):
            trickle.sendall(b" ")
        with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=30) as c:
            latencies = _others(c)
    finally:
        for sock in held:
            sock.close()
    record_figure("requests while 22 clients are slow", _figure(latencies))
