"""Benchmark: one partitioned background run on 1, 2 and 4 Procrastinate worker processes,
exactly once with a worker SIGKILLed mid-run, and the workers' peak memory per table size.

    .venv/bin/python bench/partitioned_runs.py [--sizes 1000000 10000000] [--workers 1 2 4]
        [--partitions 8] [--batch-size 5000] [--no-kill] [--database-url URL]
    .venv/bin/python bench/partitioned_runs.py --quick    # smoke: 20,000 rows, 1 and 2 workers

For each size, the database ``actiondesk_bench_parts`` is made anew (data and state in it,
so a batch and its checkpoint commit in one transaction) with ``bench_parts(id bigint primary
key, amount numeric(12,2), counter int)``. A server process (runner ``procrastinate``: it
only enqueues) and N worker processes (``ProcrastinateRunner.work(1)``: one job at a time
each, so N processes = N parallel partitions) run the action ``Score``, declared
``partitions=P``: its handler walks its partition with ``ctx.batches(size=5000)``, looks at
every record in Python (sums the amounts, counts those >= 500) and adds 1 to ``counter`` of
the batch in one UPDATE in the batch's transaction. The run is requested over HTTP (select
all, 202) once the N workers are up, and polled until it ends.

Reported per worker count: seconds from the POST to the run's end, records/s, records/s per
worker, the speed-up over one worker, and each worker's peak RSS (``VmHWM``). After every
run, ``SELECT count(*) ... WHERE counter <> k`` must be 0 (k = runs so far): every record
processed exactly once. Then, unless ``--no-kill``, a run on 2 workers where the first one
is SIGKILLed once a third of the records is done: the other takes its partitions over from
their checkpoints after the lease (2 s); the same exactly-once count, and the partitions
that ran twice, are reported.

A report, not a test: exit code 0 whether or not the figures please, 2 when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SECRET_KEY,
    URL_ENV,
    SetupError,
    bearer,
    connect,
    memory_kib,
    mib,
    positive_int,
    postgresql_url,
    print_table_head,
    provision,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
    with_database,
)

HERE = Path(__file__).resolve()
DATABASE = "actiondesk_bench_parts"
TABLE = "bench_parts"
SLUG = "score"
ACTIONS_PATH = f"/api/collections/{TABLE}/actions"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RUN_TIMEOUT_S = 7200.0
LEASE_S = 2


# ---------------------------------------------------------------------------------------------
# The server and the workers (this script again: --serve-port PORT, or --work)


def make_desk(url: str, partitions: int, batch_size: int) -> Any:
    import sqlalchemy as sa

    from actiondesk import ActionContext, Desk, Success

    desk = Desk(database_url=url, state_url=url, secret_key=SECRET_KEY, include=[TABLE],
                runner="procrastinate", runner_concurrency=1,
                run_lease=dt.timedelta(seconds=LEASE_S))

    def combine(parts: list[dict[str, Any]]) -> Success:
        return Success(str(sum(p["done"] for p in parts)))

    @desk.action(TABLE, name="Score", scope="bulk", partitions=partitions, combine=combine)
    async def score(ctx: ActionContext) -> dict[str, Any]:
        assert ctx.collection is not None
        table = ctx.collection.table
        batches = ctx.batches(size=batch_size)
        high, total = 0, 0
        async for batch in batches:
            for row in batch.rows:  # the per-record Python work
                amount = row["amount"]
                total += int(amount)
                if amount >= 500:
                    high += 1
            await batch.conn.execute(
                sa.update(table).where(batch.where).values(counter=table.c.counter + 1))
        return {"done": batches.done, "high": high, "total": total}

    return desk


def serve(port: int, url: str, partitions: int, batch_size: int) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(make_desk(url, partitions, batch_size), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def work(url: str, partitions: int, batch_size: int) -> None:
    stop_when_orphaned()
    desk = make_desk(url, partitions, batch_size)

    async def main() -> None:
        await desk.start(runner=True)
        try:
            await desk.background.runner.work(1)
        finally:
            await desk.stop()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Setup


async def fresh_database(admin: str, url: str, rows: int) -> str:
    conn = await connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    conn = await connect(url)
    try:
        print(f"filling {DATABASE}.{TABLE} with {rows:,} rows ...", flush=True)
        started = time.perf_counter()
        await conn.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, "
                           "amount numeric(12, 2) NOT NULL, counter int NOT NULL)")
        await conn.execute(
            f"INSERT INTO {TABLE} SELECT g, ((g * 7919) % 100000) / 100.0, 0 "
            "FROM generate_series(1, $1::bigint) AS g", rows)
        await conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()
    return version


async def between_runs(url: str) -> None:
    """Dead rows of the last run vacuumed away, dirty pages flushed (outside the timings)."""
    conn = await connect(url)
    try:
        await conn.execute(f"VACUUM {TABLE}")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


@contextmanager
def workers(count: int, url: str, args: argparse.Namespace, workdir: Path
            ) -> Iterator[list[subprocess.Popen[bytes]]]:
    command = [sys.executable, str(HERE), "--work", "--url", url,
               "--partitions", str(args.partitions), "--batch-size", str(args.batch_size)]
    with ExitStack() as stack:
        started = []
        for number in range(count):
            log = stack.enter_context((workdir / f"worker-{number}.log").open("ab"))
            process = subprocess.Popen(command, cwd=workdir, stdout=log,  # noqa: S603
                                       stderr=subprocess.STDOUT)
            stack.callback(stop, process)
            started.append(process)
        yield started


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def live_workers(url: str) -> int:
    conn = await connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass('procrastinate_workers')"):
            return 0
        return int(await conn.fetchval(
            "SELECT count(*) FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - interval '5 seconds'"))
    finally:
        await conn.close()


async def wait_for_workers(url: str, count: int, processes: list[subprocess.Popen[bytes]]
                           ) -> None:
    deadline = time.monotonic() + 120
    while await live_workers(url) < count:
        if any(p.poll() is not None for p in processes):
            raise SetupError("a worker stopped at start-up (see the worker logs)")
        if time.monotonic() > deadline:
            raise SetupError(f"{count} workers did not start in 120 s")
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Run:
    rows: int
    workers: int
    seconds: float
    peaks_kib: list[int] = field(default_factory=list)
    killed: bool = False
    retried: list[int] = field(default_factory=list)
    wrong: int = 0


async def run_once(client: httpx.AsyncClient, rows: int, kill: subprocess.Popen[bytes] | None
                   ) -> tuple[float, dict[str, Any]]:
    body = {"data": {"type": "custom-action-requests", "attributes": {"all_records": True}}}
    started = time.perf_counter()
    answer = await client.post(f"{ACTIONS_PATH}/{SLUG}", json=body)
    if answer.status_code != 202:
        raise SetupError(f"{SLUG} answered {answer.status_code}: {answer.text[:500]}")
    run_id = answer.json()["run"]["id"]
    last_print = started
    while True:
        run = (await client.get(f"/api/runs/{run_id}")).json()
        if run["status"] not in ("queued", "running"):
            break
        done = (run.get("progress") or {}).get("done") or 0
        if kill is not None and kill.poll() is None and done >= rows // 3:
            print(f"    SIGKILL worker {kill.pid} at {done:,} records", flush=True)
            kill.send_signal(signal.SIGKILL)
            kill.wait()
        if time.perf_counter() - last_print > 10:
            last_print = time.perf_counter()
            print(f"    {done:,} / {rows:,} records", flush=True)
        if time.perf_counter() - started > RUN_TIMEOUT_S:
            raise SetupError(f"run {run_id} did not end in {RUN_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    if run["status"] != "succeeded" or run["result"] != {"success": str(rows)}:
        raise SetupError(f"run {run_id} ended {run['status']}: {run['message']}")
    return elapsed, run


async def check(url: str, run_id: str, number: int) -> tuple[int, list[int]]:
    """Records whose counter is not ``number`` (0: each processed exactly once per run), and
    the partitions that ran more than once."""
    conn = await connect(url)
    try:
        wrong = await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE counter <> $1", number)
        retried = [r["number"] for r in await conn.fetch(
            "SELECT number FROM actiondesk_run_partitions WHERE run_id = $1 AND attempts > 1 "
            "ORDER BY number", run_id)]
    finally:
        await conn.close()
    return int(wrong), retried


def measure_size(rows: int, args: argparse.Namespace, admin: str, url: str, workdir: Path
                 ) -> tuple[str, list[Run]]:
    version = asyncio.run(fresh_database(admin, url, rows))
    token = asyncio.run(provision(url, url, TABLE, [SLUG]))
    options = ["--url", url, "--partitions", str(args.partitions),
               "--batch-size", str(args.batch_size)]
    runs: list[Run] = []
    plan = [(count, False) for count in args.workers]
    if args.kill:
        plan.append((2, True))
    with server_process(HERE, "--serve-port", options, workdir) as (base, server):
        asyncio.run(ready(base, token, server))
        for number, (count, kill) in enumerate(plan, start=1):
            asyncio.run(between_runs(url))
            label = f"{count} worker{'s' if count > 1 else ''}" + (", one killed" if kill
                                                                   else "")
            print(f"  {rows:,} rows on {label}", flush=True)
            with workers(count, url, args, workdir) as processes:
                asyncio.run(wait_for_workers(url, count, processes))
                seconds, run = asyncio.run(timed_run(base, token, rows,
                                                     processes[0] if kill else None))
                peaks = [memory_kib(p.pid)["VmHWM"] for p in processes if p.poll() is None]
            wrong, retried = asyncio.run(check(url, run["id"], number))
            runs.append(Run(rows, count, seconds, peaks, kill, retried, wrong))
            print(f"    {seconds:.1f} s, {rows / seconds:,.0f} records/s, records not "
                  f"processed exactly once: {wrong}", flush=True)
    return version, runs


async def ready(base: str, token: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=bearer(token)) as client:
        await wait_until_ready(client, process, ACTIONS_PATH)


async def timed_run(base: str, token: str, rows: int, kill: subprocess.Popen[bytes] | None
                    ) -> tuple[float, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=bearer(token)) as client:
        return await run_once(client, rows, kill)


# ---------------------------------------------------------------------------------------------
# Report


def report(runs: Sequence[Run], args: argparse.Namespace, version: str) -> None:
    print()
    print(f"one partitioned run (partitions={args.partitions}, ctx.batches(size="
          f"{args.batch_size:,}), a per-record Python loop + one UPDATE per batch) on N "
          f"Procrastinate worker processes")
    print(f"PostgreSQL {version} | {os.cpu_count()} CPUs (shared: PostgreSQL, the server and "
          f"the workers compete for them) | lease {LEASE_S} s")
    print()
    print_table_head(f"{'rows':>11} {'workers':<17} {'seconds':>8} {'records/s':>10} "
                     f"{'per worker':>10} {'speed-up':>8} {'exactly once':>12} "
                     f"{'peak RSS MiB per worker':<24}")
    for run in runs:
        one = next((r for r in runs if r.rows == run.rows and r.workers == 1 and not r.killed),
                   None)
        rate = run.rows / run.seconds
        speedup = f"{one.seconds / run.seconds:.2f}x" if one is not None else "-"
        label = f"{run.workers}" + (" (1 killed)" if run.killed else "")
        once = "yes" if run.wrong == 0 else f"NO: {run.wrong:,}"
        peaks = ", ".join(mib(p) for p in run.peaks_kib)
        print(f"{run.rows:>11,} {label:<17} {run.seconds:>8.1f} {rate:>10,.0f} "
              f"{rate / run.workers:>10,.0f} {speedup:>8} {once:>12} {peaks:<24}")
    for run in runs:
        if run.killed:
            print(f"\n{run.rows:,} rows, one worker SIGKILLed at a third: partitions "
                  f"{', '.join(map(str, run.retried)) or 'none'} ran twice (resumed from "
                  f"their checkpoints); every record processed exactly once: "
                  f"{'yes' if run.wrong == 0 else 'NO'}")
    sizes = sorted({r.rows for r in runs})
    if len(sizes) > 1:
        small = max(p for r in runs if r.rows == sizes[0] for p in r.peaks_kib)
        large = max(p for r in runs if r.rows == sizes[-1] for p in r.peaks_kib)
        print(f"\npeak RSS of a worker: {mib(small)} MiB at {sizes[0]:,} rows -> {mib(large)} "
              f"MiB at {sizes[-1]:,} rows ({large / small:.2f}x)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[1_000_000])
    parser.add_argument("--workers", type=positive_int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--partitions", type=positive_int, default=8)
    parser.add_argument("--batch-size", type=positive_int, default=5000)
    parser.add_argument("--no-kill", dest="kill", action="store_false",
                        help="skip the run with a SIGKILLed worker")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20,000 rows, 1 and 2 workers, 4 partitions")
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV, DEFAULT_URL))
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.workers, args.partitions, args.batch_size = [20_000], [1, 2], 4, 1000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args.url, args.partitions, args.batch_size)
        return 0
    if args.work:
        work(args.url, args.partitions, args.batch_size)
        return 0
    runs: list[Run] = []
    version = ""
    try:
        admin = postgresql_url(args.database_url)
        url = with_database(admin, DATABASE)
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as workdir:
            for rows in sorted(args.sizes):
                version, done = measure_size(rows, args, admin.render_as_string(
                    hide_password=False), url, Path(workdir))
                runs += done
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    report(runs, args, version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
