"""Benchmark: a trivial single-record action through HTTP vs a bare endpoint, same server.

    .venv/bin/python bench/action_single.py [--seconds 10] [--concurrency 8] [--rounds 3]
                                            [--warmup 3] [--database-url URL] [--sqlite]

One ASGI app in one uvicorn process (a subprocess on a free loopback port): a FastAPI host
with a bare route ``POST /bare/{id}`` running ``UPDATE bench_single SET counter = counter + 1
WHERE id = :id`` through its own SQLAlchemy ``AsyncEngine``, and a ``Desk`` mounted at
``/desk`` whose single action ``Bump`` runs the same UPDATE through ``ctx.async_db`` and
``ctx.selection.where``. The action path pays for everything actiondesk does per run: parse
the JSON:API body, authenticate the bearer token (the caller's user is read from the state
database), check the permissions, resolve and count the selection, check conditions, and
write the runs audit (one row on begin, updated on finish) in the state database. The caller
is a user of a role ``bench`` with a ``trigger`` policy on the action, provisioned (with its
token) before the server starts; the bare route ignores the token.

The client (this process) is an httpx.AsyncClient with ``--concurrency`` workers sending
requests for ``--seconds`` per phase, on random ids of the 1,000 rows; bare and actiondesk
phases alternate (ABBA order over ``--rounds`` rounds) after a warm-up of each, so drift hits
both. Prints requests/s, p50/p99 latency and CPU per request of each phase and in total, and
the ratio actiondesk/bare of the throughputs against the target (at least 0.7x).

PostgreSQL (default): data in the database ``actiondesk_bench`` (created if absent; the table
``bench_single`` is rebuilt on every run) and actiondesk's state (runs audit, users) in
``actiondesk_bench_state``, dropped and created anew on every run, on the server of
``--database-url``. ``--sqlite``: the same with two SQLite files in a temporary directory.

A report, not a test: the exit code is 0 whether or not the target is met, non-zero only
when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from _common import (
    BENCH_DATABASE,
    SECRET_KEY,
    STATE_DATABASE,
    SetupError,
    add_database_url,
    add_serve_options,
    bearer,
    create_databases,
    percentile,
    positive_float,
    positive_int,
    postgresql_url,
    print_table_head,
    provision,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
    with_database,
)
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

HERE = Path(__file__).resolve()
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = "bench_single"
ROWS = 1000
TARGET_RATIO = 0.7
REQUEST_TIMEOUT_S = 60.0

ACTION_SLUG = "bump"

BARE = "bare"
DESK = "actiondesk"
DESK_PATH = f"/desk/api/collections/{TABLE}/actions/{ACTION_SLUG}"
UPDATE_SQL = f"UPDATE {TABLE} SET counter = counter + 1 WHERE id = :id"


# ---------------------------------------------------------------------------------------------
# The server (runs in the subprocess: ``action_single.py --serve-port PORT ...``)


def build_app(data_url: str, state_url: str) -> FastAPI:
    """The host app: the bare route and the desk mounted at /desk, one process, one loop."""
    from actiondesk import ActionContext, Desk, Success
    from actiondesk.data.urls import to_async_url

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE])

    @desk.action(TABLE, name="Bump")
    async def bump(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        table = ctx.selection.collection.table
        async with ctx.async_db.begin() as conn:
            await conn.execute(
                sa.update(table).where(ctx.selection.where).values(counter=table.c.counter + 1)
            )
        return Success("ok")

    # The bare side: what a developer would write by hand, on its own engine (default pool).
    engine = create_async_engine(to_async_url(data_url))
    update = sa.text(UPDATE_SQL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A mounted app gets no lifespan events: start the desk here rather than on the
        # first request, so neither side pays for it inside a timed phase.
        await desk.start()
        try:
            yield
        finally:
            await desk.stop()
            await engine.dispose()

    host = FastAPI(lifespan=lifespan)

    @host.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @host.post("/bare/{record_id}")
    async def bare(record_id: int) -> dict[str, str]:
        async with engine.begin() as conn:
            await conn.execute(update, {"id": record_id})
        return {"success": "ok"}

    host.mount("/desk", desk)
    return host


def serve(port: int, data_url: str, state_url: str) -> None:
    import uvicorn

    stop_when_orphaned()
    app = build_app(data_url, state_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Setup: databases, data set, server process


@dataclass(frozen=True)
class Target:
    """Where the data and the runs audit live, as the server sees them and as we do."""

    backend: str
    version: str
    data_url: str
    state_url: str


def _engine(url: str, *, autocommit: bool = False) -> AsyncEngine:
    from actiondesk.data.urls import to_async_url

    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    return create_async_engine(to_async_url(url), **options)


async def prepare_postgresql(url: str) -> Target:
    plain = postgresql_url(url)
    data_url = with_database(plain, BENCH_DATABASE)
    state_url = with_database(plain, STATE_DATABASE)
    version = await create_databases(
        plain.render_as_string(hide_password=False), fresh_state=True
    )

    data = _engine(data_url, autocommit=True)
    try:
        async with data.connect() as conn:
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            await conn.execute(sa.text(
                f"CREATE TABLE {TABLE} (id int PRIMARY KEY, counter int NOT NULL DEFAULT 0)"
            ))
            await conn.execute(
                sa.text(f"INSERT INTO {TABLE} (id) SELECT generate_series(1, {ROWS})")
            )
            await conn.execute(sa.text(f"VACUUM ANALYZE {TABLE}"))
    finally:
        await data.dispose()

    return Target("PostgreSQL", version, data_url, state_url)


async def prepare_sqlite(workdir: Path) -> Target:
    import sqlite3

    data_url = f"sqlite:///{workdir / 'data.db'}"
    data = _engine(data_url)
    try:
        async with data.begin() as conn:
            await conn.execute(sa.text(
                f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, counter integer NOT NULL "
                "DEFAULT 0)"
            ))
            await conn.execute(sa.text(
                f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < "
                f"{ROWS}) INSERT INTO {TABLE} (id) SELECT n FROM g"
            ))
    finally:
        await data.dispose()
    return Target("SQLite", sqlite3.sqlite_version, data_url,
                  f"sqlite:///{workdir / 'state.db'}")


async def counter_sum(target: Target) -> int:
    engine = _engine(target.data_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.text(f"SELECT sum(counter) FROM {TABLE}")) or 0)
    finally:
        await engine.dispose()


async def runs_recorded(target: Target) -> int:
    engine = _engine(target.state_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.text("SELECT count(*) FROM actiondesk_runs")) or 0)
    finally:
        await engine.dispose()


@contextmanager
def server(target: Target, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """This script in ``--serve-port`` mode (uvicorn) in its own process; always stopped."""
    options = ["--data-url", target.data_url, "--state-url", target.state_url]
    with server_process(HERE, "--serve-port", options, workdir) as started:
        yield started


# ---------------------------------------------------------------------------------------------
# Measurement


def desk_body(record_id: int) -> bytes:
    document = {"data": {"type": "custom-action-requests",
                         "attributes": {"ids": [str(record_id)]}}}
    return json.dumps(document, separators=(",", ":")).encode()


BODIES = {i: desk_body(i) for i in range(1, ROWS + 1)}
JSON_HEADERS = {"content-type": "application/json"}


async def send(client: httpx.AsyncClient, side: str, record_id: int) -> httpx.Response:
    if side == BARE:
        return await client.post(f"/bare/{record_id}")
    return await client.post(DESK_PATH, content=BODIES[record_id], headers=JSON_HEADERS)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    # utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "(comm) ".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle (from /proc/stat), to see what else was busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process so far, including backends already gone (the
    postmaster's reaped children): over a phase, the delta is what the database server spent,
    for this benchmark and anything else it served meanwhile. 0 when PostgreSQL is not here."""
    found: dict[int, tuple[int, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        if stat[stat.index("(") + 1:stat.rindex(")")] != "postgres":
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # After "(comm) ": state ppid ... utime stime cutime cstime at 11, 12, 13, 14.
        found[int(entry.name)] = (
            int(fields[1]),
            float(int(fields[11]) + int(fields[12])),
            float(int(fields[13]) + int(fields[14])),
        )
    total = 0.0
    for ppid, own, children in found.values():
        total += own
        if ppid not in found:  # the postmaster: add its reaped backends
            total += children
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    side: str
    label: str
    elapsed_s: float = 0.0
    ok: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    database_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0
    sessions: int = 0
    transactions: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


class Probe:
    """What the database side did during a phase (PostgreSQL only): how many sessions were
    opened in the benchmark's databases (pool churn) and how many transactions ran."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.databases = (BENCH_DATABASE, STATE_DATABASE) if target.backend == "PostgreSQL" \
            else ()
        self.engine = _engine(target.data_url, autocommit=True) if self.databases else None

    async def counters(self) -> tuple[int, int]:
        """(sessions opened, transactions ended) so far in the benchmark's databases."""
        if self.engine is None:
            return 0, 0
        async with self.engine.connect() as conn:
            # Each statement is its own transaction here, so the statistics are fresh.
            found = (await conn.execute(
                sa.text("SELECT sum(sessions), sum(xact_commit + xact_rollback) "
                        "FROM pg_stat_database WHERE datname = ANY(:d)"),
                {"d": list(self.databases)},
            )).one()
        return int(found[0] or 0), int(found[1] or 0)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()


async def run_phase(
    client: httpx.AsyncClient, side: str, label: str, seconds: float, concurrency: int,
    server_pid: int, probe: Probe,
) -> Phase:
    phase = Phase(side, label)
    deadline = time.perf_counter() + seconds

    async def worker(rng: random.Random) -> None:
        while time.perf_counter() < deadline:
            record_id = rng.randint(1, ROWS)
            started = time.perf_counter()
            try:
                response = await send(client, side, record_id)
            except httpx.HTTPError as exc:
                problem = repr(exc)
            else:
                if response.status_code == 200:
                    phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                    phase.ok += 1
                    continue
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
            phase.errors += 1
            phase.first_error = phase.first_error or problem

    sessions, transactions = await probe.counters()
    database_cpu = postgres_cpu_s if probe.databases else (lambda: 0.0)
    cpu_server, cpu_client, cpu_database, cpu_all = (
        process_cpu_s(server_pid), time.process_time(), database_cpu(), machine_busy_s()
    )
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker(random.Random()))
    phase.elapsed_s = time.perf_counter() - started
    phase.server_cpu_s = process_cpu_s(server_pid) - cpu_server
    phase.client_cpu_s = time.process_time() - cpu_client
    phase.machine_cpu_s = machine_busy_s() - cpu_all
    phase.database_cpu_s = database_cpu() - cpu_database
    if probe.databases:
        await asyncio.sleep(1.1)  # backends flush their statistics about once a second
        sessions_after, transactions_after = await probe.counters()
        # Less the one statement of the probe itself.
        phase.sessions = sessions_after - sessions
        phase.transactions = transactions_after - transactions - 1
    return phase


async def check_both_update(client: httpx.AsyncClient, target: Target) -> None:
    """Each side must add exactly one to the counter, or the comparison means nothing."""
    for side in (BARE, DESK):
        before = await counter_sum(target)
        response = await send(client, side, 1)
        if response.status_code != 200 or response.json() != {"success": "ok"}:
            raise SetupError(f"{side} answered {response.status_code}: {response.text[:300]}")
        after = await counter_sum(target)
        if after != before + 1:
            raise SetupError(f"{side} changed the counters by {after - before}, not 1")


@dataclass
class Measurement:
    phases: list[Phase]
    sent_ok: int
    counted: int
    runs: int


async def measure(
    base_url: str, process: subprocess.Popen[bytes], target: Target, token: str,
    args: argparse.Namespace,
) -> Measurement:
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S,
                                 headers=bearer(token)) as client:
        await wait_until_ready(client, process, "/ready", name="the server")
        await check_both_update(client, target)
        probe = Probe(target)
        sent_ok = 2
        start_sum = await counter_sum(target)
        for side in (BARE, DESK):
            print(f"warming up {side} for {args.warmup:g} s", flush=True)
            warm = await run_phase(client, side, "warm-up", args.warmup, args.concurrency,
                                   process.pid, probe)
            sent_ok += warm.ok
            if warm.errors:
                print(f"  {warm.errors} errors in warm-up, first: {warm.first_error}")
        phases: list[Phase] = []
        for number in range(1, args.rounds + 1):
            order = (BARE, DESK) if number % 2 else (DESK, BARE)
            for side in order:
                print(f"round {number}: {side} for {args.seconds:g} s", flush=True)
                phase = await run_phase(client, side, f"round {number}", args.seconds,
                                        args.concurrency, process.pid, probe)
                phases.append(phase)
                sent_ok += phase.ok
        await probe.close()
    counted = await counter_sum(target) - start_sum + 2
    return Measurement(phases, sent_ok, counted, await runs_recorded(target))


# ---------------------------------------------------------------------------------------------
# Report


def total(phases: Sequence[Phase], side: str) -> Phase:
    combined = Phase(side, "all rounds")
    for phase in phases:
        if phase.side != side:
            continue
        combined.elapsed_s += phase.elapsed_s
        combined.ok += phase.ok
        combined.errors += phase.errors
        combined.first_error = combined.first_error or phase.first_error
        combined.latencies_ms.extend(phase.latencies_ms)
        combined.server_cpu_s += phase.server_cpu_s
        combined.client_cpu_s += phase.client_cpu_s
        combined.database_cpu_s += phase.database_cpu_s
        combined.machine_cpu_s += phase.machine_cpu_s
        combined.sessions += phase.sessions
        combined.transactions += phase.transactions
    return combined


def row(phase: Phase) -> str:
    per = 1000 / phase.ok if phase.ok else float("nan")
    other = phase.machine_cpu_s - phase.server_cpu_s - phase.client_cpu_s - phase.database_cpu_s
    return (
        f"{phase.label:<11} {phase.side:<11} {phase.rate:>7.1f} "
        f"{percentile(phase.latencies_ms, 50):>7.2f} {percentile(phase.latencies_ms, 99):>7.2f} "
        f"{phase.server_cpu_s * per:>7.3f} {phase.database_cpu_s * per:>7.3f} "
        f"{phase.client_cpu_s * per:>7.3f} {phase.transactions / max(phase.ok, 1):>6.1f} "
        f"{phase.sessions:>5} {100 * other / phase.elapsed_s:>6.0f}% {phase.errors:>6}"
    )


def report(result: Measurement, target: Target, args: argparse.Namespace) -> None:
    print()
    print("actiondesk single-record action vs a bare endpoint: one-row UPDATE, same server")
    print(
        f"{target.backend} {target.version} | {ROWS:,} rows | {args.concurrency} concurrent "
        f"clients | {args.rounds} rounds x {args.seconds:g} s per side (ABBA), after "
        f"{args.warmup:g} s warm-up each | {os.cpu_count()} CPUs (client, server and database "
        "share them) | one uvicorn process (h11, asyncio) | actiondesk calls carry a bearer "
        "token"
    )
    print()
    header = (
        f"{'phase':<11} {'side':<11} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server':>7} {'db':>7} {'client':>7} {'xacts':>6} {'conns':>5} {'other':>7} "
        f"{'errors':>6}"
    )
    print(
        "server / db / client: CPU ms per request of the uvicorn process, of PostgreSQL (all\n"
        "its processes, so any other use of it counts too) and of this process. xacts:\n"
        "database transactions per request; conns: connections opened during the phase (pool\n"
        "churn); other: CPU of everything else on the machine, in % of one core (kernel,\n"
        "other work: noise if high)."
    )
    print_table_head(header)
    for phase in result.phases:
        print(row(phase))
    print("-" * len(header))
    bare, desk = total(result.phases, BARE), total(result.phases, DESK)
    print(row(bare))
    print(row(desk))
    print()
    for phase in (bare, desk):
        if phase.errors:
            print(f"{phase.side}: {phase.errors} failed requests, first: {phase.first_error}")
    ratio = desk.rate / bare.rate if bare.rate else float("nan")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"throughput actiondesk/bare: {ratio:.2f}x ({verdict} the >= {TARGET_RATIO}x target); "
        f"per-round ratios: "
        + ", ".join(
            f"{d.rate / b.rate:.2f}"
            for b, d in zip(
                [p for p in result.phases if p.side == BARE],
                [p for p in result.phases if p.side == DESK],
                strict=True,
            )
        )
    )
    if bare.ok and desk.ok:
        print(
            f"server CPU per request: bare {bare.server_cpu_s / bare.ok * 1000:.3f} ms, "
            f"actiondesk {desk.server_cpu_s / desk.ok * 1000:.3f} ms "
            f"({desk.server_cpu_s / desk.ok / (bare.server_cpu_s / bare.ok):.2f}x)"
        )
    check = "ok" if result.counted == result.sent_ok else "MISMATCH"
    print(
        f"check: {result.sent_ok:,} successful requests, counters grew by {result.counted:,} "
        f"({check}); {result.runs:,} runs recorded in the audit"
    )


# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput of a one-row UPDATE action through actiondesk vs a bare "
        "endpoint on the same server, same run; prints the ratio (target >= 0.7x)."
    )
    parser.add_argument("--seconds", type=positive_float, default=10.0,
                        help="length of each timed phase (default 10)")
    parser.add_argument("--concurrency", type=positive_int, default=8,
                        help="concurrent client workers (default 8)")
    parser.add_argument("--rounds", type=positive_int, default=3,
                        help="timed phases per side, interleaved (default 3)")
    parser.add_argument("--warmup", type=positive_float, default=3.0,
                        help="untimed seconds per side first (default 3)")
    add_database_url(parser, DEFAULT_DATABASE_URL,
                     f"the data go in {BENCH_DATABASE}, the runs audit in {STATE_DATABASE}")
    parser.add_argument("--sqlite", action="store_true",
                        help="use two SQLite files in a temporary directory instead")
    add_serve_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args.data_url, args.state_url)
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as tmp:
            workdir = Path(tmp)
            if args.sqlite:
                target = asyncio.run(prepare_sqlite(workdir))
            else:
                target = asyncio.run(prepare_postgresql(args.database_url))
            print(f"{target.backend} {target.version}: {ROWS:,} rows in {TABLE}", flush=True)
            token = asyncio.run(
                provision(target.data_url, target.state_url, TABLE, [ACTION_SLUG])
            )
            with server(target, workdir) as (base_url, process):
                result = asyncio.run(measure(base_url, process, target, token, args))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    report(result, target, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
