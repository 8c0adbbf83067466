"""Benchmark: page 1 and the count of a large PostgreSQL table, through the API vs raw SQL.

    .venv/bin/python bench/records_list.py [--rows 1000000] [--requests 50] [--database-url URL]

Times ``GET /api/collections/bench_rows/records?page=1&page_size=25`` (which also counts) on a
real uvicorn server in its own process, with one keep-alive httpx client, one request at a
time; and, in the same run, the same two queries sent with asyncpg on one persistent
connection. The two sides are interleaved (a shuffled order each round) after warm-up rounds,
for all rows and for a filter on ``status = 'live'`` (a quarter of the rows).

Prints median and p95 per side and the API/raw ratio of the medians against the target
(at most 1.5x). It is a report: the exit code is 0 whether or not the target is met, and
non-zero only when the setup fails (database, data set or server).

The data set lives in its own database, ``actiondesk_bench``, on the server of
``--database-url``; it is built once (or again when its row count differs from ``--rows``)
and reused by later runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
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
    SetupError,
    add_database_url,
    bearer,
    connect,
    create_databases,
    median,
    non_negative_int,
    percentile,
    positive_int,
    postgresql_url,
    print_table_head,
    provision,
    server_process,
    wait_until_ready,
    with_database,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
TABLE = "bench_rows"
PAGE_SIZE = 25
TARGET_RATIO = 1.5
STATUSES = ("live", "draft", "archived", "deleted")
FILTER_VALUE = "live"

COLUMNS = (
    ("id", "bigint"),
    ("name", "text"),
    ("status", "text"),
    ("amount", "numeric"),
    ("created_at", "timestamp without time zone"),
)
CREATE_TABLE_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id bigint NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    created_at timestamp NOT NULL
);
"""
# One INSERT ... SELECT; the primary key is added afterwards (faster than maintaining it).
FILL_TABLE_SQL = f"""
INSERT INTO {TABLE} (id, name, status, amount, created_at)
SELECT g,
       'row ' || g,
       (ARRAY[{", ".join(f"'{s}'" for s in STATUSES)}])[1 + (g % {len(STATUSES)})::int],
       ((g * 7919) % 1000000) / 100.0,
       TIMESTAMP '2024-01-01' + make_interval(secs => g)
FROM generate_series(1, $1::bigint) AS g
"""
ADD_KEY_SQL = f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)"

SELECT_LIST = ", ".join(name for name, _ in COLUMNS)
PAGE_SQL = f"SELECT {SELECT_LIST} FROM {TABLE} ORDER BY id LIMIT {PAGE_SIZE} OFFSET 0"
COUNT_SQL = f"SELECT count(*) FROM {TABLE}"
FILTERED_PAGE_SQL = (
    f"SELECT {SELECT_LIST} FROM {TABLE} WHERE status = $1 ORDER BY id LIMIT {PAGE_SIZE} OFFSET 0"
)
FILTERED_COUNT_SQL = f"SELECT count(*) FROM {TABLE} WHERE status = $1"
API_PATH = f"/api/collections/{TABLE}/records"


@dataclass
class Series:
    """Wall-clock samples of one measurement, in milliseconds."""

    label: str
    samples: list[float] = field(default_factory=list)

    def median(self) -> float:
        return median(self.samples)

    def p95(self) -> float:
        return percentile(self.samples, 95)


@dataclass(frozen=True)
class Variant:
    """One listing measured both ways: through the API and as raw SQL."""

    name: str
    api_params: dict[str, str]
    page_sql: str
    count_sql: str
    sql_args: tuple[Any, ...]


@dataclass
class Result:
    variant: Variant
    api: Series
    raw: Series
    raw_page: Series
    raw_count: Series


VARIANTS = (
    Variant(
        name="all rows",
        api_params={"page": "1", "page_size": str(PAGE_SIZE)},
        page_sql=PAGE_SQL,
        count_sql=COUNT_SQL,
        sql_args=(),
    ),
    Variant(
        name=f"status = '{FILTER_VALUE}'",
        api_params={
            "page": "1",
            "page_size": str(PAGE_SIZE),
            "filter": json.dumps(
                {"field": "status", "operator": "equal", "value": FILTER_VALUE},
                separators=(",", ":"),
            ),
        },
        page_sql=FILTERED_PAGE_SQL,
        count_sql=FILTERED_COUNT_SQL,
        sql_args=(FILTER_VALUE,),
    ),
)


# ---------------------------------------------------------------------------------------------
# Setup: the data set and the server


def database_urls(url: str) -> tuple[str, str]:
    """(the URL given, the benchmark database's URL), both plain ``postgresql://`` for asyncpg."""
    plain = postgresql_url(url)
    return plain.render_as_string(hide_password=False), with_database(plain, BENCH_DATABASE)


async def table_rows(conn: asyncpg.Connection) -> int | None:
    """The benchmark table's row count; None when it is missing or not the expected shape."""
    found = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        TABLE,
    )
    if tuple((r["column_name"], r["data_type"]) for r in found) != COLUMNS:
        return None
    has_key = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisprimary)",
        TABLE,
    )
    if not has_key:
        return None
    rows: int = await conn.fetchval(COUNT_SQL)
    return rows


async def prepare(admin_dsn: str, bench_dsn: str, rows: int) -> str:
    """Create (or reuse) the benchmark database and table; return the server version."""
    version = await create_databases(admin_dsn, fresh_state=False)
    conn = await connect(bench_dsn)
    try:
        current = await table_rows(conn)
        if current == rows:
            print(f"reusing {BENCH_DATABASE}.{TABLE} ({rows:,} rows)", flush=True)
        else:
            print(f"filling {BENCH_DATABASE}.{TABLE} with {rows:,} rows ...", flush=True)
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute(CREATE_TABLE_SQL)
                await conn.execute(FILL_TABLE_SQL, rows)
                await conn.execute(ADD_KEY_SQL)
            # VACUUM (not only ANALYZE): statistics, the visibility map (index-only scans) and
            # frozen rows, so autovacuum has nothing left to do in the middle of the timings.
            await conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
            print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()
    return version


@contextmanager
def desk_server(
    bench_dsn: str, state_url: str, workdir: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``bench/serve_desk.py`` (uvicorn) in its own process; stop it on the way out."""
    options = ["--state-url", state_url, "--include", TABLE]
    # The URL goes by environment, not argv, so a password stays out of the process list.
    env = {**os.environ, "ACTIONDESK_DATABASE_URL": bench_dsn}
    with server_process(HERE / "serve_desk.py", "--port", options, workdir, env) as started:
        yield started


# ---------------------------------------------------------------------------------------------
# Measurement


async def check_same_answer(
    client: httpx.AsyncClient, conn: asyncpg.Connection, variant: Variant
) -> None:
    """Both sides must return the same page and count, or the comparison means nothing."""
    response = await client.get(API_PATH, params=variant.api_params)
    if response.status_code != 200:
        raise SetupError(f"{variant.name}: API answered {response.status_code}: {response.text}")
    body = response.json()
    rows = await conn.fetch(variant.page_sql, *variant.sql_args)
    count = await conn.fetchval(variant.count_sql, *variant.sql_args)
    api_ids = [record["id"] for record in body["records"]]
    raw_ids = [str(row["id"]) for row in rows]
    if api_ids != raw_ids or body["count"] != count:
        raise SetupError(
            f"{variant.name}: the API and raw SQL disagree "
            f"(ids {api_ids[:3]}... vs {raw_ids[:3]}..., count {body['count']} vs {count})"
        )


async def time_api(client: httpx.AsyncClient, variant: Variant) -> float:
    started = time.perf_counter()
    response = await client.get(API_PATH, params=variant.api_params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SetupError(f"{variant.name}: API answered {response.status_code}")
    return elapsed * 1000


async def time_raw(conn: asyncpg.Connection, variant: Variant) -> tuple[float, float]:
    """(page query ms, count query ms), run one after the other as the API does."""
    started = time.perf_counter()
    await conn.fetch(variant.page_sql, *variant.sql_args)
    paged = time.perf_counter()
    await conn.fetchval(variant.count_sql, *variant.sql_args)
    counted = time.perf_counter()
    return (paged - started) * 1000, (counted - paged) * 1000


async def one_round(
    client: httpx.AsyncClient, conn: asyncpg.Connection, results: Sequence[Result]
) -> list[tuple[Series, float]]:
    """Every measurement once, in a shuffled order; the samples to record."""
    steps = [(result, side) for result in results for side in ("api", "raw")]
    random.shuffle(steps)
    samples: list[tuple[Series, float]] = []
    for result, side in steps:
        if side == "api":
            samples.append((result.api, await time_api(client, result.variant)))
        else:
            page_ms, count_ms = await time_raw(conn, result.variant)
            samples.append((result.raw, page_ms + count_ms))
            samples.append((result.raw_page, page_ms))
            samples.append((result.raw_count, count_ms))
    return samples


async def measure(
    base_url: str,
    process: subprocess.Popen[bytes],
    bench_dsn: str,
    token: str,
    requests: int,
    warmup: int,
) -> list[Result]:
    results = [
        Result(v, Series("API"), Series("raw SQL"), Series("raw page"), Series("raw count"))
        for v in VARIANTS
    ]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=120, headers=bearer(token)
    ) as client:
        await wait_until_ready(client, process, API_PATH, params={"page_size": "1"})
        conn = await connect(bench_dsn)
        try:
            for result in results:
                await check_same_answer(client, conn, result.variant)
            for _ in range(warmup):
                await one_round(client, conn, results)
            for _ in range(requests):
                for series, ms in await one_round(client, conn, results):
                    series.samples.append(ms)
        finally:
            await conn.close()
    return results


# ---------------------------------------------------------------------------------------------
# Report


def report(
    results: Sequence[Result], *, rows: int, version: str, requests: int, warmup: int
) -> None:
    print()
    print("actiondesk records list: page 1 (25 records) + count, API vs raw SQL")
    print(
        f"setup: {rows:,} rows | PostgreSQL {version} | {requests} requests per measurement "
        f"after {warmup} warm-up rounds, interleaved | {os.cpu_count()} CPUs"
    )
    print(
        "API: one uvicorn process, one keep-alive httpx client; raw SQL: asyncpg, one connection"
    )
    print()
    print_table_head(f"{'variant':<18} {'side':<8} {'median ms':>10} {'p95 ms':>10}")
    for result in results:
        for series in (result.api, result.raw):
            print(
                f"{result.variant.name:<18} {series.label:<8} "
                f"{series.median():>10.2f} {series.p95():>10.2f}"
            )
    print()
    print_table_head(
        f"{'variant':<18} {'API/raw':>8} {'<= ' + str(TARGET_RATIO) + 'x':>8} "
        f"{'API extra ms':>13} {'raw page ms':>12} {'raw count ms':>13}"
    )
    for result in results:
        api, raw = result.api.median(), result.raw.median()
        ratio = api / raw
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(
            f"{result.variant.name:<18} {ratio:>7.2f}x {verdict:>8} "
            f"{api - raw:>+13.2f} {result.raw_page.median():>12.2f} "
            f"{result.raw_count.median():>13.2f}"
        )
    print("(ratio and differences of medians; the raw split is the raw side's two queries)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="List page 1 + count of a large PostgreSQL table through the actiondesk "
        "API and as raw SQL, in the same run; print the ratio (target <= 1.5x)."
    )
    parser.add_argument("--rows", type=positive_int, default=1_000_000, help="table size")
    parser.add_argument(
        "--requests", type=positive_int, default=50, help="timed requests per measurement"
    )
    parser.add_argument(
        "--warmup", type=non_negative_int, default=5, help="untimed rounds before the timed ones"
    )
    add_database_url(
        parser, DEFAULT_DATABASE_URL, f"the data set goes in its own database {BENCH_DATABASE}"
    )
    return parser.parse_args(argv)


def exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the server is stopped on the way out."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        admin_dsn, bench_dsn = database_urls(args.database_url)
        version = asyncio.run(prepare(admin_dsn, bench_dsn, args.rows))
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as workdir:
            state_url = f"sqlite:///{Path(workdir) / 'state.db'}"
            # The API answers signed-in callers only: a user of a read-all role, no actions.
            token = asyncio.run(provision(bench_dsn, state_url, TABLE, []))
            with desk_server(bench_dsn, state_url, Path(workdir)) as (base_url, process):
                results = asyncio.run(
                    measure(base_url, process, bench_dsn, token, args.requests, args.warmup)
                )
    except (SetupError, asyncpg.PostgresError, OSError) as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 2
    report(results, rows=args.rows, version=version, requests=args.requests, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
