"""Benchmark: background "select all" runs on a Procrastinate worker, vs the raw UPDATE; the
peak memory of the server and the worker per table size.

    .venv/bin/python bench/background_select_all.py [--sizes 100000 1000000] [--repeat 3]
                                                    [--batch-size 50000] [--database-url URL]

For each size, ``actiondesk_bench.bench_bg(id bigint primary key, status text, amount
numeric(12,2))`` is rebuilt with that many rows, and a fresh server (uvicorn, runner
``procrastinate``: it only enqueues) and a fresh worker (``ProcrastinateRunner.work``, one
run at a time) start. Both actions are ``background=True`` and are requested over HTTP with
``all_records: true`` and the subset filter ``amount > -1`` (every row); the request answers
202 and the client polls ``GET /api/runs/{id}`` every 20 ms until the run has finished.

- **set-based**: ``async for batch in ctx.batches(size=50000, rows=False)``, one ``UPDATE
  ... SET status = 'validated' WHERE <batch.where>`` per batch (a primary-key range), each
  committed with its checkpoint. Baseline: the single raw ``UPDATE bench_bg SET status =
  'validated' WHERE amount > -1`` sent with asyncpg. The two alternate; statuses are reset,
  the table vacuumed and a checkpoint taken before each (outside the timings). Target: the
  background run at most 1.5x the raw UPDATE (medians), from the POST to the run's end.
- **per-record**: ``async for batch in ctx.batches(size=5000)`` reads the records, computes
  each one's new status in Python and writes them back with one executemany per batch.
  Reported: records per second.

Memory: ``VmHWM`` (peak RSS) of the server and of the worker, reset after a warm-up run on a
few rows, read after the measured runs. Target: flat (the largest size within 1.1x of the
smallest). The state database ``actiondesk_bench_state`` (runs, Procrastinate's jobs) is
created anew on every run.

A report, not a test: exit code 0 whether or not a target is met, 2 when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from _common import (
    BENCH_DATABASE,
    SECRET_KEY,
    SetupError,
    Urls,
    add_database_url,
    add_serve_options,
    bearer,
    connect,
    median,
    memory_kib,
    mib,
    positive_int,
    print_table_head,
    provision,
    reset_peak,
    run_sizes,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
)

HERE = Path(__file__).resolve()
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = "bench_bg"
DEFAULT_SIZES = (100_000, 1_000_000)
TIME_TARGET = 1.5
MEMORY_TARGET = 1.10
PER_RECORD_BATCH = 5000
RUN_TIMEOUT_S = 1800.0
SET_SLUG, RECORD_SLUG = "validate-all", "score-each"
ACTIONS_PATH = f"/api/collections/{TABLE}/actions"

CREATE_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, status text, amount numeric(12, 2));
"""
FILL_SQL = f"""
INSERT INTO {TABLE} (id, status, amount)
SELECT g, 'new', ((g * 7919) % 100000) / 100.0 FROM generate_series(1, $1::bigint) AS g
"""
RAW_UPDATE_SQL = f"UPDATE {TABLE} SET status = 'validated' WHERE amount > -1"
RESET_SQL = f"UPDATE {TABLE} SET status = 'new' WHERE status <> 'new'"
SELECT_ALL = {
    "all_records": True,
    "all_records_subset_query": {
        "filters": {"field": "amount", "operator": "greater_than", "value": "-1"}},
}
SELECT_FEW = {
    "all_records": True,
    "all_records_subset_query": {
        "filters": {"field": "id", "operator": "less_than", "value": "50"}},
}


# ---------------------------------------------------------------------------------------------
# The server and the worker (this script again: --serve-port PORT, or --work)


def make_desk(data_url: str, state_url: str, batch_size: int) -> Any:
    import sqlalchemy as sa

    from actiondesk import ActionContext, Desk, Success

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE], runner="procrastinate", runner_concurrency=1)

    @desk.action(TABLE, name="Validate all", scope="bulk", background=True)
    async def validate_all(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        table = ctx.selection.collection.table
        batches = ctx.batches(size=batch_size, rows=False)
        async for batch in batches:
            await batch.conn.execute(
                sa.update(table).where(batch.where).values(status="validated"))
        return Success(str(batches.done))

    @desk.action(TABLE, name="Score each", scope="bulk", background=True)
    async def score_each(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        table = ctx.selection.collection.table
        statement = sa.update(table).where(table.c.id == sa.bindparam("key")).values(
            status=sa.bindparam("score"))
        batches = ctx.batches(size=PER_RECORD_BATCH)
        async for batch in batches:
            scored = [{"key": row["id"], "score": "high" if row["amount"] >= 500 else "low"}
                      for row in batch]
            await batch.conn.execute(statement, scored)
        return Success(str(batches.done))

    return desk


def serve(port: int, data_url: str, state_url: str, batch_size: int) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(make_desk(data_url, state_url, batch_size), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def work(data_url: str, state_url: str, batch_size: int) -> None:
    stop_when_orphaned()
    desk = make_desk(data_url, state_url, batch_size)

    async def main() -> None:
        await desk.start(runner=True)
        try:
            await desk.background.runner.work(1)
        finally:
            await desk.stop()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Setup


async def fill(data_dsn: str, rows: int) -> None:
    conn = await connect(data_dsn)
    try:
        print(f"filling {BENCH_DATABASE}.{TABLE} with {rows:,} rows ...", flush=True)
        async with conn.transaction():
            await conn.execute(CREATE_SQL)
            await conn.execute(FILL_SQL, rows)
        await conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    finally:
        await conn.close()


async def reset(conn: asyncpg.Connection) -> None:
    await conn.execute(RESET_SQL)
    await conn.execute(f"VACUUM {TABLE}")
    await conn.execute("CHECKPOINT")


@contextmanager
def worker_process(urls: Urls, batch_size: int, workdir: Path) -> Iterator[int]:
    command = [sys.executable, str(HERE), "--work", "--data-url", urls.data,
               "--state-url", urls.state, "--batch-size", str(batch_size)]
    process = subprocess.Popen(command, cwd=workdir)  # noqa: S603 - our own script
    try:
        yield process.pid
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ---------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Result:
    rows: int
    desk_s: list[float] = field(default_factory=list)
    raw_s: list[float] = field(default_factory=list)
    per_record_s: float = 0.0
    server_peak_kib: int = 0
    worker_peak_kib: int = 0
    peaks_reset: bool = False

    @property
    def ratio(self) -> float:
        return median(self.desk_s) / median(self.raw_s)


async def run_action(client: httpx.AsyncClient, slug: str, selection: dict[str, Any],
                     expected: int) -> float:
    """POST the action (202), poll the run until it ends; seconds from POST to the end."""
    body = {"data": {"type": "custom-action-requests", "attributes": selection}}
    started = time.perf_counter()
    answer = await client.post(f"{ACTIONS_PATH}/{slug}", json=body)
    if answer.status_code != 202:
        raise SetupError(f"{slug} answered {answer.status_code}: {answer.text[:500]}")
    run_id = answer.json()["run"]["id"]
    while True:
        run = (await client.get(f"/api/runs/{run_id}")).json()
        if run["status"] not in ("queued", "running"):
            break
        if time.perf_counter() - started > RUN_TIMEOUT_S:
            raise SetupError(f"run {run_id} did not end in {RUN_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    if run["status"] != "succeeded" or run["result"] != {"success": str(expected)}:
        raise SetupError(f"run {run_id} ended {run['status']}: {run['message']}")
    return elapsed


async def raw_update(conn: asyncpg.Connection, expected: int) -> float:
    started = time.perf_counter()
    status: str = await conn.execute(RAW_UPDATE_SQL)
    elapsed = time.perf_counter() - started
    if int(status.split()[-1]) != expected:
        raise SetupError(f"the raw UPDATE touched {status}, expected {expected:,}")
    return elapsed


async def measure(base_url: str, token: str, server_pid: int, worker_pid: int, data_dsn: str,
                  rows: int, repeat: int) -> Result:
    result = Result(rows)
    conn = await connect(data_dsn)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=60,
                                     headers=bearer(token)) as client:
            await run_action(client, SET_SLUG, SELECT_FEW, 49)
            await run_action(client, RECORD_SLUG, SELECT_FEW, 49)
            await reset(conn)
            await raw_update(conn, rows)
            result.peaks_reset = reset_peak(server_pid) and reset_peak(worker_pid)
            for number in range(repeat):
                for side in ("actiondesk", "raw") if number % 2 == 0 else ("raw", "actiondesk"):
                    await reset(conn)
                    print(f"  set-based {rows:,}: {side} run {number + 1}", flush=True)
                    if side == "raw":
                        result.raw_s.append(await raw_update(conn, rows))
                    else:
                        result.desk_s.append(
                            await run_action(client, SET_SLUG, SELECT_ALL, rows))
            await reset(conn)
            print(f"  per-record {rows:,}", flush=True)
            result.per_record_s = await run_action(client, RECORD_SLUG, SELECT_ALL, rows)
            high = await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE status = 'high'")
            if high != await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE amount >= 500"):
                raise SetupError("the per-record run did not score every record")
    finally:
        await conn.close()
    result.server_peak_kib = memory_kib(server_pid)["VmHWM"]
    result.worker_peak_kib = memory_kib(worker_pid)["VmHWM"]
    return result


async def ready(base_url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=bearer(token)) as client:
        await wait_until_ready(client, process, ACTIONS_PATH)


def run_all(args: argparse.Namespace, urls: Urls, workdir: Path) -> list[Result]:
    results = []
    token: str | None = None
    options = ["--data-url", urls.data, "--state-url", urls.state,
               "--batch-size", str(args.batch_size)]
    for rows in args.sizes:
        asyncio.run(fill(urls.data, rows))
        token = token or asyncio.run(provision(urls.data, urls.state, TABLE,
                                               [SET_SLUG, RECORD_SLUG]))
        with server_process(HERE, "--serve-port", options, workdir) as (base_url, server):
            asyncio.run(ready(base_url, token, server))
            with worker_process(urls, args.batch_size, workdir) as worker_pid:
                results.append(asyncio.run(measure(base_url, token, server.pid, worker_pid,
                                                   urls.data, rows, args.repeat)))
    return results


# ---------------------------------------------------------------------------------------------
# Report


def report(results: Sequence[Result], args: argparse.Namespace, version: str) -> None:
    print()
    print('actiondesk background "select all" on a Procrastinate worker vs raw SQL')
    print(f"PostgreSQL {version} | {args.repeat} timed runs per side, interleaved | set-based "
          f"batches of {args.batch_size:,} (rows=False) | per-record batches of "
          f"{PER_RECORD_BATCH:,} | {os.cpu_count()} CPUs | fresh server and worker per size")
    print()
    print_table_head(f"{'rows':>10} {'side':<22} {'median s':>9} {'min s':>8} {'max s':>8} "
                     f"{'records/s':>11}")
    for r in results:
        for side, samples in (("background set-based", r.desk_s), ("raw UPDATE", r.raw_s),
                              ("background per-record", [r.per_record_s])):
            middle = median(samples)
            print(f"{r.rows:>10,} {side:<22} {middle:>9.3f} {min(samples):>8.3f} "
                  f"{max(samples):>8.3f} {r.rows / middle:>11,.0f}")
    print()
    for r in results:
        verdict = "meets" if r.ratio <= TIME_TARGET else "MISSES"
        print(f"{r.rows:>10,}: set-based background run / raw UPDATE {r.ratio:.2f}x "
              f"({verdict} the <= {TIME_TARGET}x target); per-record "
              f"{r.rows / r.per_record_s:,.0f} records/s")
    print()
    print("peak RSS (VmHWM) in MiB during the measured runs"
          + ("" if all(r.peaks_reset for r in results) else " (peaks since start: not reset)"))
    for r in results:
        print(f"{r.rows:>10,}: server {mib(r.server_peak_kib):>7} | worker "
              f"{mib(r.worker_peak_kib):>7}")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        for name, a, b in (("server", small.server_peak_kib, large.server_peak_kib),
                           ("worker", small.worker_peak_kib, large.worker_peak_kib)):
            ratio = b / a
            verdict = "flat" if ratio <= MEMORY_TARGET else "NOT flat"
            print(f"{name}: {mib(a)} MiB at {small.rows:,} rows -> {mib(b)} MiB at "
                  f"{large.rows:,} rows: {ratio:.2f}x ({verdict}; target <= {MEMORY_TARGET}x)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time background 'select all' runs on a Procrastinate worker against the "
        "raw UPDATE, and measure server and worker peak memory per size (targets: <= 1.5x, "
        "flat)."
    )
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=list(DEFAULT_SIZES),
                        help="table sizes, smallest first (default 100000 1000000)")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="timed set-based runs per side (default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=50_000,
                        help="records per set-based batch (default 50000)")
    add_database_url(parser, DEFAULT_DATABASE_URL,
                     f"the data go in {BENCH_DATABASE}, runs and jobs in the state database")
    add_serve_options(parser)
    parser.add_argument("--work", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args.data_url, args.state_url, args.batch_size)
        return 0
    if args.work:
        work(args.data_url, args.state_url, args.batch_size)
        return 0
    return run_sizes(args, run_all, report)


if __name__ == "__main__":
    sys.exit(main())
