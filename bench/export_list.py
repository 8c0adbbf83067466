"""Benchmark: a list exported as CSV through the API vs the same rows written as CSV by the raw
driver, on SQLite and PostgreSQL.

    .venv/bin/python bench/export_list.py [--rows 1000000] [--backend sqlite|postgresql|both]
        [--database-url URL] [--quick]

The table ``export_rows`` (id, name, status, amount, created_at, note) holds ``--rows`` rows
(SQLite: a file in a temporary directory; PostgreSQL: the database ``actiondesk_bench_export``
on the server of ``--database-url``, built once and reused while its size matches). The desk
runs in its own uvicorn process (``bench/serve_desk.py``); the benchmark downloads
``GET /api/collections/export_rows/records.csv`` with a streaming httpx client, for every row
and for a tenth of them (``id <= rows/10``), and the raw side does the same reads in a
subprocess of its own (sqlite3 ``fetchmany`` / an asyncpg cursor, batches of 2,000, Python's
``csv`` writer, the bytes piped to the benchmark).

Prints rows/s of each side and the API/raw ratio, and each process's peak memory growth during
the export (peak RSS minus RSS before it): flat memory means the growth does not follow the
number of rows. A report: exit code 0 whatever the figures, 2 when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SECRET_KEY,
    SetupError,
    add_database_url,
    bearer,
    connect,
    memory_kib,
    mib,
    positive_int,
    postgresql_url,
    reset_peak,
    server_process,
    wait_until_ready,
    with_database,
)

HERE = Path(__file__).resolve().parent
TABLE = "export_rows"
DATABASE = "actiondesk_bench_export"
BATCH = 2000
COLUMNS = "id, name, status, amount, created_at, note"
PG_FILL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint NOT NULL, name text NOT NULL, status text NOT NULL,
                      amount numeric(12, 2) NOT NULL, created_at timestamp NOT NULL, note text);
INSERT INTO {TABLE}
SELECT g, 'row ' || g, (ARRAY['live','draft','archived','deleted'])[1 + (g % 4)::int],
       ((g * 7919) % 1000000) / 100.0, TIMESTAMP '2024-01-01' + make_interval(secs => g),
       CASE WHEN g % 3 = 0 THEN NULL ELSE '=note ' || g END
FROM generate_series(1::bigint, {{rows}}) AS g;
ALTER TABLE {TABLE} ADD PRIMARY KEY (id);
"""
SQLITE_FILL = f"""
CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
                      amount NUMERIC(12, 2) NOT NULL, created_at DATETIME NOT NULL, note TEXT);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {{rows}})
INSERT INTO {TABLE}
SELECT n, 'row ' || n, CASE n % 4 WHEN 0 THEN 'live' WHEN 1 THEN 'draft'
       WHEN 2 THEN 'archived' ELSE 'deleted' END, ((n * 7919) % 1000000) / 100.0,
       datetime('2024-01-01', '+' || n || ' seconds'),
       CASE WHEN n % 3 = 0 THEN NULL ELSE '=note ' || n END
FROM g;
"""


@dataclass
class Measure:
    rows: int
    seconds: float
    growth_kib: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# -- the raw side (run as a subprocess of its own: its memory is its own) ----------------------


def raw_export(url: str, upto: int) -> None:
    """Write the rows with id <= upto as CSV to stdout; then, to stderr, the RSS before, the
    peak RSS during, and the time it took."""
    with open(sys.stdout.fileno(), "w", buffering=1 << 16, newline="", closefd=False) as out:
        _write_rows(url, upto, out)


def _write_rows(url: str, upto: int, out: Any) -> None:
    writer = csv.writer(out)
    reset_peak(os.getpid())
    before = memory_kib(os.getpid())["VmRSS"]
    started = time.perf_counter()
    writer.writerow(COLUMNS.split(", "))
    sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE id <= {upto} ORDER BY id"
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        cursor = conn.execute(sql)
        while rows := cursor.fetchmany(BATCH):
            writer.writerows(rows)
        conn.close()
    else:
        async def read() -> None:
            conn = await connect(url)
            async with conn.transaction():
                async for row in conn.cursor(sql, prefetch=BATCH):
                    writer.writerow(row)
            await conn.close()

        asyncio.run(read())
    out.flush()
    seconds = time.perf_counter() - started
    peak = memory_kib(os.getpid())["VmHWM"]
    print(json.dumps({"before": before, "peak": peak, "seconds": seconds}), file=sys.stderr)


def measure_raw(url: str, upto: int) -> Measure:
    process = subprocess.Popen(  # noqa: S603 - our interpreter and our script
        [sys.executable, __file__, "--raw", url, "--upto", str(upto)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: process.stdout.read(1 << 16), b""))
    err = process.stderr.read().decode() if process.stderr else ""
    if process.wait() != 0:
        raise SetupError(f"the raw export failed: {err[-500:]}")
    # Timed by the subprocess itself: its start-up is not the export's.
    memory = json.loads(err.strip().splitlines()[-1])
    return Measure(lines - 1, memory["seconds"], memory["peak"] - memory["before"])


# -- the actiondesk side ------------------------------------------------------------------------


async def provision(data_url: str, state_url: str) -> str:
    from actiondesk import Desk
    from actiondesk.permissions.service import RoleSpec

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE])
    await desk.start()
    try:
        await desk.permissions.put_role(RoleSpec("exporter", read_all=True, can_export=True))
        user = await desk.users.by_email("export@bench.example") or await desk.users.create(
            "export@bench.example", role="exporter")
        return desk.tokens.access(user, dt.timedelta(hours=2))
    finally:
        await desk.stop()


async def measure_api(base: str, token: str, pid: int, upto: int) -> Measure:
    params = {"filter": json.dumps({"field": "id", "operator": "less_than_or_equal",
                                    "value": upto})}
    before = memory_kib(pid)["VmRSS"]
    reset_peak(pid)
    lines = 0
    async with httpx.AsyncClient(base_url=base, headers=bearer(token), timeout=600) as client:
        started = time.perf_counter()
        async with client.stream("GET", f"/api/collections/{TABLE}/records.csv",
                                 params=params) as response:
            if response.status_code != 200:
                raise SetupError(f"export answered {response.status_code}: "
                                 f"{(await response.aread())[:300]!r}")
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    return Measure(lines - 1, seconds, memory_kib(pid)["VmHWM"] - before)


def run_backend(data_url: str, rows: int, workdir: Path) -> list[tuple[str, Measure, Measure]]:
    state_url = f"sqlite:///{workdir / 'state.db'}"
    token = asyncio.run(provision(data_url, state_url))
    env = {**os.environ, "ACTIONDESK_DATABASE_URL": data_url}
    results = []
    with server_process(HERE / "serve_desk.py", "--port",
                        ["--state-url", state_url, "--include", TABLE], workdir,
                        env=env) as (base, process):
        async def ready() -> None:
            async with httpx.AsyncClient(base_url=base, headers=bearer(token)) as client:
                await wait_until_ready(client, process, "/api/me")

        asyncio.run(ready())
        asyncio.run(measure_api(base, token, process.pid, min(rows, 1000)))  # warm-up
        for label, upto in ((f"{rows // 10:,} rows", rows // 10), (f"{rows:,} rows", rows)):
            api = asyncio.run(measure_api(base, token, process.pid, upto))
            raw = measure_raw(data_url, upto)
            if api.rows != upto or raw.rows != upto:
                raise SetupError(f"expected {upto} rows, got {api.rows} (API), {raw.rows} (raw)")
            results.append((label, api, raw))
    return results


def prepare_sqlite(workdir: Path, rows: int) -> str:
    path = workdir / "export.db"
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_FILL.format(rows=rows))
    conn.close()
    return f"sqlite:///{path}"


async def prepare_postgresql(url: str, rows: int) -> str:
    plain = postgresql_url(url)
    admin = await connect(plain.render_as_string(hide_password=False))
    try:
        if not await admin.fetchval("SELECT EXISTS (SELECT 1 FROM pg_database "
                                    "WHERE datname = $1)", DATABASE):
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    dsn = with_database(plain, DATABASE)
    conn = await connect(dsn)
    try:
        found = await conn.fetchval(f"SELECT to_regclass('{TABLE}') IS NOT NULL")
        if not found or await conn.fetchval(f"SELECT count(*) FROM {TABLE}") != rows:
            print(f"building {TABLE} with {rows:,} rows", flush=True)
            await conn.execute(PG_FILL.format(rows=rows))
            await conn.execute(f"ANALYZE {TABLE}")
    finally:
        await conn.close()
    return dsn


def report(backend: str, results: list[tuple[str, Measure, Measure]]) -> None:
    print(f"\n{backend}")
    head = (f"{'export':<16} {'API rows/s':>12} {'raw rows/s':>12} {'API/raw':>8} "
            f"{'API peak +MiB':>14} {'raw peak +MiB':>14}")
    print(head)
    print("-" * len(head))
    for label, api, raw in results:
        print(f"{label:<16} {api.rate:>12,.0f} {raw.rate:>12,.0f} {api.rate / raw.rate:>7.2f}x "
              f"{mib(api.growth_kib):>14} {mib(raw.growth_kib):>14}")
    (_, small, _), (_, large, _) = results
    print(f"API peak growth, {len(results) and 'all rows vs a tenth'}: "
          f"{mib(large.growth_kib)} vs {mib(small.growth_kib)} MiB "
          f"({'flat' if large.growth_kib <= 1.2 * small.growth_kib + 4096 else 'GROWS'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=positive_int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20,000 rows on SQLite")
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    parser.add_argument("--upto", type=int, help=argparse.SUPPRESS)
    add_database_url(parser, "postgresql://postgres@127.0.0.1:5432/test",
                     f"the table goes in the database {DATABASE}")
    args = parser.parse_args()
    if args.raw:
        raw_export(args.raw, args.upto)
        return 0
    if args.quick:
        args.rows, args.backend = 20_000, "sqlite"
    try:
        with tempfile.TemporaryDirectory(prefix="actiondesk-export-") as folder:
            workdir = Path(folder)
            if args.backend in ("sqlite", "both"):
                print(f"SQLite: building {TABLE} with {args.rows:,} rows", flush=True)
                report("SQLite", run_backend(prepare_sqlite(workdir, args.rows), args.rows,
                                             workdir))
            if args.backend in ("postgresql", "both"):
                dsn = asyncio.run(prepare_postgresql(args.database_url, args.rows))
                (workdir / "pg").mkdir()
                report("PostgreSQL", run_backend(dsn, args.rows, workdir / "pg"))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
