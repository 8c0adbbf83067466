"""Procrastinate workers (``actiondesk worker``) on PostgreSQL: jobs enqueued with the run,
each run executed once by two workers, cancel, and a SIGKILLed worker's run resumed by
another one with every record processed exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.background.background_app import (
    ITEMS,
    OPS,
    api_of,
    build_desk,
    counters,
    create_items,
    lease,
    tokens_for,
)
from tests.background.processes import (
    CLI,
    ROOT,
    TARGET,
    environment,
    kill,
    process,
    server,
)
from tests.databases import scratch_database
from tests.live_server import live_server


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[str]:
    with scratch_database("postgresql", tmp_path) as url:
        yield url


def _server(url: str) -> tuple[object, dict[str, str]]:
    desk = build_desk(url, url, runner="procrastinate", run_lease=lease(2))
    return desk, tokens_for(desk)


def _worker(url: str, log: Path, concurrency: int = 2):  # type: ignore[no-untyped-def]
    env = environment(url, url, ACTIONDESK_RUNNER="procrastinate")
    return process(["worker", TARGET, "--concurrency", str(concurrency)], env, log)


def _jobs(url: str, run_ids: list[str]) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        from sqlalchemy.ext.asyncio import create_async_engine

        from actiondesk.data.urls import to_async_url

        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text(
                    "SELECT args->>'run_id', status::text FROM procrastinate_jobs "
                    "WHERE task_name = 'actiondesk.run'"))
                return [(r[0], r[1]) for r in rows if r[0] in run_ids]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_two_workers_execute_each_run_once_and_cancel_works(pg: str, tmp_path: Path) -> None:
    asyncio.run(create_items(pg, ITEMS))
    desk, tokens = _server(pg)
    with live_server(desk) as base, api_of(base, tokens) as api:
        runs = [api.start(ids=[str(i) for i in range(start, start + 10)],
                          values={"batch": 3, "delay": 0.02})["id"]
                for start in range(1, ITEMS, 10)]
        # No worker yet: each run is queued with exactly one job, written with it.
        assert sorted(_jobs(pg, runs)) == sorted((r, "todo") for r in runs)
        assert all(api.run(r)["status"] == "queued" for r in runs)
        log = tmp_path / "workers.log"
        with _worker(pg, log), _worker(pg, log):
            finished = [api.wait(r) for r in runs]
            long = api.start(values={"batch": 5, "delay": 0.3})
            api.wait(long["id"], lambda r: r["progress"]["done"] >= 5)
            assert api().post(f"/runs/{long['id']}/cancel").status_code == 200
            cancelled = api.wait(long["id"])
    assert all(r["status"] == "succeeded" and r["attempts"] == 1 for r in finished), finished
    assert cancelled["status"] == "cancelled"
    done = cancelled["progress"]["done"]
    assert 5 <= done < ITEMS and done % 5 == 0
    # Every record: once by its own run, plus once more for those the cancelled run reached.
    assert sum(counters(pg)) == ITEMS + done


def test_a_killed_worker_s_run_resumes_on_another_worker(pg: str, tmp_path: Path) -> None:
    count = 300
    asyncio.run(create_items(pg, count))
    desk, tokens = _server(pg)
    log = tmp_path / "workers.log"
    with live_server(desk) as base, api_of(base, tokens) as api:
        with _worker(pg, log) as first:
            queued = api.start(values={"batch": 10, "delay": 0.15, "ranges": True})
            api.wait(queued["id"], lambda r: r["progress"]["done"] >= 40)
            kill(first)
        stopped_at = api.run(queued["id"])["progress"]["done"]
        assert stopped_at < count
        with _worker(pg, log):
            run = api.wait(queued["id"], timeout=120)
    assert run["status"] == "succeeded", (run, log.read_text()[-3000:])
    assert run["attempts"] == 2 and run["progress"]["done"] == count
    assert counters(pg) == [1] * count, "every record processed exactly once"


def test_partitions_run_on_several_workers_and_a_killed_worker_s_resume(
        pg: str, tmp_path: Path) -> None:
    """One partitioned run on two workers; one is SIGKILLed mid-run: its partitions are
    resumed from their checkpoints by the other, every record processed exactly once."""
    from tests.background.test_partitions import partitions

    count = 400
    asyncio.run(create_items(pg, count))
    desk, tokens = _server(pg)
    log = tmp_path / "workers.log"
    with (live_server(desk) as base, api_of(base, tokens) as api,
          _worker(pg, log) as first, _worker(pg, log)):
        queued = api.start("split", values={"batch": 5, "delay": 0.1})
        api.wait(queued["id"], lambda r: r["progress"]["done"] >= 60)
        running = [p for p in partitions(pg, queued["id"]) if p["status"] == "running"]
        kill(first)
        run = api.wait(queued["id"], timeout=180)
    assert run["status"] == "succeeded", (run, log.read_text()[-3000:])
    # (A resumed partition's handler starts after its checkpoint: its "first" is later.)
    assert run["result"]["success"].startswith(f"{count} processed in 4 partitions, from ")
    assert run["progress"]["done"] == count
    assert counters(pg) == [1] * count, "every record processed exactly once"
    parts = partitions(pg, queued["id"])
    assert len(running) >= 2 and {p["status"] for p in parts} == {"succeeded"}
    assert any(p["attempts"] == 2 for p in parts), parts
    assert {p["done_count"] for p in parts} == {count // 4}


def test_a_partitioned_run_survives_a_server_restart_and_a_killed_worker(
        pg: str, tmp_path: Path) -> None:
    """The server that enqueued a partitioned run is SIGKILLed and started again while one
    of the two workers is SIGKILLed too: the run succeeds, every record processed exactly
    once, its progress read from the restarted server, which also cancels a next run."""
    from tests.background.test_partitions import partitions

    count = 200
    asyncio.run(create_items(pg, count))
    tokens = tokens_for(build_desk(pg, pg, runner="procrastinate"))
    env = environment(pg, pg, ACTIONDESK_RUNNER="procrastinate", ACTIONDESK_RUN_LEASE="1")
    log = tmp_path / "processes.log"

    def held(run_id: str, pid: int) -> list[int]:
        return [p["number"] for p in partitions(pg, run_id)
                if p["status"] == "running" and f":{pid}:" in p["lease_owner"]]

    with (process(["worker", TARGET, "--concurrency", "2"], env, log) as first,
          process(["worker", TARGET, "--concurrency", "2"], env, log)):
        with server(env, tokens[OPS], log) as (base, enqueuer), api_of(base, tokens) as api:
            queued = api.start("split", values={"batch": 5, "delay": 0.1})
            api.wait(queued["id"], lambda r: r["progress"]["done"] >= 20
                     and held(r["id"], first.pid))
            kill(first)
            # Read after the kill: its rows keep its checkpoints until their lease expires.
            resumed = held(queued["id"], first.pid)
            kill(enqueuer)
        with server(env, tokens[OPS], log) as (base, _), api_of(base, tokens) as api:
            progress = api.run(queued["id"])["progress"]
            run = api.wait(queued["id"], timeout=120)
            assert run["status"] == "succeeded", (run, log.read_text()[-3000:])
            after = api.start("split", values={"batch": 5, "delay": 0.1})
            api.wait(after["id"], lambda r: r["progress"]["done"] >= 10)
            assert api().post(f"/runs/{after['id']}/cancel").status_code == 200
            cancelled = api.wait(after["id"])
    assert progress["total"] == count and progress["done"] >= 20
    assert run["progress"]["done"] == count
    assert run["result"]["success"].startswith(f"{count} processed in 4 partitions, from ")
    parts = {p["number"]: p for p in partitions(pg, queued["id"])}
    assert resumed and all(parts[n]["attempts"] == 2 for n in resumed), parts
    assert {p["done_count"] for p in parts.values()} == {count // 4}
    assert cancelled["status"] == "cancelled", cancelled
    done = cancelled["progress"]["done"]
    seen = counters(pg)
    assert 10 <= done < count and set(seen) <= {1, 2}, "every record processed exactly once"
    assert seen.count(2) == done, "the cancelled run's records, each once"


def test_the_worker_refuses_a_desk_without_postgresql(tmp_path: Path) -> None:
    from actiondesk import ConfigurationError

    with pytest.raises(ConfigurationError, match="PostgreSQL state database"):
        build_desk(f"sqlite:///{tmp_path / 'd.db'}", f"sqlite:///{tmp_path / 's.db'}",
                   runner="procrastinate")


def _check(url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "check", TARGET], cwd=ROOT, env=environment(url, url, **extra),
                          capture_output=True, text=True, timeout=120)


def _wait_for(log: Path, words: str) -> str:
    deadline = time.monotonic() + 60
    while words not in (text := log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"never logged {words!r}: {text}"
        time.sleep(0.1)
    return text


def test_a_worker_and_check_on_the_wrong_runner_say_so(pg: str, tmp_path: Path) -> None:
    """The server queues for Procrastinate; a worker started without ACTIONDESK_RUNNER
    (in-process) would do nothing, silently: it warns, and ``check`` reports it."""
    asyncio.run(create_items(pg, 10))
    desk, tokens = _server(pg)
    wrong_log, right_log = tmp_path / "wrong.log", tmp_path / "right.log"
    with live_server(desk) as base, api_of(base, tokens) as api:
        with process(["worker", TARGET], environment(pg, pg), wrong_log):
            _wait_for(wrong_log, "runner inprocess")
            queued = api.start(values={"batch": 5})
            # Found by the periodic look while the worker runs, not only at its start.
            text = _wait_for(wrong_log, "WARNING")
            assert "1 background run waits for the 'procrastinate' runner" in text, text
            assert "this process uses runner 'inprocess' and never runs them" in text
            assert "ACTIONDESK_RUNNER=procrastinate" in text
            assert api.run(queued["id"])["status"] == "queued"
        api.wait(queued["id"], lambda r: (time.time() - _seconds(r["started_at"])) > 2.5)
        wrong = _check(pg)
        assert wrong.returncode == 1, wrong.stdout + wrong.stderr
        assert "1 background run waits for the 'procrastinate' runner" in wrong.stderr
        assert "uses runner 'inprocess'" in wrong.stderr
        unserved = _check(pg, ACTIONDESK_RUNNER="procrastinate")
        assert unserved.returncode == 1, unserved.stdout + unserved.stderr
        assert "no Procrastinate worker is running" in unserved.stderr
        with _worker(pg, right_log):
            run = api.wait(queued["id"])
            assert run["status"] == "succeeded", right_log.read_text()
            fine = _check(pg, ACTIONDESK_RUNNER="procrastinate")
    assert fine.returncode == 0, fine.stderr
    assert "WARNING" not in right_log.read_text()


def _seconds(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()
