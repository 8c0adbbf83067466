"""Partitioned runs on the in-process runner, through a real server, on every backend: one
run split into key ranges with progress over all of them, a combined result, a failed
partition named, cancel reaching every partition, max_parallel, and the selection kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.data.state_schema import run_partitions_table
from actiondesk.data.urls import to_async_url
from tests.background.background_app import (
    ITEMS,
    PARTS,
    Api,
    api_of,
    build_desk,
    counters,
    create_items,
    lease,
    tokens_for,
)
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server

_p = run_partitions_table.c


# "sqlite-one-file": the data and the state in one SQLite file, whose one write lock the
# partitions' batches, their checkpoints and every other run share.
@pytest.fixture(scope="module", params=[*BACKENDS, "sqlite-one-file"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, str, str]]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp("parts-" + backend)
    with scratch_database(backend.removesuffix("-one-file"), tmp) as url:
        asyncio.run(create_items(url))
        state = f"sqlite:///{tmp / 'state.db'}" if backend == "sqlite" else url
        desk = build_desk(url, state, run_lease=lease(3), runner_concurrency=4)
        tokens = tokens_for(desk)
        with live_server(desk) as base, api_of(base, tokens) as api:
            yield api, url, state


@pytest.fixture
def api(server: tuple[Api, str, str]) -> Api:
    asyncio.run(create_items(server[1]))
    return server[0]


@pytest.fixture
def url(server: tuple[Api, str, str]) -> str:
    return server[1]


@pytest.fixture
def state(server: tuple[Api, str, str]) -> str:
    return server[2]


def partitions(state_url: str, run_id: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = create_async_engine(to_async_url(state_url))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.select(run_partitions_table)
                                          .where(_p.run_id == run_id).order_by(_p.number))
                return [dict(r._mapping) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_run_is_split_in_key_ranges_and_its_result_combined(
        api: Api, url: str, state: str) -> None:
    queued = api.start("split", values={"batch": 7})
    assert queued["status"] == "queued" and queued["background"]
    run = api.wait(queued["id"])
    assert run["status"] == "succeeded", run
    assert run["result"] == {"success": f"{ITEMS} processed in {PARTS} partitions, from 1"}
    progress = run["progress"]
    assert progress["done"] == progress["total"] == ITEMS and progress["percent"] == 100.0
    assert counters(url) == [1] * ITEMS, "every record processed exactly once"
    parts = partitions(state, run["id"])
    size = ITEMS // PARTS
    assert [(p["number"], p["status"], p["record_count"], p["done_count"]) for p in parts] == [
        (n, "succeeded", size, size) for n in range(1, PARTS + 1)]
    # Contiguous key ranges covering the whole selection, open at both ends.
    assert [(p["lower_key"], p["upper_key"]) for p in parts] == [
        (None, str(size)), (str(size), str(2 * size)), (str(2 * size), str(3 * size)),
        (str(3 * size), None)]
    assert [p["result"]["value"]["first"] for p in parts] == [1, 31, 61, 91]
    shown = run["partitions"]
    assert [(p["number"], p["status"], p["total"], p["done"], p["attempts"]) for p in shown] \
        == [(n, "succeeded", size, size, 1) for n in range(1, PARTS + 1)]
    assert all(p["finished_at"] >= p["started_at"] for p in shown)
    listed = api().get("/runs", params={"action": "split"}).json()["runs"]
    assert listed[0]["id"] == run["id"] and listed[0]["partitions"] is None


def test_partitions_keep_to_the_selection(api: Api, url: str) -> None:
    subset = {"filters": {"field": "id", "operator": "greater_than", "value": 20}}
    run = api.wait(api.start("split", values={"batch": 4}, all_records=True,
                             all_records_subset_query=subset,
                             all_records_ids_excluded=["50", "51"])["id"])
    assert run["status"] == "succeeded", run
    expected = [0 if i <= 20 or i in (50, 51) else 1 for i in range(1, ITEMS + 1)]
    assert counters(url) == expected
    assert run["progress"]["done"] == sum(expected) == run["record_count"]
    assert run["result"] == {"success": f"{sum(expected)} processed in {PARTS} partitions, "
                                        "from 21"}


def test_a_failed_partition_fails_the_run_and_is_named(api: Api, url: str) -> None:
    run = api.wait(api.start("split", values={"batch": 10, "fail": 95})["id"])
    assert run["status"] == "failed", run
    assert run["message"].startswith(
        f"partition 4 of {PARTS} failed: RuntimeError: boom at 95 ("), run["message"]
    assert [p["status"] for p in run["partitions"]] == ["succeeded"] * 3 + ["failed"]
    assert run["partitions"][3]["message"] == "RuntimeError: boom at 95"
    # The others ran to their end; the failed partition's batch was rolled back, and the
    # batch holding 95 is its first (91-100).
    assert counters(url)[:90] == [1] * 90 and counters(url)[90:] == [0] * 30
    assert run["progress"]["done"] == 90


def test_cancel_reaches_every_partition(api: Api, url: str, state: str) -> None:
    queued = api.start("split", values={"batch": 3, "delay": 0.2})
    api.wait(queued["id"], lambda r: r["progress"]["done"] >= 6)
    assert api().post(f"/runs/{queued['id']}/cancel").status_code == 200
    run = api.wait(queued["id"])
    assert run["status"] == "cancelled", run
    done = run["progress"]["done"]
    assert 6 <= done < ITEMS and run["message"] == f"cancelled after {done:,} of {ITEMS:,} records"
    parts = partitions(state, run["id"])
    assert {p["status"] for p in parts} == {"cancelled"}
    assert sum(counters(url)) == done == sum(p["done_count"] for p in parts)


def test_max_parallel_runs_at_most_that_many_partitions_at_once(
        api: Api, url: str, state: str) -> None:
    queued = api.start("split-slowly", values={"batch": 10, "delay": 0.1})
    seen: set[int] = set()

    def watch(run: dict[str, Any]) -> bool:
        running = sum(p["status"] == "running" for p in partitions(state, run["id"]))
        seen.add(running)
        return run["status"] not in ("queued", "running")

    run = api.wait(queued["id"], watch)
    assert run["status"] == "succeeded", run
    assert run["result"] == {"success": f"{ITEMS:,} records processed in {PARTS} partitions"}
    assert max(seen) <= 2
    assert counters(url) == [1] * ITEMS


def test_a_partitioned_run_leaves_a_slot_to_small_runs(api: Api, url: str) -> None:
    """With 4 runs at once per process, partitions take at most 3: a small run queued while
    the big one goes on is executed before the big one ends."""
    big = api.start("split", values={"batch": 2, "delay": 0.3})
    api.wait(big["id"], lambda r: r["progress"]["done"] >= 4)
    small = api.wait(api.start("process", ids=["1", "2", "3"], values={"batch": 3})["id"])
    assert small["status"] == "succeeded"
    assert api.run(big["id"])["status"] == "running"
    assert api().post(f"/runs/{big['id']}/cancel").status_code == 200
    assert api.wait(big["id"])["status"] == "cancelled"
