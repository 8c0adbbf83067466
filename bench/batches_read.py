"""Benchmark: reading a "select all" in batches, actiondesk vs the raw driver's keyset loop.

    .venv/bin/python bench/batches_read.py [--backend sqlite|postgresql|both]
        [--sizes 100000 1000000] [--repeat 3] [--batch-size 5000] [--database-url URL]
    .venv/bin/python bench/batches_read.py --quick     # smoke run: 2,000 rows, SQLite

The table ``bench_read(id bigint primary key, status text, amount numeric(12,2))`` is filled
with each size (PostgreSQL: in ``actiondesk_bench``; SQLite: a file in a temporary
directory). The selection is the one of ``action_bulk.py``: the filter ``amount > -1`` (every
row) minus five excluded ids. In this process, one after the other (alternating, medians):

- **selection.batches**: ``async for batch in selection.batches(size=5000)`` on a
  ``Selection`` resolved by actiondesk's own resolver, counting the rows;
- **ctx.batches**: the checkpointed cursor (``BatchCursor``, one transaction per batch,
  without a run: no checkpoint writes), counting the rows;
- **raw**: the same keyset ``SELECT ... WHERE amount > -1 AND id NOT IN (...) AND id > $1
  ORDER BY id LIMIT $2`` sent with the raw async driver (asyncpg; aiosqlite's
  ``execute_fetchall``), rows as the driver gives them.

Target: each actiondesk side >= 0.8x the raw loop's records/s. Memory: the peak of Python
allocations (``tracemalloc``) during one untimed ``selection.batches`` pass per size; target
flat (the largest size within 1.1x of the smallest).

A report, not a test: exit code 0 whether or not a target is met, 2 when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DATABASE,
    URL_ENV,
    SetupError,
    connect,
    create_databases,
    database_urls,
    median,
    positive_int,
    print_table_head,
)

TABLE = "bench_read"
EXCLUDED = (1, 2, 3, 500, 99_999)
TARGET = 0.8
MEMORY_TARGET = 1.10
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXCLUDED_SQL = ", ".join(str(i) for i in EXCLUDED)
RAW_PG = (f"SELECT id, status, amount FROM {TABLE} WHERE amount > -1 AND id NOT IN "
          f"({EXCLUDED_SQL}) AND id > $1 ORDER BY id LIMIT $2")
RAW_SQLITE = RAW_PG.replace("$1", "?").replace("$2", "?")
SUBSET = {"field": "amount", "operator": "greater_than", "value": "-1"}


@dataclass
class Result:
    backend: str
    rows: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    peak_bytes: int = 0


async def fill_postgresql(dsn: str, rows: int) -> None:
    conn = await connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await conn.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, status text, "
                           "amount numeric(12, 2))")
        await conn.execute(
            f"INSERT INTO {TABLE} SELECT g, 'new', ((g * 7919) % 100000) / 100.0 "
            "FROM generate_series(1, $1::bigint) AS g", rows)
        await conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    finally:
        await conn.close()


def fill_sqlite(path: Path, rows: int) -> None:
    import sqlite3

    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, status TEXT, "
               "amount NUMERIC(12, 2))")
    db.executemany(f"INSERT INTO {TABLE} VALUES (?, 'new', ?)",
                   ((g, ((g * 7919) % 100000) / 100.0) for g in range(1, rows + 1)))
    db.commit()
    db.close()


async def raw_postgresql(dsn: str, size: int) -> int:
    conn = await connect(dsn)
    try:
        seen, after = 0, 0
        while True:
            rows = await conn.fetch(RAW_PG, after, size)
            seen += len(rows)
            if len(rows) < size:
                return seen
            after = rows[-1]["id"]
    finally:
        await conn.close()


async def raw_sqlite(path: Path, size: int) -> int:
    import aiosqlite

    async with aiosqlite.connect(path) as db:
        seen, after = 0, 0
        while True:
            rows = list(await db.execute_fetchall(RAW_SQLITE, (after, size)))
            seen += len(rows)
            if len(rows) < size:
                return seen
            after = rows[-1][0]


class Desk:
    """A datasource and a resolved select-all, as the pipeline builds them."""

    def __init__(self, url: str) -> None:
        from actiondesk.data.datasource import Datasource

        self.datasource = Datasource(url, include=[TABLE])
        self.selection: Any = None

    async def open(self) -> None:
        import sqlalchemy as sa

        from actiondesk.actions.selection import Selection, pk_in
        from actiondesk.data.filters import compile_filter, parse_filter

        await self.datasource.connect()
        collection = self.datasource.collection(TABLE)
        where = sa.and_(sa.true(), compile_filter(collection, parse_filter(SUBSET)),
                        sa.not_(pk_in(collection, [(i,) for i in EXCLUDED])))
        self.selection = Selection(self.datasource, collection, where, description={})

    async def selection_batches(self, size: int) -> int:
        seen = 0
        async for batch in self.selection.batches(size=size):
            seen += len(batch)
        return seen

    async def cursor_batches(self, size: int) -> int:
        from actiondesk.actions.batches import BatchCursor

        cursor = BatchCursor(self.selection, self.datasource.engine, size)
        async for batch in cursor:
            del batch
        await cursor.close(True)
        return cursor.done


async def timed(run: Callable[[], Awaitable[int]], expected: int) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds)."""
    started, cpu = time.perf_counter(), time.process_time()
    seen = await run()
    elapsed = time.perf_counter() - started
    if seen != expected:
        raise SetupError(f"read {seen:,} rows, expected {expected:,}")
    return elapsed, time.process_time() - cpu


async def measure(backend: str, url: str, raw: Callable[[], Awaitable[int]], rows: int,
                  args: argparse.Namespace) -> Result:
    result = Result(backend, rows)
    expected = rows - sum(1 for i in EXCLUDED if i <= rows)
    desk = Desk(url)
    await desk.open()
    sides: dict[str, Callable[[], Awaitable[int]]] = {
        "selection.batches": lambda: desk.selection_batches(args.batch_size),
        "ctx.batches": lambda: desk.cursor_batches(args.batch_size),
        "raw": raw,
    }
    try:
        for run in sides.values():  # warm-up: caches, pools, the table in memory
            await timed(run, expected)
        for number in range(args.repeat):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for side in order:
                wall, cpu = await timed(sides[side], expected)
                result.seconds.setdefault(side, []).append(wall)
                result.cpu.setdefault(side, []).append(cpu)
        tracemalloc.start()
        await desk.selection_batches(args.batch_size)
        result.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        await desk.datasource.close()
    print(f"  {backend} {rows:,}: done", flush=True)
    return result


async def run_postgresql(args: argparse.Namespace) -> list[Result]:
    urls = database_urls(args.database_url)
    await create_databases(urls.admin, fresh_state=False)
    data = urls.data
    results = []
    for rows in args.sizes:
        print(f"PostgreSQL: filling {TABLE} with {rows:,} rows", flush=True)
        await fill_postgresql(data, rows)
        sa_url = data.replace("postgresql://", "postgresql+asyncpg://", 1)
        results.append(await measure("postgresql", sa_url,
                                     lambda: raw_postgresql(data, args.batch_size), rows, args))
    return results


async def run_sqlite(args: argparse.Namespace, workdir: Path) -> list[Result]:
    path = workdir / "bench_read.sqlite"
    results = []
    for rows in args.sizes:
        print(f"SQLite: filling {TABLE} with {rows:,} rows", flush=True)
        fill_sqlite(path, rows)
        results.append(await measure("sqlite", f"sqlite+aiosqlite:///{path}",
                                     lambda: raw_sqlite(path, args.batch_size), rows, args))
    return results


def report(results: Sequence[Result], args: argparse.Namespace) -> None:
    print()
    print(f'batched reads of a "select all" vs the raw driver\'s keyset loop | batch size '
          f"{args.batch_size:,} | {args.repeat} timed runs per side | {os.cpu_count()} CPUs")
    print()
    print_table_head(f"{'backend':<11} {'rows':>10} {'side':<18} {'median s':>9} "
                     f"{'records/s':>11} {'x raw':>7} {'CPU s':>7} {'x raw CPU':>9}")
    for result in results:
        raw = median(result.seconds["raw"])
        raw_cpu = median(result.cpu["raw"])
        for side, samples in result.seconds.items():
            middle, cpu = median(samples), median(result.cpu[side])
            ratio = raw / middle
            verdict = "" if side == "raw" else ("  ok" if ratio >= TARGET else "  MISSES")
            print(f"{result.backend:<11} {result.rows:>10,} {side:<18} {middle:>9.3f} "
                  f"{result.rows / middle:>11,.0f} {ratio:>6.2f}x {cpu:>7.3f} "
                  f"{raw_cpu / cpu:>8.2f}x{verdict}")
    print(f"(target: each actiondesk side >= {TARGET}x raw, wall clock; CPU: this process's "
          "own, without the database server's, telling apart the client's work from a "
          "busy machine)")
    print()
    for backend in ("sqlite", "postgresql"):
        of = [r for r in results if r.backend == backend]
        if not of:
            continue
        small, large = of[0], of[-1]
        ratio = large.peak_bytes / max(1, small.peak_bytes)
        verdict = "flat" if ratio <= MEMORY_TARGET else "NOT flat"
        print(f"{backend}: peak Python allocations during selection.batches "
              f"{small.peak_bytes / 2**20:.1f} MiB at {small.rows:,} rows -> "
              f"{large.peak_bytes / 2**20:.1f} MiB at {large.rows:,}: {ratio:.2f}x ({verdict})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--batch-size", type=positive_int, default=5000)
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV, DEFAULT_URL),
                        help=f"the PostgreSQL server (data in {BENCH_DATABASE})")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: SQLite, 2,000 rows, batch size 500, one run")
    args = parser.parse_args(argv)
    if args.quick:
        args.backend, args.sizes, args.repeat, args.batch_size = "sqlite", [2000], 1, 500
    args.sizes = sorted(args.sizes)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as workdir:
            if args.backend in ("sqlite", "both"):
                results += asyncio.run(run_sqlite(args, Path(workdir)))
            if args.backend in ("postgresql", "both"):
                results += asyncio.run(run_postgresql(args))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
