"""Benchmark: the built-in record actions on a "select all" vs the raw SQL, and server memory.

    .venv/bin/python bench/record_writes.py [--sizes 100000 1000000] [--repeat 3]
                                            [--database-url URL] [--quick]

For each size, the table ``bench_records(id bigint primary key, status text not null, amount
numeric(12,2))`` of the database ``actiondesk_bench`` is rebuilt with that many rows, and a
fresh uvicorn process (one per size) serves a ``Desk`` whose ``collections={"bench_records":
Editing()}`` gives it the built-in record actions. Two workloads, each requested over HTTP on
``all_records: true`` with the subset filter ``amount > -1`` (every row) minus a few
``all_records_ids_excluded``, through the whole pipeline (permission, selection count, form
validation, the runs audit):

- **bulk edit**: ``bulk-edit`` with ``{"_field": "status", "status": "validated"}``;
  baseline: ``UPDATE bench_records SET status = 'validated' WHERE amount > -1 AND id NOT IN
  (...)`` sent with asyncpg. Statuses are reset, the table vacuumed and a checkpoint taken
  before every timed run (outside the timings).
- **delete**: ``delete``; baseline: the same ``DELETE`` sent with asyncpg. The deleted rows
  are put back, vacuumed and checkpointed before every timed run (outside the timings).

Targets: each action at most 1.5x its raw statement (medians), and the server's peak RSS
during the timed runs flat (<= 1.1x) from the smallest size to the largest: the selection is
never read into memory. ``--quick`` is a smoke run (2,000 and 4,000 rows, one run each).
A report, not a test: the exit code is 0 whether or not a target is met, non-zero only when
the setup fails.
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
TABLE = "bench_records"
DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (2_000, 4_000)
EXCLUDED_IDS = (1, 2, 3, 500, 999)
TIME_TARGET = 1.5
MEMORY_TARGET = 1.10
REQUEST_TIMEOUT_S = 900.0
ACTIONS_PATH = f"/api/collections/{TABLE}/actions"
WHERE = f"amount > -1 AND id NOT IN ({', '.join(str(i) for i in EXCLUDED_IDS)})"

CREATE_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(12, 2));
"""
FILL_SQL = f"""
INSERT INTO {TABLE} (id, status, amount)
SELECT g, 'new', ((g * 7919) % 100000) / 100.0 FROM generate_series(1, $1::bigint) AS g
ON CONFLICT (id) DO NOTHING
"""
RAW = {
    "bulk-edit": f"UPDATE {TABLE} SET status = 'validated' WHERE {WHERE}",
    "delete": f"DELETE FROM {TABLE} WHERE {WHERE}",
}
VALUES = {"bulk-edit": {"_field": "status", "status": "validated"}, "delete": {}}
SELECT_ALL = {
    "all_records": True,
    "all_records_subset_query": {
        "filters": {"field": "amount", "operator": "greater_than", "value": "-1"},
    },
    "all_records_ids_excluded": [str(i) for i in EXCLUDED_IDS],
}


def serve(port: int, data_url: str, state_url: str) -> None:
    import uvicorn

    stop_when_orphaned()
    from actiondesk import Desk, Editing

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE], collections={TABLE: Editing()})
    uvicorn.run(desk, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def fill(data_dsn: str, rows: int, *, create: bool) -> None:
    conn = await connect(data_dsn)
    try:
        async with conn.transaction():
            if create:
                await conn.execute(CREATE_SQL)
            await conn.execute(FILL_SQL, rows)
            await conn.execute(f"UPDATE {TABLE} SET status = 'new' WHERE status <> 'new'")
        await conn.execute(f"VACUUM (ANALYZE) {TABLE}")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


@contextmanager
def server(urls: Urls, token: str, workdir: Path) -> Iterator[tuple[str, int]]:
    options = ["--data-url", urls.data, "--state-url", urls.state]
    with server_process(HERE, "--serve-port", options, workdir) as (base_url, process):
        asyncio.run(ready(base_url, token, process))
        yield base_url, process.pid


async def ready(base_url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=bearer(token)) as client:
        await wait_until_ready(client, process, ACTIONS_PATH)


def document(values: dict[str, Any]) -> bytes:
    body = {"data": {"type": "custom-action-requests",
                     "attributes": {**SELECT_ALL, "values": values}}}
    return json.dumps(body, separators=(",", ":")).encode()


async def run_action(client: httpx.AsyncClient, slug: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.post(f"{ACTIONS_PATH}/{slug}", content=document(VALUES[slug]),
                                 headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SetupError(f"{slug} answered {response.status_code}: {response.text[:500]}")
    return elapsed, int(response.json()["record"]["count"])


async def run_raw(data_dsn: str, slug: str) -> tuple[float, int]:
    conn = await connect(data_dsn)
    try:
        started = time.perf_counter()
        status: str = await conn.execute(RAW[slug])
        return time.perf_counter() - started, int(status.split()[-1])
    finally:
        await conn.close()


@dataclass
class Workload:
    slug: str
    rows: int
    desk_s: list[float] = field(default_factory=list)
    raw_s: list[float] = field(default_factory=list)
    peak_kib: int = 0
    peak_was_reset: bool = False

    @property
    def expected(self) -> int:
        return self.rows - len(EXCLUDED_IDS)

    @property
    def ratio(self) -> float:
        return median(self.desk_s) / median(self.raw_s)


async def measure(base_url: str, token: str, pid: int, data_dsn: str, rows: int, slug: str,
                  repeat: int) -> Workload:
    result = Workload(slug, rows)
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                                 headers=bearer(token)) as client:
        # Warm-up (code paths, pools), then the peak RSS is reset: start-up is not counted
        # (nor, for the second workload, the first one's).
        await run_action(client, slug)
        await fill(data_dsn, rows, create=False)
        result.peak_was_reset = reset_peak(pid)
        for number in range(repeat):
            for side in ("actiondesk", "raw") if number % 2 == 0 else ("raw", "actiondesk"):
                await fill(data_dsn, rows, create=False)
                print(f"  {slug} {rows:,}: {side} run {number + 1}", flush=True)
                if side == "raw":
                    elapsed, touched = await run_raw(data_dsn, slug)
                    result.raw_s.append(elapsed)
                else:
                    elapsed, touched = await run_action(client, slug)
                    result.desk_s.append(elapsed)
                if touched != result.expected:
                    raise SetupError(f"{side} {slug} touched {touched:,} rows, expected "
                                     f"{result.expected:,}")
        result.peak_kib = memory_kib(pid)["VmHWM"]
    return result


def run_all(args: argparse.Namespace, urls: Urls, workdir: Path) -> list[Workload]:
    results: list[Workload] = []
    token: str | None = None
    from actiondesk import Editing

    for rows in args.sizes:
        print(f"filling {BENCH_DATABASE}.{TABLE} with {rows:,} rows ...", flush=True)
        asyncio.run(fill(urls.data, rows, create=True))
        token = token or asyncio.run(provision(
            urls.data, urls.state, TABLE, ["bulk-edit", "delete"],
            collections={TABLE: Editing()}))
        # A fresh server per size: its peak memory is this size's alone.
        with server(urls, token, workdir) as (base_url, pid):
            for slug in ("bulk-edit", "delete"):
                results.append(asyncio.run(
                    measure(base_url, token, pid, urls.data, rows, slug, args.repeat)))
    return results


def report(results: Sequence[Workload], args: argparse.Namespace, version: str) -> None:
    print()
    print('actiondesk built-in record actions on "select all" vs raw SQL, and server memory')
    print(f"PostgreSQL {version} | {args.repeat} timed runs per side, interleaved | filter "
          f"amount > -1 minus {len(EXCLUDED_IDS)} excluded ids | {os.cpu_count()} CPUs")
    print()
    header = f"{'action':<10} {'rows':>10} {'side':<11} {'median s':>9} {'min s':>8} {'max s':>8}"
    print_table_head(header)
    for result in results:
        for side, samples in (("actiondesk", result.desk_s), ("raw", result.raw_s)):
            print(f"{result.slug:<10} {result.rows:>10,} {side:<11} {median(samples):>9.3f} "
                  f"{min(samples):>8.3f} {max(samples):>8.3f}")
    print()
    for result in results:
        verdict = "meets" if result.ratio <= TIME_TARGET else "MISSES"
        print(f"{result.slug:<10} {result.rows:>10,}: actiondesk/raw {result.ratio:.2f}x "
              f"({verdict} the <= {TIME_TARGET}x target), overhead "
              f"{median(result.desk_s) - median(result.raw_s):+.3f} s")
    print()
    for slug in ("bulk-edit", "delete"):
        of = [r for r in results if r.slug == slug]
        if len(of) < 2:
            continue
        small, large = of[0], of[-1]
        ratio = large.peak_kib / small.peak_kib
        what = "peak RSS during the timed runs" if small.peak_was_reset else (
            "peak RSS since start (the peak could not be reset)")
        verdict = "flat" if ratio <= MEMORY_TARGET else "NOT flat"
        print(f"{slug}: server {what} {mib(small.peak_kib)} MiB at {small.rows:,} rows -> "
              f"{mib(large.peak_kib)} MiB at {large.rows:,} rows: {ratio:.2f}x ({verdict}; "
              f"target <= {MEMORY_TARGET}x)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the built-in bulk edit and delete on 'select all' against the raw "
        "UPDATE / DELETE and measure the server's peak memory per size (<= 1.5x, flat).")
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=list(DEFAULT_SIZES),
                        help="table sizes (default 100000 1000000)")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="timed runs per side and workload (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: sizes 2000 4000, one run per side")
    add_database_url(parser, DEFAULT_DATABASE_URL,
                     f"the data go in {BENCH_DATABASE}, the runs audit in {STATE_DATABASE}")
    add_serve_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = list(QUICK_SIZES), 1
    if min(args.sizes) <= max(EXCLUDED_IDS):
        parser.error(f"--sizes must be more than {max(EXCLUDED_IDS):,}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args.data_url, args.state_url)
        return 0
    return run_sizes(args, run_all, report)


if __name__ == "__main__":
    sys.exit(main())
