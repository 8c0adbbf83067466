"""An approved request whose inline execution was cut short by a crash (SIGKILL) is not left
``executing``: the next server fails it as interrupted, and never runs it again."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.approvals.model import INTERRUPTED, NOT_STARTED
from actiondesk.data.state_schema.approvals import approvals_table
from actiondesk.data.urls import to_async_url
from actiondesk.runs.store import ABANDONED_MESSAGE
from tests.background.background_app import (
    ADMIN,
    BOSS,
    CLERK,
    api_of,
    build_desk,
    counters,
    create_items,
    tokens_for,
)
from tests.background.processes import environment, kill, server
from tests.databases import BACKENDS, scratch_database
from tests.support import jsonapi


def wait_for(what: Callable[[], Any], message: str, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := what()):
        assert time.monotonic() < deadline, message
        time.sleep(0.2)
    return found


def request_hang(client: httpx.Client) -> str:
    answer = client.post("/collections/items/actions/hang",
                         json=jsonapi(["1"], {"delay": 3600}))
    assert answer.status_code == 202, answer.text
    approval_id: str = answer.json()["approval"]["id"]
    return approval_id


def settled(client: httpx.Client, approval_id: str) -> dict[str, Any] | None:
    answer = client.get(f"/approvals/{approval_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return None if body["status"] == "executing" else body


@dataclass(frozen=True)
class Setup:
    url: str
    state: str
    env: dict[str, str]
    tokens: dict[str, str]
    log: Path


@contextmanager
def prepared(backend: str, tmp_path: Path) -> Iterator[Setup]:
    """Five items on ``backend``, the state in the same database (a file for SQLite), the
    users' tokens; servers are started by the test."""
    with scratch_database(backend, tmp_path) as url:
        asyncio.run(create_items(url, 5))
        state = f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite" else url
        yield Setup(url, state, environment(url, state), tokens_for(build_desk(url, state)),
                    tmp_path / "servers.log")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_request_killed_mid_handler_fails_as_interrupted_and_never_reruns(
    backend: str, tmp_path: Path
) -> None:
    with prepared(backend, tmp_path) as setup:
        url, env, tokens, log = setup.url, setup.env, setup.tokens, setup.log
        with server(env, tokens[BOSS], log) as (base, first), api_of(base, tokens) as api:
            approval_id = request_hang(api(CLERK))

            def approve() -> None:
                # The answer never comes: the server dies while the handler runs.
                with pytest.raises(httpx.TransportError):
                    api(BOSS).post(f"/approvals/{approval_id}/approve", json={})

            approving = threading.Thread(target=approve)
            approving.start()
            wait_for(lambda: counters(url)[0] == 1, "the handler did not start")
            running = api(BOSS).get(f"/approvals/{approval_id}").json()
            # The run is attached before the handler starts.
            assert running["status"] == "executing" and running["run_id"], running
            kill(first)
            approving.join()
        with server(env, tokens[BOSS], log) as (base, _), api_of(base, tokens) as api:
            done = wait_for(lambda: settled(api(BOSS), approval_id),
                            "the interrupted request stayed executing")
            run = api(ADMIN).get(f"/runs/{running['run_id']}").json()
        assert done["status"] == "failed" and done["reason"] == INTERRUPTED, done
        assert done["run_id"] == running["run_id"]
        assert [e["kind"] for e in done["timeline"]] == ["requested", "approved", "failed"]
        # The runs audit's own sweep marks the run (its outcome is unknown); the request
        # says how it was interrupted.
        assert run["status"] == "failed" and run["message"] == ABANDONED_MESSAGE, run
        assert counters(url) == [1, 0, 0, 0, 0], "the handler ran once, never again"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_request_claimed_by_a_dead_process_before_its_run_fails_as_not_started(
    backend: str, tmp_path: Path
) -> None:
    with prepared(backend, tmp_path) as setup:
        url, env, tokens, log = setup.url, setup.env, setup.tokens, setup.log
        with server(env, tokens[BOSS], log) as (base, first), api_of(base, tokens) as api:
            approval_id = request_hang(api(CLERK))
            kill(first)
        # What a process leaves when it dies between the claim and the run's start.
        asyncio.run(claimed_long_ago(setup.state, approval_id))
        with server(env, tokens[BOSS], log) as (base, _), api_of(base, tokens) as api:
            done = wait_for(lambda: settled(api(BOSS), approval_id),
                            "the claimed request stayed executing")
        assert done["status"] == "failed" and done["reason"] == NOT_STARTED, done
        assert done["run_id"] is None
        assert counters(url) == [0] * 5, "nothing ran"


async def claimed_long_ago(state_url: str, approval_id: str) -> None:
    engine = create_async_engine(to_async_url(state_url))
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    try:
        async with engine.begin() as conn:
            claimed = await conn.execute(
                sa.update(approvals_table).where(approvals_table.c.id == approval_id)
                .values(status="executing", decided_at=an_hour_ago))
            assert claimed.rowcount == 1
    finally:
        await engine.dispose()
