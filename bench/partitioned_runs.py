"""Benchmark: one partitioned background run on 1, 2 and 4 Procrastinate worker processes,
exactly once with a worker SIGKILLed mid-run, and the workers' peak memory per table size.

    .venv/bin/python bench/partitioned_runs.py [--sizes 1000000 10000000] [--workers 1 2 4]
        [--partitions 8] [--batch-size 5000] [--batch-delay 0] [--no-kill] [--database-url URL]
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
is SIGKILLed once a third of the records is done, and the server that enqueued the run is
SIGKILLed once half is done and started again on the same port (a balancer's backend coming
back): the other worker takes the killed one's partitions over from their checkpoints after
the lease (2 s), while the progress is read from the restarted server. Reported: the same
exactly-once count, the partitions resumed and the checkpoint each resumed from, the seconds
from the worker's kill to their takeover, the server's downtime, and the seconds lost against
the plain 2-worker run. Last, a second run is requested from the restarted server and
cancelled there: it must end ``cancelled`` with exactly its ``done`` records counted once more.

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
    free_port,
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


def make_desk(url: str, partitions: int, batch_size: int, delay: float) -> Any:
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
            if delay:  # --quick: the kill and the restart land mid-run
                await asyncio.sleep(delay)
        return {"done": batches.done, "high": high, "total": total}

    return desk


def serve(port: int, args: argparse.Namespace) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(make_desk(args.url, args.partitions, args.batch_size, args.batch_delay),
                host="127.0.0.1", port=port, log_level="warning", access_log=False)


def work(args: argparse.Namespace) -> None:
    stop_when_orphaned()
    desk = make_desk(args.url, args.partitions, args.batch_size, args.batch_delay)

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
    command = [sys.executable, str(HERE), "--work", *process_options(url, args)]
    with ExitStack() as stack:
        started = []
        for number in range(count):
            log = stack.enter_context((workdir / f"worker-{number}.log").open("ab"))
            process = subprocess.Popen(command, cwd=workdir, stdout=log,  # noqa: S603
                                       stderr=subprocess.STDOUT)
            stack.callback(stop, process)
            started.append(process)
        yield started


def process_options(url: str, args: argparse.Namespace) -> list[str]:
    return ["--url", url, "--partitions", str(args.partitions), "--batch-size",
            str(args.batch_size), "--batch-delay", str(args.batch_delay)]


class Server:
    """The server process (this script, ``--serve-port``) on one port; ``restart`` SIGKILLs
    it and starts another one on the same port, as a balancer's backend comes back."""

    def __init__(self, stack: ExitStack, options: list[str], workdir: Path) -> None:
        self.stack, self.options, self.workdir = stack, options, workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        _, process = self.stack.enter_context(server_process(
            HERE, "--serve-port", self.options, self.workdir, port=self.port))
        return process

    async def restart(self, client: httpx.AsyncClient) -> float:
        """Seconds from the SIGKILL until the new server answers."""
        killed = time.perf_counter()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = self._start()
        await wait_until_ready(client, self.process, ACTIONS_PATH)
        return time.perf_counter() - killed


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
class Crash:
    """What the kill run did and saw: the first worker SIGKILLed at a third of the records
    (once it holds a partition), the server SIGKILLed and started again at half; then a run
    cancelled on that server."""

    worker: subprocess.Popen[bytes]
    server: Server
    # (partition, records done at the kill, its records)
    held: list[tuple[int, int, int]] = field(default_factory=list)
    killed_at: float | None = None
    takeover_s: float | None = None
    server_down_s: float | None = None
    server_start_s: float = 0.0  # the first server's start, for comparison
    watcher: asyncio.Task[None] | None = None
    cancel_status: str = ""
    cancel_done: int = 0
    cancel_counted: int = 0
    cancel_wrong: int = 0

    async def watch_takeover(self, url: str, run_id: str) -> None:
        """Seconds from the kill until no partition is held by the dead worker (polled apart
        from the run: the restart of the server does not delay it)."""
        assert self.killed_at is not None
        while True:
            if not await held_by(url, run_id, self.worker.pid):
                break
            await asyncio.sleep(0.05)
        self.takeover_s = time.perf_counter() - self.killed_at

    async def step(self, client: httpx.AsyncClient, url: str, run_id: str, done: int,
                   rows: int) -> None:
        if (self.killed_at is None and done >= rows // 3
                and await held_by(url, run_id, self.worker.pid)):
            print(f"    SIGKILL worker {self.worker.pid} at {done:,} records", flush=True)
            self.worker.send_signal(signal.SIGKILL)
            self.worker.wait()
            self.killed_at = time.perf_counter()
            # Read after the kill: the rows keep the dead worker's last checkpoints until
            # another worker takes them over (not before their lease expires).
            self.held = await held_by(url, run_id, self.worker.pid)
            self.watcher = asyncio.create_task(self.watch_takeover(url, run_id))
        if self.killed_at is not None and self.server_down_s is None and done >= rows // 2:
            print(f"    SIGKILL server {self.server.process.pid} at {done:,} records, "
                  "start another one on its port", flush=True)
            self.server_down_s = await self.server.restart(client)


async def held_by(url: str, run_id: str, pid: int) -> list[tuple[int, int, int]]:
    """The running partitions whose lease the worker process ``pid`` holds (its lease owner
    is ``host:pid:random``), with their records done."""
    conn = await connect(url)
    try:
        rows = await conn.fetch(
            "SELECT number, done_count, record_count FROM actiondesk_run_partitions "
            "WHERE run_id = $1 AND status = 'running' AND lease_owner LIKE $2 ORDER BY number",
            run_id, f"%:{pid}:%")
    finally:
        await conn.close()
    return [(int(r["number"]), int(r["done_count"]), int(r["record_count"])) for r in rows]


@dataclass
class Run:
    rows: int
    workers: int
    seconds: float
    peaks_kib: list[int] = field(default_factory=list)
    crash: Crash | None = None
    retried: list[int] = field(default_factory=list)
    wrong: int = 0


async def request_run(client: httpx.AsyncClient) -> str:
    body = {"data": {"type": "custom-action-requests", "attributes": {"all_records": True}}}
    answer = await client.post(f"{ACTIONS_PATH}/{SLUG}", json=body)
    if answer.status_code != 202:
        raise SetupError(f"{SLUG} answered {answer.status_code}: {answer.text[:500]}")
    run_id: str = answer.json()["run"]["id"]
    return run_id


async def read_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    answer = await client.get(f"/api/runs/{run_id}")
    if answer.status_code != 200:
        raise SetupError(f"GET run {run_id} answered {answer.status_code}: {answer.text[:500]}")
    run: dict[str, Any] = answer.json()
    return run


async def run_once(client: httpx.AsyncClient, rows: int, url: str, crash: Crash | None
                   ) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    run_id = await request_run(client)
    last_print = started
    while True:
        run = await read_run(client, run_id)
        if run["status"] not in ("queued", "running"):
            break
        done = (run.get("progress") or {}).get("done") or 0
        if crash is not None:
            await crash.step(client, url, run_id, done, rows)
        if time.perf_counter() - last_print > 10:
            last_print = time.perf_counter()
            print(f"    {done:,} / {rows:,} records", flush=True)
        if time.perf_counter() - started > RUN_TIMEOUT_S:
            raise SetupError(f"run {run_id} did not end in {RUN_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    if crash is not None and crash.watcher is not None:
        await asyncio.wait_for(crash.watcher, timeout=30)
    if run["status"] != "succeeded" or run["result"] != {"success": str(rows)}:
        raise SetupError(f"run {run_id} ended {run['status']}: {run['message']}")
    if crash is not None and crash.server_down_s is None:
        raise SetupError(f"run {run_id} ended before half of its records: the worker and the "
                         "server were not both killed mid-run (a larger size, or --batch-delay)")
    return elapsed, run


async def cancel_on_restarted(client: httpx.AsyncClient, url: str, number: int,
                              crash: Crash) -> None:
    """A run requested from the restarted server and cancelled there once it has done some
    records: it must end ``cancelled``, its ``done`` records counted once more, no other."""
    run_id = await request_run(client)
    deadline = time.perf_counter() + RUN_TIMEOUT_S
    while (await read_run(client, run_id))["progress"]["done"] == 0:
        if time.perf_counter() > deadline:
            raise SetupError(f"run {run_id} did not start in {RUN_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.05)
    answer = await client.post(f"/api/runs/{run_id}/cancel")
    if answer.status_code != 200:
        raise SetupError(f"cancel answered {answer.status_code}: {answer.text[:500]}")
    while True:
        run = await read_run(client, run_id)
        if run["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.2)
    conn = await connect(url)
    try:
        counts = await conn.fetchrow(
            f"SELECT count(*) FILTER (WHERE counter = $1 + 1) AS again, count(*) FILTER "
            f"(WHERE counter NOT IN ($1, $1 + 1)) AS wrong FROM {TABLE}", number)
    finally:
        await conn.close()
    crash.cancel_status, crash.cancel_done = run["status"], run["progress"]["done"]
    crash.cancel_counted, crash.cancel_wrong = int(counts["again"]), int(counts["wrong"])


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
    runs: list[Run] = []
    plan = [(count, False) for count in args.workers]
    if args.kill:
        plan.append((2, True))
    with ExitStack() as stack:
        begun = time.perf_counter()
        server = Server(stack, process_options(url, args), workdir)
        asyncio.run(ready(server.base, token, server.process))
        server_start_s = time.perf_counter() - begun
        for number, (count, kill) in enumerate(plan, start=1):
            asyncio.run(between_runs(url))
            label = f"{count} worker{'s' if count > 1 else ''}" + (
                ", one killed, the server restarted" if kill else "")
            print(f"  {rows:,} rows on {label}", flush=True)
            with workers(count, url, args, workdir) as processes:
                asyncio.run(wait_for_workers(url, count, processes))
                crash = Crash(processes[0], server, server_start_s=server_start_s
                              ) if kill else None
                seconds, run = asyncio.run(timed_run(server.base, token, rows, url, crash))
                peaks = [memory_kib(p.pid)["VmHWM"] for p in processes if p.poll() is None]
                wrong, retried = asyncio.run(check(url, run["id"], number))
                if crash is not None:
                    asyncio.run(cancel_run(server.base, token, url, number, crash))
            runs.append(Run(rows, count, seconds, peaks, crash, retried, wrong))
            print(f"    {seconds:.1f} s, {rows / seconds:,.0f} records/s, records not "
                  f"processed exactly once: {wrong}", flush=True)
    return version, runs


async def ready(base: str, token: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=bearer(token)) as client:
        await wait_until_ready(client, process, ACTIONS_PATH)


async def timed_run(base: str, token: str, rows: int, url: str, crash: Crash | None
                    ) -> tuple[float, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=bearer(token)) as client:
        return await run_once(client, rows, url, crash)


async def cancel_run(base: str, token: str, url: str, number: int, crash: Crash) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=bearer(token)) as client:
        await cancel_on_restarted(client, url, number, crash)


# ---------------------------------------------------------------------------------------------
# Report


def report(runs: Sequence[Run], args: argparse.Namespace, version: str) -> None:
    print()
    print(f"one partitioned run (partitions={args.partitions}, ctx.batches(size="
          f"{args.batch_size:,}), a per-record Python loop + one UPDATE per batch"
          + (f" + {args.batch_delay} s of sleep" if args.batch_delay else "")
          + ") on N Procrastinate worker processes")
    print(f"PostgreSQL {version} | {os.cpu_count()} CPUs (shared: PostgreSQL, the server and "
          f"the workers compete for them) | lease {LEASE_S} s")
    print()
    print_table_head(f"{'rows':>11} {'workers':<17} {'seconds':>8} {'records/s':>10} "
                     f"{'per worker':>10} {'speed-up':>8} {'exactly once':>12} "
                     f"{'peak RSS MiB per worker':<24}")
    for run in runs:
        one = next((r for r in runs if r.rows == run.rows and r.workers == 1 and not r.crash),
                   None)
        rate = run.rows / run.seconds
        speedup = f"{one.seconds / run.seconds:.2f}x" if one is not None else "-"
        label = f"{run.workers}" + (" (crashes)" if run.crash else "")
        once = "yes" if run.wrong == 0 else f"NO: {run.wrong:,}"
        peaks = ", ".join(mib(p) for p in run.peaks_kib)
        print(f"{run.rows:>11,} {label:<17} {run.seconds:>8.1f} {rate:>10,.0f} "
              f"{rate / run.workers:>10,.0f} {speedup:>8} {once:>12} {peaks:<24}")
    for run in runs:
        if run.crash is not None:
            report_crash(run, runs)
    sizes = sorted({r.rows for r in runs})
    if len(sizes) > 1:
        small = max(p for r in runs if r.rows == sizes[0] for p in r.peaks_kib)
        large = max(p for r in runs if r.rows == sizes[-1] for p in r.peaks_kib)
        print(f"\npeak RSS of a worker: {mib(small)} MiB at {sizes[0]:,} rows -> {mib(large)} "
              f"MiB at {sizes[-1]:,} rows ({large / small:.2f}x)")


def report_crash(run: Run, runs: Sequence[Run]) -> None:
    crash = run.crash
    assert crash is not None
    held = ", ".join(f"{n} (at {done:,} of {total:,} records)" for n, done, total in crash.held)
    takeover = (f"{crash.takeover_s:.1f} s" if crash.takeover_s is not None else "?")
    print(f"\n{run.rows:,} rows, crashes (\"crashes\" above): worker SIGKILLed at a third of "
          f"the records, the server SIGKILLed and started again at half")
    print(f"  the killed worker held partitions {held or 'none'}; another worker held them "
          f"{takeover} after the kill and resumed them from these checkpoints")
    print(f"  partitions that ran more than once: "
          f"{', '.join(map(str, run.retried)) or 'none'}")
    print(f"  the server was down {crash.server_down_s or 0:.1f} s (SIGKILL to its first "
          f"answer; the first server started in {crash.server_start_s:.1f} s); the progress "
          "was then read from the restarted server")
    plains = [r for r in runs if r.rows == run.rows and r.workers == 2 and not r.crash]
    if plains:
        plain = plains[-1]  # the last one: the closest in time, the table as warm
        print(f"  seconds lost against the (last) plain run on 2 workers: "
              f"{run.seconds - plain.seconds:.1f} s ({run.seconds:.1f} s against "
              f"{plain.seconds:.1f} s)")
    print(f"  every record processed exactly once: {'yes' if run.wrong == 0 else 'NO'}")
    exact = crash.cancel_counted == crash.cancel_done and crash.cancel_wrong == 0
    print(f"  a second run requested from the restarted server and cancelled there: "
          f"{crash.cancel_status} after {crash.cancel_done:,} records; records counted once "
          f"more: {crash.cancel_counted:,} ({'exactly its done' if exact else 'NOT its done'})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[1_000_000])
    parser.add_argument("--workers", type=positive_int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--partitions", type=positive_int, default=8)
    parser.add_argument("--batch-size", type=positive_int, default=5000)
    parser.add_argument("--batch-delay", type=float, default=0.0,
                        help="seconds each batch sleeps after its UPDATE (--quick: 0.2, so "
                             "that the kills land mid-run)")
    parser.add_argument("--no-kill", dest="kill", action="store_false",
                        help="skip the run with a SIGKILLed worker and a restarted server")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20,000 rows, 1 and 2 workers, 4 partitions, batches "
                             "of 1,000 with 0.2 s of sleep")
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV, DEFAULT_URL))
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.workers, args.partitions, args.batch_size = [20_000], [1, 2], 4, 1000
        args.batch_delay = 0.2
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args)
        return 0
    if args.work:
        work(args)
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
