"""A server dies (SIGKILL) in the middle of a background run: the next server resumes it
from its last checkpoint, on every backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.background.background_app import (
    OPS,
    api_of,
    build_desk,
    counters,
    create_items,
    tokens_for,
)
from tests.background.processes import environment, kill, server
from tests.databases import BACKENDS, scratch_database

COUNT = 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_server_s_run_resumes_on_the_next_one(backend: str, tmp_path: Path) -> None:
    with scratch_database(backend, tmp_path) as url:
        asyncio.run(create_items(url, COUNT))
        # The same database on a server holds the state too: a batch and its checkpoint
        # commit together, so no batch runs twice. A SQLite state file is another database.
        state = f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite" else url
        tokens = tokens_for(build_desk(url, state))
        env = environment(url, state)
        log = tmp_path / "servers.log"
        with server(env, tokens[OPS], log) as (base, first), api_of(base, tokens) as api:
            queued = api.start(values={"batch": 10, "delay": 0.15})
            api.wait(queued["id"], lambda r: r["progress"]["done"] >= 30)
            kill(first)
        with server(env, tokens[OPS], log) as (base, _), api_of(base, tokens) as api:
            run = api.wait(queued["id"])
        assert run["status"] == "succeeded", run
        assert run["attempts"] == 2 and run["progress"]["done"] == COUNT
        assert run["result"] == {"success": f"{COUNT} processed"}
        seen = counters(url)
        assert min(seen) == 1, "every record processed"
        if backend == "sqlite":
            # Checkpoint after the commit: at most the one batch in flight ran twice.
            assert sum(seen) - COUNT <= 10
        else:
            assert seen == [1] * COUNT, "every record processed exactly once"
