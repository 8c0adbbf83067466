"""Benchmark: a set-based bulk action on "select all" vs the raw UPDATE, and server memory.

    .venv/bin/python bench/action_bulk.py [--sizes 100000 1000000] [--repeat 3]
                                          [--batch-size 5000] [--database-url URL]

For each size, the table ``bench_bulk(id bigint primary key, status text, amount
numeric(12,2))`` of the database ``actiondesk_bench`` is rebuilt with that many rows, and two
workloads run, each against a fresh uvicorn process serving a ``Desk`` (so its peak memory
belongs to that size and workload alone):

- **update**: the bulk action ``Validate all`` runs ONE ``UPDATE bench_bulk SET status =
  'validated' WHERE <ctx.selection.where>``, requested over HTTP with ``all_records: true``,
  the subset filter ``amount > -1`` (every row) and a few ``all_records_ids_excluded``;
  baseline: the same ``UPDATE ... WHERE amount > -1 AND id NOT IN (...)`` sent with asyncpg.
  Statuses are reset, the table vacuumed and a checkpoint taken before every timed run
  (outside the timings), so each run starts from the same state. Target: the action at most
  1.5x the raw UPDATE (medians).
- **batches**: the bulk action ``Count in batches`` reads the same selection with
  ``async for batch in ctx.selection.batches(size=5000)`` and only counts; baseline (for
  context): the same keyset-paginated SELECTs sent with asyncpg. Reports records/s.

Peak memory is the server's peak RSS (``VmHWM`` in ``/proc/<pid>/status``) over the timed
runs: the peak is reset after warm-up (``/proc/<pid>/clear_refs``) so start-up (imports,
migrations) does not hide what the runs use. Target: flat from the smallest to the largest
size. The data database is created if absent; actiondesk's state (runs audit, users) goes to
the database ``actiondesk_bench_state``, dropped and created anew on every run.

A report, not a test: the exit code is 0 whether or not a target is met, non-zero only when
the setup fails.

Requests carry the bearer token of a user of a role ``bench`` with ``trigger`` policies on
both actions, provisioned before the first server starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
    STATE_DATABASE,
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
TABLE = "bench_bulk"
DEFAULT_SIZES = (100_000, 1_000_000)
EXCLUDED_IDS = (1, 2, 3, 500, 99_999)
TIME_TARGET = 1.5
MEMORY_TARGET = 1.10  # "flat": the largest size's peak within 10% of the smallest's
REQUEST_TIMEOUT_S = 900.0

VALIDATE_SLUG = "validate-all"
COUNT_SLUG = "count-in-batches"
ACTIONS_PATH = f"/api/collections/{TABLE}/actions"

CREATE_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, status text, amount numeric(12, 2));
"""
FILL_SQL = f"""
INSERT INTO {TABLE} (id, status, amount)
SELECT g, 'new', ((g * 7919) % 100000) / 100.0 FROM generate_series(1, $1::bigint) AS g
"""
EXCLUDED_SQL = ", ".join(str(i) for i in EXCLUDED_IDS)
RAW_UPDATE_SQL = (
    f"UPDATE {TABLE} SET status = 'validated' WHERE amount > -1 AND id NOT IN ({EXCLUDED_SQL})"
)
RAW_COUNT_SQL = (
    f"SELECT count(*) FROM {TABLE} WHERE amount > -1 AND id NOT IN ({EXCLUDED_SQL})"
)
RESET_SQL = f"UPDATE {TABLE} SET status = 'new' WHERE status <> 'new'"
RAW_BATCH_SQL = (
    f"SELECT id, status, amount FROM {TABLE} WHERE amount > -1 AND id NOT IN ({EXCLUDED_SQL}) "
    "AND id > $1 ORDER BY id LIMIT $2"
)
SELECT_ALL = {
    "all_records": True,
    "all_records_subset_query": {
        "filters": {"field": "amount", "operator": "greater_than", "value": "-1"},
    },
    "all_records_ids_excluded": [str(i) for i in EXCLUDED_IDS],
}
# A warm-up selection: a few rows, the same code paths.
SELECT_FEW = {
    "all_records": True,
    "all_records_subset_query": {
        "filters": {"field": "id", "operator": "less_than", "value": "50"},
    },
    "all_records_ids_excluded": [str(i) for i in EXCLUDED_IDS],
}


# ---------------------------------------------------------------------------------------------
# The server (runs in the subprocess: ``action_bulk.py --serve-port PORT ...``)


def serve(port: int, data_url: str, state_url: str, batch_size: int) -> None:
    import sqlalchemy as sa
    import uvicorn

    stop_when_orphaned()
    from actiondesk import ActionContext, Desk, Success

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE])

    @desk.action(TABLE, name="Validate all", scope="bulk")
    async def validate_all(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        table = ctx.selection.collection.table
        async with ctx.async_db.begin() as conn:
            result = await conn.execute(
                sa.update(table).where(ctx.selection.where).values(status="validated")
            )
        return Success(str(result.rowcount))

    @desk.action(TABLE, name="Count in batches", scope="bulk")
    async def count_in_batches(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        seen = 0
        async for batch in ctx.selection.batches(size=batch_size):
            seen += len(batch)
        return Success(str(seen))

    uvicorn.run(desk, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Setup


async def fill(data_dsn: str, rows: int) -> None:
    conn = await connect(data_dsn)
    try:
        print(f"filling {BENCH_DATABASE}.{TABLE} with {rows:,} rows ...", flush=True)
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(CREATE_SQL)
            await conn.execute(FILL_SQL, rows)
        await conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()


async def reset(conn: asyncpg.Connection) -> None:
    """Every status back to 'new', dead rows vacuumed away, dirty pages flushed: each timed
    UPDATE starts from the same state (outside the timings)."""
    await conn.execute(RESET_SQL)
    await conn.execute(f"VACUUM {TABLE}")
    await conn.execute("CHECKPOINT")


@contextmanager
def server(
    urls: Urls, batch_size: int, token: str, workdir: Path
) -> Iterator[tuple[str, int]]:
    """This script in ``--serve-port`` mode (a Desk on uvicorn) in its own process; always
    stopped on the way out. Yields (base URL, pid)."""
    options = [
        "--data-url", urls.data,
        "--state-url", urls.state,
        "--batch-size", str(batch_size),
    ]
    with server_process(HERE, "--serve-port", options, workdir) as (base_url, process):
        asyncio.run(ready(base_url, token, process))
        yield base_url, process.pid


async def ready(base_url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=bearer(token)) as client:
        await wait_until_ready(client, process, ACTIONS_PATH)


# ---------------------------------------------------------------------------------------------
# Server memory


@dataclass
class Memory:
    rss_ready_kib: int = 0
    peak_since_start_kib: int = 0
    peak_timed_kib: int = 0
    peak_was_reset: bool = False


class Watch:
    """Server memory around the timed runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.memory = Memory()

    def before_timed_runs(self) -> None:
        now = memory_kib(self.pid)
        self.memory.rss_ready_kib = now["VmRSS"]
        self.memory.peak_since_start_kib = now["VmHWM"]
        self.memory.peak_was_reset = reset_peak(self.pid)

    def after_timed_runs(self) -> None:
        self.memory.peak_timed_kib = memory_kib(self.pid)["VmHWM"]


# ---------------------------------------------------------------------------------------------
# Measurement


def document(selection: dict[str, Any]) -> bytes:
    body = {"data": {"type": "custom-action-requests", "attributes": selection}}
    return json.dumps(body, separators=(",", ":")).encode()


async def run_action(
    client: httpx.AsyncClient, slug: str, selection: dict[str, Any]
) -> tuple[float, str]:
    """(seconds, the action's success message)."""
    started = time.perf_counter()
    response = await client.post(
        f"{ACTIONS_PATH}/{slug}", content=document(selection),
        headers={"content-type": "application/json"},
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SetupError(f"{slug} answered {response.status_code}: {response.text[:500]}")
    message: str = response.json()["success"]
    return elapsed, message


async def raw_update(conn: asyncpg.Connection) -> tuple[float, int]:
    started = time.perf_counter()
    status: str = await conn.execute(RAW_UPDATE_SQL)
    elapsed = time.perf_counter() - started
    return elapsed, int(status.split()[-1])


async def raw_batches(conn: asyncpg.Connection, size: int) -> tuple[float, int]:
    started = time.perf_counter()
    seen, after = 0, 0
    while True:
        rows = await conn.fetch(RAW_BATCH_SQL, after, size)
        seen += len(rows)
        if len(rows) < size:
            break
        after = rows[-1]["id"]
    return time.perf_counter() - started, seen


@dataclass
class Workload:
    name: str
    rows: int
    expected: int
    desk_s: list[float] = field(default_factory=list)
    raw_s: list[float] = field(default_factory=list)
    count_s: list[float] = field(default_factory=list)
    memory: Memory = field(default_factory=Memory)

    @property
    def ratio(self) -> float:
        return median(self.desk_s) / median(self.raw_s)


def check(side: str, got: int, expected: int) -> None:
    if got != expected:
        raise SetupError(f"{side} touched {got:,} rows, expected {expected:,}")


async def measure_update(
    base_url: str, token: str, watch: Watch, data_dsn: str, rows: int, repeat: int
) -> Workload:
    result = Workload("update", rows, rows - len(EXCLUDED_IDS))
    conn = await connect(data_dsn)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                                     headers=bearer(token)) as client:
            # Warm-up: the action on a few rows (code paths, pools), then one raw UPDATE of
            # the whole table so the table reaches the size it keeps for the timed runs.
            await run_action(client, VALIDATE_SLUG, SELECT_FEW)
            await reset(conn)
            await raw_update(conn)
            watch.before_timed_runs()
            for number in range(repeat):
                for side in ("actiondesk", "raw") if number % 2 == 0 else ("raw", "actiondesk"):
                    await reset(conn)
                    print(f"  update {rows:,}: {side} run {number + 1}", flush=True)
                    if side == "raw":
                        elapsed, touched = await raw_update(conn)
                        result.raw_s.append(elapsed)
                    else:
                        elapsed, message = await run_action(client, VALIDATE_SLUG, SELECT_ALL)
                        touched = int(message)
                        result.desk_s.append(elapsed)
                    check(side, touched, result.expected)
            watch.after_timed_runs()
            validated = await conn.fetchval(
                f"SELECT count(*) FROM {TABLE} WHERE status = 'validated'"
            )
            check("the last run", validated, result.expected)
            await reset(conn)
            # What the action does before its handler runs: count the selection.
            for _ in range(repeat):
                started = time.perf_counter()
                check("count", await conn.fetchval(RAW_COUNT_SQL), result.expected)
                result.count_s.append(time.perf_counter() - started)
    finally:
        await conn.close()
    result.memory = watch.memory
    return result


async def measure_batches(
    base_url: str, token: str, watch: Watch, data_dsn: str, rows: int, repeat: int,
    batch_size: int,
) -> Workload:
    result = Workload("batches", rows, rows - len(EXCLUDED_IDS))
    conn = await connect(data_dsn)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                                     headers=bearer(token)) as client:
            await run_action(client, COUNT_SLUG, SELECT_FEW)
            await raw_batches(conn, batch_size)
            watch.before_timed_runs()
            for number in range(repeat):
                for side in ("actiondesk", "raw") if number % 2 == 0 else ("raw", "actiondesk"):
                    print(f"  batches {rows:,}: {side} run {number + 1}", flush=True)
                    if side == "raw":
                        elapsed, seen = await raw_batches(conn, batch_size)
                        result.raw_s.append(elapsed)
                    else:
                        elapsed, message = await run_action(client, COUNT_SLUG, SELECT_ALL)
                        seen = int(message)
                        result.desk_s.append(elapsed)
                    check(side, seen, result.expected)
            watch.after_timed_runs()
    finally:
        await conn.close()
    result.memory = watch.memory
    return result


def run_all(args: argparse.Namespace, urls: Urls, workdir: Path) -> list[Workload]:
    results: list[Workload] = []
    token: str | None = None
    for rows in args.sizes:
        asyncio.run(fill(urls.data, rows))
        token = token or asyncio.run(
            provision(urls.data, urls.state, TABLE, [VALIDATE_SLUG, COUNT_SLUG])
        )
        # A fresh server per size and workload: its peak memory is theirs alone.
        with server(urls, args.batch_size, token, workdir) as (base_url, pid):
            results.append(asyncio.run(
                measure_update(base_url, token, Watch(pid), urls.data, rows, args.repeat)
            ))
        with server(urls, args.batch_size, token, workdir) as (base_url, pid):
            results.append(asyncio.run(
                measure_batches(base_url, token, Watch(pid), urls.data, rows, args.repeat,
                                args.batch_size)
            ))
    return results


# ---------------------------------------------------------------------------------------------
# Report


def report(results: Sequence[Workload], args: argparse.Namespace, version: str) -> None:
    print()
    print('actiondesk bulk action on "select all" vs raw SQL, and server peak memory')
    print(
        f"PostgreSQL {version} | sizes {', '.join(f'{r:,}' for r in args.sizes)} rows | "
        f"{args.repeat} timed runs per side, interleaved | filter amount > -1 minus "
        f"{len(EXCLUDED_IDS)} excluded ids | batch size {args.batch_size:,} | "
        f"{os.cpu_count()} CPUs | a fresh uvicorn server per size and workload"
    )
    print()
    header = (
        f"{'workload':<9} {'rows':>10} {'side':<11} {'median s':>9} {'min s':>8} "
        f"{'max s':>8} {'records/s':>11}"
    )
    print_table_head(header)
    for result in results:
        for side, samples in (("actiondesk", result.desk_s), ("raw", result.raw_s)):
            middle = median(samples)
            print(
                f"{result.name:<9} {result.rows:>10,} {side:<11} {middle:>9.3f} "
                f"{min(samples):>8.3f} {max(samples):>8.3f} {result.expected / middle:>11,.0f}"
            )
    print()
    for result in results:
        desk, raw = median(result.desk_s), median(result.raw_s)
        line = (
            f"{result.name:<9} {result.rows:>10,}: actiondesk/raw {result.ratio:.2f}x, "
            f"overhead {desk - raw:+.3f} s"
        )
        if result.name == "update":
            verdict = "meets" if result.ratio <= TIME_TARGET else "MISSES"
            line += (
                f" ({verdict} the <= {TIME_TARGET}x target); the selection count actiondesk "
                f"runs first takes {median(result.count_s):.3f} s as raw SQL"
            )
        else:
            line += " (context: raw = the same keyset SELECTs with asyncpg, rows as Records)"
        print(line)
    print()
    print("server memory, MiB: RSS when ready (after warm-up) | peak since start (imports,")
    print("migrations, warm-up) | peak during the timed runs")
    for result in results:
        memory = result.memory
        timed = mib(memory.peak_timed_kib) if memory.peak_was_reset else "n/a"
        print(
            f"{result.name:<9} {result.rows:>10,}: {mib(memory.rss_ready_kib):>7} | "
            f"{mib(memory.peak_since_start_kib):>7} | {timed:>7}"
        )
    for name in ("update", "batches"):
        of = [r for r in results if r.name == name]
        if len(of) < 2:
            continue
        small, large = of[0], of[-1]
        if small.memory.peak_was_reset:
            a, b = small.memory.peak_timed_kib, large.memory.peak_timed_kib
            what = "peak during the timed runs"
        else:
            a, b = small.memory.peak_since_start_kib, large.memory.peak_since_start_kib
            what = "peak since start (the peak could not be reset)"
        ratio = b / a
        verdict = "flat" if ratio <= MEMORY_TARGET else "NOT flat"
        print(
            f"{name}: {what} {mib(a)} MiB at {small.rows:,} rows -> {mib(b)} MiB at "
            f"{large.rows:,} rows: {ratio:.2f}x ({verdict}; target <= {MEMORY_TARGET}x)"
        )


# ---------------------------------------------------------------------------------------------


def table_size(text: str) -> int:
    value = positive_int(text)
    if value < max(EXCLUDED_IDS) + 1:
        raise argparse.ArgumentTypeError(f"must be more than {max(EXCLUDED_IDS):,}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time a set-based bulk action on 'select all' against the raw UPDATE and "
        "measure the server's peak memory per table size (targets: <= 1.5x, flat)."
    )
    parser.add_argument("--sizes", type=table_size, nargs="+", default=list(DEFAULT_SIZES),
                        help="table sizes, smallest first (default 100000 1000000)")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="timed runs per side and workload (default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=5000,
                        help="size of ctx.selection.batches() (default 5000)")
    add_database_url(parser, DEFAULT_DATABASE_URL,
                     f"the data go in {BENCH_DATABASE}, the runs audit in {STATE_DATABASE}")
    add_serve_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args.data_url, args.state_url, args.batch_size)
        return 0
    return run_sizes(args, run_all, report)


if __name__ == "__main__":
    sys.exit(main())
