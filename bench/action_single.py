"""Benchmark: one audited "mark as live" action on one random record, measured from outside
against a raw-driver floor and a hand-written audited endpoint in the same run (issue 15).

    .venv/bin/python bench/action_single.py [--backend sqlite|postgresql|both] [--seconds 10]
        [--rounds 3] [--warmup 3] [--concurrency 8 32] [--statement-actions 200] [--quick]
        [--database-url URL] [--json PATH]

Per backend, every system (see ``_single_systems.py``) runs in its own uvicorn process
(uvloop, httptools) pinned to core 0 with ``taskset -c 0``; the load generator is ``wrk``
(one thread) pinned to core 1, with ``action_single.lua``: a POST of the Forest JSON:API body
with a bearer token, on a random id of 10,000 records chosen in Lua per request.

- SQLite: one data file in WAL; the floor (bare Starlette + aiosqlite), the hand-written
  audited endpoint with its state file at ``synchronous=FULL`` and at ``NORMAL``, actiondesk
  with its default SQLite state file.
- PostgreSQL (``--database-url``'s server, PostgreSQL itself unpinned): the database
  ``actiondesk_bench_single`` made fresh and dropped at the end; the floor (bare Starlette +
  asyncpg pool), the hand-written endpoint (its runs table in the same database) and
  actiondesk with data and state in that database.

Every round runs every system at every concurrency for ``--seconds``, the systems' order
rotating from round to round; the ratios to the floor and to the hand-written endpoint
(SQLite: the one at actiondesk's default ``synchronous=NORMAL``) are taken within a round,
then the median over rounds. After each wrk run the sum of the ``marks`` column is read
back: it must have grown by at least the number of 2xx answers (a loud MISMATCH otherwise).
Server CPU per request comes from ``/proc/<pid>/stat`` (all its threads). SQL statements per
action are counted separately, in this process, on the same apps (see ``_statements.py``).

Prints a table per backend and concurrency, a summary like the issue's, and writes it all to
``test-artifacts/bench/action_single.json`` with the machine, the date and the git commit.
A report, not a test: exit code 0 whatever the figures, 2 when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SetupError,
    add_database_url,
    bearer,
    connect,
    positive_int,
    postgresql_url,
    provision,
    server_process,
    with_database,
)
from _single_systems import (
    ACTION_PATH,
    SLUG,
    TABLE,
    build_app,
    create_postgresql_data,
    create_sqlite_data,
    create_sqlite_state,
    handwritten_token,
)
from _statements import PgWireCounter, Tally, sqlite_trace
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
SYSTEMS_SCRIPT = HERE.parent / "_single_systems.py"
LUA_SCRIPT = HERE.parent / "action_single.lua"
DEFAULT_JSON = ROOT / "test-artifacts" / "bench" / "action_single.json"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "actiondesk_bench_single"
ROWS = 10_000
SERVER_CORE, WRK_CORE = "0", "1"
START_TIMEOUT_S = 60.0
COUNT_CONCURRENCY = 8
LOG_DIR = "action_single-logs"  # next to the JSON
BODY = '{{"data":{{"type":"custom-action-requests","attributes":{{"ids":["{}"],"values":{{}}}}}}}}'


@dataclass(frozen=True)
class System:
    key: str
    label: str
    kind: str  # floor | handwritten | actiondesk
    synchronous: str | None = None
    update_with: str = "driver"  # the hand-written UPDATE: raw driver or SQLAlchemy Core


FLOOR = "floor"
# The hand-written endpoint actiondesk is held to ("x hand-written"): on SQLite the one whose
# state file has actiondesk's default durability (WAL, synchronous=NORMAL).
HANDWRITTEN_REFERENCE = {"sqlite": "handwritten-normal", "postgresql": "handwritten"}
# The same endpoint with its UPDATE sent as an actiondesk handler sends it (SQLAlchemy Core on
# an AsyncEngine): the framework's own cost, apart from the handler API's.
HANDWRITTEN_SA = "handwritten-sa"
SQLITE_SYSTEMS = (
    System(FLOOR, "bare Starlette + aiosqlite (floor)", "floor"),
    System("handwritten-full", "hand-written audited, state synchronous=FULL", "handwritten",
           "FULL"),
    System("handwritten-normal", "hand-written audited, state synchronous=NORMAL",
           "handwritten", "NORMAL"),
    System("handwritten-sa", "hand-written audited, NORMAL, UPDATE via SQLAlchemy Core",
           "handwritten", "NORMAL", "sqlalchemy"),
    System("actiondesk", "actiondesk (bearer token, policy, audit)", "actiondesk"),
)
POSTGRESQL_SYSTEMS = (
    System(FLOOR, "bare Starlette + asyncpg pool (floor)", "floor"),
    System("handwritten", "hand-written audited, state table in PostgreSQL", "handwritten"),
    System("handwritten-sa", "hand-written audited, UPDATE via SQLAlchemy Core",
           "handwritten", None, "sqlalchemy"),
    System("actiondesk", "actiondesk (bearer token, policy, audit)", "actiondesk"),
)


@dataclass(frozen=True)
class Backend:
    name: str  # sqlite | postgresql
    version: str
    data_url: str
    state_urls: dict[str, str]  # per system key
    systems: tuple[System, ...]

    @property
    def title(self) -> str:
        return f"{'SQLite' if self.name == 'sqlite' else 'PostgreSQL'} {self.version}"


# ---------------------------------------------------------------------------------------------
# Setup


def ensure_tools() -> None:
    """taskset, two cores, wrk (installed with apt-get when missing), uvloop and httptools
    (the ``bench`` extra, installed with pip when missing)."""
    if shutil.which("taskset") is None:
        raise SetupError("taskset is missing (Debian package util-linux)")
    if not {0, 1} <= os.sched_getaffinity(0):
        raise SetupError("cores 0 and 1 must both be usable (server on 0, wrk on 1)")
    if shutil.which("wrk") is None:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        command = [*sudo, "apt-get", "install", "-y", "wrk"]
        print(f"wrk is missing: installing it with `{' '.join(command)}`", flush=True)
        if subprocess.run(command, check=False).returncode != 0 or not shutil.which("wrk"):  # noqa: S603
            raise SetupError("could not install wrk: run `apt-get install -y wrk` as root")
    if not all(importlib.util.find_spec(m) for m in ("uvloop", "httptools")):
        command = [sys.executable, "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]"]
        print("uvloop / httptools are missing: installing the bench extra with "
              f"`{' '.join(command)}`", flush=True)
        if subprocess.run(command, check=False).returncode != 0:  # noqa: S603
            raise SetupError("could not install the bench extra: pip install -e '.[bench]'")


@asynccontextmanager
async def sqlite_backend(workdir: Path) -> AsyncIterator[Backend]:
    data = workdir / "data.db"
    create_sqlite_data(str(data), ROWS)
    states = {FLOOR: f"sqlite:///{data}"}
    for system in SQLITE_SYSTEMS:
        if system.kind == "handwritten":
            path = workdir / f"{system.key}-state.db"
            create_sqlite_state(str(path))
            states[system.key] = f"sqlite:///{path}"
    states["actiondesk"] = f"sqlite:///{workdir / 'actiondesk-state.db'}"
    yield Backend("sqlite", sqlite3.sqlite_version, f"sqlite:///{data}", states, SQLITE_SYSTEMS)


@asynccontextmanager
async def postgresql_backend(database_url: str) -> AsyncIterator[Backend]:
    plain = postgresql_url(database_url)
    admin = await connect(plain.render_as_string(hide_password=False))
    data_url = with_database(plain, PG_DATABASE)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        version: str = await admin.fetchval("SHOW server_version")
        conn = await connect(data_url)
        try:
            await create_postgresql_data(conn, ROWS)
        finally:
            await conn.close()
        states = {system.key: data_url for system in POSTGRESQL_SYSTEMS}
        yield Backend("postgresql", version, data_url, states, POSTGRESQL_SYSTEMS)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        await admin.close()


class Marks:
    """The sum of ``marks`` over the table: how many updates really happened."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def total(self) -> int:
        if self.backend.name == "sqlite":
            path = make_url(self.backend.data_url).database or ""
            with sqlite3.connect(path, isolation_level=None) as conn:
                return int(conn.execute(f"SELECT sum(marks) FROM {TABLE}").fetchone()[0])
        conn = await connect(self.backend.data_url)
        try:
            return int(await conn.fetchval(f"SELECT sum(marks) FROM {TABLE}"))
        finally:
            await conn.close()

    async def settled(self) -> int:
        """The total once requests still running after the load stopped have finished."""
        last = await self.total()
        for _ in range(20):
            await asyncio.sleep(0.3)
            current = await self.total()
            if current == last:
                return current
            last = current
        return last


# ---------------------------------------------------------------------------------------------
# Servers and load


@dataclass
class Server:
    system: System
    base_url: str
    process: subprocess.Popen[bytes]
    token: str
    log: Path


@contextmanager
def servers(backend: Backend, tokens: dict[str, str], workdir: Path,
            log_dir: Path) -> Iterator[list[Server]]:
    """Every system of the backend in its own uvicorn process on core 0, its stderr in
    ``log_dir``; all stopped after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        started = []
        for system in backend.systems:
            log_path = log_dir / f"{backend.name}-{system.key}.log"
            log = stack.enter_context(log_path.open("w"))
            options = ["--system", system.kind, "--data-url", backend.data_url,
                       "--state-url", backend.state_urls[system.key]]
            if system.synchronous:
                options += ["--synchronous", system.synchronous]
            options += ["--update-with", system.update_with]
            base_url, process = stack.enter_context(server_process(
                SYSTEMS_SCRIPT, "--serve-port", options, workdir, stderr=log,
                prefix=["taskset", "-c", SERVER_CORE],
            ))
            started.append(Server(system, base_url, process, tokens[system.kind], log_path))
        yield started


async def wait_listening(server: Server) -> None:
    """uvicorn listens only once the app's start-up is done: any answer means ready."""
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise SetupError(f"{server.system.label} exited with code "
                                 f"{server.process.returncode}: "
                                 f"{server.log.read_text()[-2000:]}")
            try:
                await client.get("/")
            except httpx.TransportError:
                await asyncio.sleep(0.1)
            else:
                return
    raise SetupError(f"{server.system.label} did not start in {START_TIMEOUT_S:g} s")


async def check_marks_one(server: Server, marks: Marks) -> None:
    """One request must answer 200 and update exactly one row, or nothing else means much."""
    before = await marks.total()
    async with httpx.AsyncClient(base_url=server.base_url, headers=bearer(server.token)) as c:
        response = await c.post(ACTION_PATH, content=BODY.format(1),
                                headers={"content-type": "application/json"})
    if response.status_code != 200:
        raise SetupError(f"{server.system.label} answered {response.status_code}: "
                         f"{response.text[:300]}")
    if (grown := await marks.total() - before) != 1:
        raise SetupError(f"{server.system.label} updated {grown} rows, not 1")


async def wrk(server: Server, concurrency: int, seconds: int) -> dict[str, int]:
    """One wrk run on core 1; its ``done()`` summary."""
    env = {**os.environ, "BENCH_PATH": ACTION_PATH, "BENCH_TOKEN": server.token,
           "BENCH_ROWS": str(ROWS)}
    process = await asyncio.create_subprocess_exec(
        "taskset", "-c", WRK_CORE, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s",
        "--timeout", "10s", "--latency", "-s", str(LUA_SCRIPT), server.base_url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, int] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result
    raise SetupError(f"wrk failed (exit {process.returncode}): {output[-1000:]}")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    # utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "(comm) ".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (wrk, once reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle (from /proc/stat), to see what else was busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process so far, including backends already gone (the
    postmaster's reaped children): over a run, the delta is what the database server spent,
    for this benchmark and anything else it served meanwhile."""
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
class Sample:
    """One wrk run of one system at one concurrency."""

    system: str
    round: int
    concurrency: int
    seconds: float
    requests: int
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    wrk_cpu_s: float
    database_cpu_s: float
    machine_cpu_s: float
    marks_grown: int

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / max(self.requests, 1)

    @property
    def database_cpu_ms_per_request(self) -> float:
        return 1000 * self.database_cpu_s / max(self.requests, 1)

    @property
    def updates_match(self) -> bool:
        # Requests still in flight when wrk stopped may have updated a row too.
        return self.ok <= self.marks_grown <= self.requests + self.concurrency

    def problems(self) -> list[str]:
        found = []
        if self.non_2xx or self.socket_errors:
            found.append(f"{self.non_2xx} non-2xx answers, {self.socket_errors} socket errors")
        if not self.updates_match:
            found.append(f"MISMATCH: {self.ok} 2xx answers but {self.marks_grown} rows updated")
        if self.wrk_cpu_s > 0.9 * self.seconds:
            found.append(f"wrk used {100 * self.wrk_cpu_s / self.seconds:.0f}% of its core: the "
                         "load generator may be the limit")
        return found


async def measure(server: Server, concurrency: int, seconds: int, number: int, marks: Marks,
                  postgresql: bool) -> Sample:
    before = await marks.settled()
    database_cpu = postgres_cpu_s if postgresql else (lambda: 0.0)
    cpu, children, db, busy = (process_cpu_s(server.process.pid), children_cpu_s(),
                               database_cpu(), machine_busy_s())
    result = await wrk(server, concurrency, seconds)
    sample = Sample(
        system=server.system.key, round=number, concurrency=concurrency,
        seconds=result["duration_us"] / 1e6, requests=result["requests"],
        non_2xx=result["non_2xx_3xx"],
        socket_errors=sum(result[k] for k in ("connect_errors", "read_errors",
                                              "write_errors", "timeouts")),
        p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000,
        server_cpu_s=process_cpu_s(server.process.pid) - cpu,
        wrk_cpu_s=children_cpu_s() - children, database_cpu_s=database_cpu() - db,
        machine_cpu_s=machine_busy_s() - busy, marks_grown=0,
    )
    sample.marks_grown = await marks.settled() - before
    return sample


# ---------------------------------------------------------------------------------------------
# SQL statements per action


@dataclass
class Statements:
    per_action: float
    by_kind: dict[str, float]
    idle_per_s: int
    actions: int
    method: str


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run an ASGI app's start-up and shut-down in this process, as uvicorn would."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        await outbox.put(message)

    async def run() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    task = asyncio.create_task(run())
    await inbox.put({"type": "lifespan.startup"})
    if (answer := await outbox.get())["type"] != "lifespan.startup.complete":
        raise SetupError(f"start-up failed in process: {answer}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def send_actions(client: httpx.AsyncClient, count: int) -> None:
    gate = asyncio.Semaphore(COUNT_CONCURRENCY)

    async def one() -> None:
        async with gate:
            response = await client.post(ACTION_PATH,
                                         content=BODY.format(random.randint(1, ROWS)))
        if response.status_code != 200:
            raise SetupError(f"in-process action answered {response.status_code}: "
                             f"{response.text[:300]}")

    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(one())


async def count_with(app: ASGIApp, token: str, tally: Tally, actions: int) -> Counter[str]:
    """Statements of ``actions`` actions (8 at a time) after a warm-up; then an idle second's
    (kept under the key ``idle``)."""
    headers = {**bearer(token), "content-type": "application/json"}
    async with lifespan(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers
    ) as client:
        await send_actions(client, 2 * COUNT_CONCURRENCY)  # connections, caches, prepares
        tally.counting = True
        tally.take()
        await send_actions(client, actions)
        await asyncio.sleep(0.2)  # anything written after the answers counts too
        seen = tally.take()
        await asyncio.sleep(1.0)
        seen["idle"] = sum(tally.take().values())
        tally.counting = False
    return seen


SQLITE_METHOD = ("sqlite3 trace callback on every connection (BEGIN/COMMIT issued by the "
                 "sqlite3 module included)")
POSTGRESQL_METHOD = ("PostgreSQL wire protocol through a counting proxy: each simple Query's "
                     "statements and each extended Execute (BEGIN/COMMIT and pool resets "
                     "included)")


async def count_statements(backend: Backend, system: System, token: str,
                           actions: int) -> Statements:
    """Statements per action of one system, on the same app code, in this process."""
    tally = Tally()
    state_url = backend.state_urls[system.key]
    if backend.name == "sqlite":
        with sqlite_trace(tally):
            app = build_app(system.kind, backend.data_url, state_url, system.synchronous,
                            system.update_with)
            seen = await count_with(app, token, tally, actions)
        method = SQLITE_METHOD
    else:
        url = make_url(backend.data_url)
        proxy = PgWireCounter(url.host or "127.0.0.1", url.port or 5432, tally)
        await proxy.start()
        try:
            proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
            app = build_app(system.kind, proxied, proxied, system.synchronous,
                            system.update_with)
            seen = await count_with(app, token, tally, actions)
        finally:
            await proxy.stop()
        method = POSTGRESQL_METHOD
    idle = seen.pop("idle")
    return Statements(
        per_action=sum(seen.values()) / actions,
        by_kind={k: v / actions for k, v in seen.most_common()},
        idle_per_s=idle, actions=actions, method=method,
    )


# ---------------------------------------------------------------------------------------------
# One backend


@dataclass
class BackendResult:
    backend: Backend
    samples: list[Sample] = field(default_factory=list)
    statements: dict[str, Statements] = field(default_factory=dict)
    warm_up_problems: list[str] = field(default_factory=list)
    tracebacks: dict[str, tuple[int, Path]] = field(default_factory=dict)  # per system key


@asynccontextmanager
async def backend_named(name: str, workdir: Path, database_url: str) -> AsyncIterator[Backend]:
    factory = sqlite_backend(workdir) if name == "sqlite" else postgresql_backend(database_url)
    async with factory as backend:
        yield backend


async def run_backend(name: str, args: argparse.Namespace) -> BackendResult:
    with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as tmp:
        workdir = Path(tmp)
        async with backend_named(name, workdir, args.database_url) as backend:
            print(f"\n== {backend.title}: {ROWS:,} rows in {TABLE}", flush=True)
            tokens = {
                "actiondesk": await provision(backend.data_url, backend.state_urls["actiondesk"],
                                              TABLE, [SLUG]),
                "handwritten": handwritten_token(dt.timedelta(hours=12)),
            }
            tokens["floor"] = tokens["handwritten"]  # sent, not checked
            result = BackendResult(backend)
            marks = Marks(backend)
            with servers(backend, tokens, workdir, args.json.parent / LOG_DIR) as started:
                for server in started:
                    await wait_listening(server)
                    await check_marks_one(server, marks)
                await load(started, marks, result, args)
            for server in started:
                count = server.log.read_text().count("Traceback")
                result.tracebacks[server.system.key] = (count, server.log)
            for system in backend.systems:
                print(f"counting SQL statements: {system.label}", flush=True)
                result.statements[system.key] = await count_statements(
                    backend, system, tokens[system.kind], args.statement_actions)
    return result


async def load(started: list[Server], marks: Marks, result: BackendResult,
               args: argparse.Namespace) -> None:
    postgresql = result.backend.name == "postgresql"
    for server in started:
        print(f"warm-up {args.warmup} s: {server.system.label}", flush=True)
        warm = await measure(server, args.concurrency[0], args.warmup, 0, marks, postgresql)
        result.warm_up_problems += [f"{server.system.label}: {p}" for p in warm.problems()
                                    if "wrk used" not in p]
    for number in range(1, args.rounds + 1):
        for concurrency in args.concurrency:
            shift = (number - 1) % len(started)
            for server in started[shift:] + started[:shift]:
                sample = await measure(server, concurrency, args.seconds, number, marks,
                                       postgresql)
                result.samples.append(sample)
                print(f"round {number}/{args.rounds} c={concurrency:<3} "
                      f"{server.system.label:<50} {sample.rate:>8.1f} req/s  "
                      f"p99 {sample.p99_ms:>7.2f} ms", flush=True)
                for problem in sample.problems():
                    print(f"  WARNING: {problem}", flush=True)


# ---------------------------------------------------------------------------------------------
# Report


@dataclass
class Figures:
    """One system at one concurrency over the rounds."""

    rate: float
    rate_min: float
    rate_max: float
    to_floor: float
    to_handwritten: float  # to HANDWRITTEN_REFERENCE's system, within each round
    to_handwritten_sa: float  # to the hand-written one whose UPDATE is SQLAlchemy Core
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    database_cpu_ms: float
    wrk_percent: float
    other_percent: float
    non_2xx: int
    socket_errors: int
    updates_match: bool


def figures(result: BackendResult, system: str, concurrency: int) -> Figures:
    mine = [s for s in result.samples if s.system == system and s.concurrency == concurrency]
    floors = {s.round: s for s in result.samples
              if s.system == FLOOR and s.concurrency == concurrency}
    reference = HANDWRITTEN_REFERENCE[result.backend.name]
    handwritten = {s.round: s for s in result.samples
                   if s.system == reference and s.concurrency == concurrency}
    handwritten_sa = {s.round: s for s in result.samples
                      if s.system == HANDWRITTEN_SA and s.concurrency == concurrency}
    rates = [s.rate for s in mine]

    def med(values: Sequence[float]) -> float:
        return statistics.median(values) if values else float("nan")

    other = [100 * (s.machine_cpu_s - s.server_cpu_s - s.wrk_cpu_s - s.database_cpu_s)
             / s.seconds for s in mine]
    return Figures(
        rate=med(rates), rate_min=min(rates, default=0.0), rate_max=max(rates, default=0.0),
        to_floor=med([s.rate / floors[s.round].rate for s in mine if floors[s.round].rate]),
        to_handwritten=med([s.rate / handwritten[s.round].rate for s in mine
                            if s.round in handwritten and handwritten[s.round].rate]),
        to_handwritten_sa=med([s.rate / handwritten_sa[s.round].rate for s in mine
                               if s.round in handwritten_sa and handwritten_sa[s.round].rate]),
        p50_ms=med([s.p50_ms for s in mine]), p99_ms=med([s.p99_ms for s in mine]),
        cpu_ms=med([s.cpu_ms_per_request for s in mine]),
        database_cpu_ms=med([s.database_cpu_ms_per_request for s in mine]),
        wrk_percent=med([100 * s.wrk_cpu_s / s.seconds for s in mine]),
        other_percent=med(other),
        non_2xx=sum(s.non_2xx for s in mine), socket_errors=sum(s.socket_errors for s in mine),
        updates_match=all(s.updates_match for s in mine),
    )


def print_details(result: BackendResult, args: argparse.Namespace) -> None:
    postgresql = result.backend.name == "postgresql"
    for concurrency in args.concurrency:
        print(f"\n{result.backend.title}, c={concurrency}: {args.rounds} round(s) x "
              f"{args.seconds} s, median over rounds (min-max of req/s)")
        header = (f"{'system':<50} {'req/s':>8} {'min-max':>15} {'x floor':>8} {'x hand':>7} "
                  f"{'p50 ms':>7} "
                  f"{'p99 ms':>8} {'CPU ms':>7} " + (f"{'db ms':>6} " if postgresql else "")
                  + f"{'wrk %':>6} {'other%':>6} {'non-2xx':>7} {'rows':>5}")
        print(header)
        print("-" * len(header))
        for system in result.backend.systems:
            f = figures(result, system.key, concurrency)
            print(f"{system.label:<50} {f.rate:>8.1f} {f.rate_min:>7.0f}-{f.rate_max:<7.0f} "
                  f"{f.to_floor:>8.3f} {f.to_handwritten:>7.3f} {f.p50_ms:>7.2f} "
                  f"{f.p99_ms:>8.2f} {f.cpu_ms:>7.3f} "
                  + (f"{f.database_cpu_ms:>6.3f} " if postgresql else "")
                  + f"{f.wrk_percent:>6.0f} {f.other_percent:>6.0f} "
                  f"{f.non_2xx + f.socket_errors:>7} {'ok' if f.updates_match else 'BAD':>5}")
    reference = HANDWRITTEN_REFERENCE[result.backend.name]
    label = next(s.label for s in result.backend.systems if s.key == reference)
    print(f"x hand: to the {label!r} in the same round; "
          "CPU ms: the server process's CPU per request (all threads); " + (
        "db ms: all PostgreSQL processes' CPU per request (unpinned; anything else it serves "
        "counts too); " if postgresql else "")
          + "wrk %: the load generator's share of its core; other%: the rest of the machine "
          "(other work: noise when high); rows: every 2xx updated its row (read back).")


def summary_lines(result: BackendResult, args: argparse.Namespace) -> list[str]:
    """The issue's table, in Markdown."""
    first = args.concurrency[0]
    ratio_heads = " | ".join(f"x floor (c={c}) | x hand-written (c={c})"
                             for c in args.concurrency)
    lines = [
        f"| system | req/s (c={first}) | {ratio_heads} | p50 ms (c={first}) | "
        f"p99 ms (c={first}) | CPU ms/req (c={first}) | SQL statements per action |",
        "| --- |" + " ---: |" * (5 + 2 * len(args.concurrency)),
    ]
    for system in result.backend.systems:
        f = figures(result, system.key, first)
        ratios = " | ".join(f"{g.to_floor:.3f} | {g.to_handwritten:.3f}" for g in (
            figures(result, system.key, c) for c in args.concurrency))
        statements = result.statements.get(system.key)
        counted = f"{statements.per_action:.1f}" if statements else "-"
        lines.append(f"| {system.label} | {f.rate:,.0f} | {ratios} | {f.p50_ms:.2f} | "
                     f"{f.p99_ms:.2f} | {f.cpu_ms:.3f} | {counted} |")
    to_sa = ", ".join(f"{figures(result, 'actiondesk', c).to_handwritten_sa:.3f} at c={c}"
                      for c in args.concurrency)
    lines.append(f"\nactiondesk x the hand-written endpoint with its UPDATE in SQLAlchemy Core: "
                 f"{to_sa}")
    return lines


def print_statements(result: BackendResult) -> None:
    print(f"\nSQL statements per action, {result.backend.title}:")
    method = ""
    for system in result.backend.systems:
        counted = result.statements[system.key]
        kinds = ", ".join(f"{k} {round(v, 2):g}" for k, v in counted.by_kind.items())
        print(f"  {system.label:<50} {counted.per_action:5.2f}  ({kinds})")
        if counted.idle_per_s:
            print(f"    idle: {counted.idle_per_s} statements in the second after (background "
                  "polling; included above when it fell in the window)")
        method = counted.method
    some = next(iter(result.statements.values()))
    print(f"  counted over {some.actions} actions ({COUNT_CONCURRENCY} at a time, after a "
          f"warm-up), in this process on the same apps; {method}")


def warnings_of(result: BackendResult) -> list[str]:
    labels = {s.key: s.label for s in result.backend.systems}
    found = [f"{result.backend.title} warm-up: {p}" for p in result.warm_up_problems]
    for sample in result.samples:
        found += [f"{result.backend.title} round {sample.round} c={sample.concurrency} "
                  f"{labels[sample.system]}: {p}" for p in sample.problems()]
    return found


def git_commit() -> dict[str, Any]:
    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True,  # noqa: S603, S607
                              text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"host": platform.node(), "cpu": model, "cpus": os.cpu_count(),
            "kernel": platform.release(), "python": platform.python_version(),
            "load_average": os.getloadavg()}


def write_json(results: list[BackendResult], args: argparse.Namespace, path: Path) -> None:
    backends = []
    for result in results:
        systems = []
        for system in result.backend.systems:
            systems.append({
                "key": system.key, "label": system.label,
                "statements": asdict(result.statements[system.key]),
                "server_log_tracebacks": result.tracebacks[system.key][0],
                "by_concurrency": {str(c): asdict(figures(result, system.key, c))
                                   for c in args.concurrency},
            })
        backends.append({
            "name": result.backend.name, "version": result.backend.version,
            "systems": systems, "summary_markdown": summary_lines(result, args),
            "samples": [asdict(s) for s in result.samples],
        })
    document = {
        "benchmark": "bench/action_single.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_commit(), "machine": machine(),
        "settings": {"seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup,
                     "concurrency": args.concurrency, "rows": ROWS,
                     "statement_actions": args.statement_actions,
                     "server_core": SERVER_CORE, "wrk_core": WRK_CORE},
        "backends": backends,
        "warnings": [w for r in results for w in warnings_of(r)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="One audited 'mark as live' action: actiondesk vs a raw-driver floor and "
        "a hand-written audited endpoint, each served alone on core 0, wrk on core 1."
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=positive_int, default=10,
                        help="length of each wrk run (default 10)")
    parser.add_argument("--rounds", type=positive_int, default=3,
                        help="interleaved rounds (default 3)")
    parser.add_argument("--warmup", type=positive_int, default=3,
                        help="seconds of untimed load per system first (default 3)")
    parser.add_argument("--concurrency", type=positive_int, nargs="+", default=[8, 32],
                        help="wrk connections, each measured every round (default 8 32)")
    parser.add_argument("--statement-actions", type=positive_int, default=200,
                        help="actions run to count SQL statements per action (default 200)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 s x 1 round, 1 s warm-up, 40 counted actions")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON,
                        help="where to write the results (default test-artifacts/bench/"
                        "action_single.json)")
    add_database_url(parser, DEFAULT_DATABASE_URL,
                     f"the database {PG_DATABASE} is created there and dropped at the end")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.warmup, args.statement_actions = 2, 1, 1, 40
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = []
    try:
        ensure_tools()
        for name in names:
            result = asyncio.run(run_backend(name, args))
            results.append(result)
            print_details(result, args)
            print_statements(result)
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(f"\n{result.backend.title}: server pinned to core {SERVER_CORE}, wrk to core "
              f"{WRK_CORE}, median of {args.rounds} interleaved round(s) x {args.seconds} s")
        print("\n".join(summary_lines(result, args)))
    for result in results:
        for key, (count, path) in result.tracebacks.items():
            if count:
                print(f"note: {count} traceback(s) in the {key} server's log "
                      f"({result.backend.name}): {path}")
    problems = [w for r in results for w in warnings_of(r)]
    if problems:
        print(f"\nWARNING: {len(problems)} problem(s); these figures are not trustworthy:")
        for problem in problems:
            print(f"  WARNING: {problem}")
    write_json(results, args, args.json)
    print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
