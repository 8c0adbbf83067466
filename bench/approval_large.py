"""Benchmark: a large "select all" approval request, stored then executed, and server memory.

    .venv/bin/python bench/approval_large.py [--sizes 10000 100000] [--batch-size 5000]
                                             [--database-url URL]

For each size, the table ``bench_approval(id bigint primary key, status text)`` of the
database ``actiondesk_bench`` is rebuilt with that many rows, and a fresh uvicorn process
serves a ``Desk`` with one bulk action, ``Mark all``: ``UPDATE bench_approval SET status =
'done' WHERE <clause>`` once per ``ctx.selection.where_batches(batch_size)`` (an approved
request of more than 10,000 records refuses ``ctx.selection.where``), in one transaction.

The role ``approval_requester`` has the rule ``approval`` on that action, the role
``approval_approver`` the rule ``trigger`` with ``can_approve``; one user of each calls with a
bearer token. Per size:

- **store**: the requester POSTs the action with ``all_records: true`` -> 202, the request
  pending with ``record_count`` = size (its ids frozen in the state database, in batches);
- **execute**: the approver POSTs ``/api/approvals/{id}/approve`` -> 200, status
  ``executed``; then the rows with status ``done`` are counted (must be = size).

Before the measured steps one small request (49 records) is stored and approved as a warm-up
(code paths, pools), and the statuses reset. Peak memory is the server's peak RSS
(``VmHWM`` in ``/proc/<pid>/status``), reset (``/proc/<pid>/clear_refs``) before each step so
each number is that step's own peak. Target: flat, the largest size's peak within 1.1x of the
smallest's.

The data database is created if absent; actiondesk's state (approvals, runs audit, users)
goes to ``actiondesk_bench_state``, dropped and created anew on every run. A report, not a
test: the exit code is 0 whether or not the target is met, non-zero only when the setup
fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    memory_kib,
    mib,
    positive_int,
    print_table_head,
    reset_peak,
    run_sizes,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
)

HERE = Path(__file__).resolve()
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = "bench_approval"
DEFAULT_SIZES = (10_000, 100_000)
MEMORY_TARGET = 1.10
REQUEST_TIMEOUT_S = 900.0

SLUG = "mark-all"
ACTION_PATH = f"/api/collections/{TABLE}/actions/{SLUG}"
REQUESTER_ROLE, APPROVER_ROLE = "approval_requester", "approval_approver"
REQUESTER_EMAIL = "requester@bench.example"
APPROVER_EMAIL = "approver@bench.example"

CREATE_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, status text NOT NULL);
"""
FILL_SQL = (
    f"INSERT INTO {TABLE} (id, status) SELECT g, 'new' FROM generate_series(1, $1::bigint) AS g"
)
RESET_SQL = f"UPDATE {TABLE} SET status = 'new' WHERE status <> 'new'"
DONE_SQL = f"SELECT count(*) FROM {TABLE} WHERE status = 'done'"
WARMUP_ROWS = 49
SELECT_ALL: dict[str, Any] = {"all_records": True}
SELECT_FEW: dict[str, Any] = {
    "all_records": True,
    "all_records_subset_query": {
        "filters": {"field": "id", "operator": "less_than", "value": str(WARMUP_ROWS + 1)},
    },
}


# ---------------------------------------------------------------------------------------------
# The server (runs in the subprocess: ``approval_large.py --serve-port PORT ...``)


def serve(port: int, data_url: str, state_url: str, batch_size: int) -> None:
    import sqlalchemy as sa
    import uvicorn

    stop_when_orphaned()
    from actiondesk import ActionContext, Desk, Success

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE])

    @desk.action(TABLE, name="Mark all", scope="bulk")
    async def mark_all(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        table = ctx.selection.collection.table
        changed = 0
        async with ctx.async_db.begin() as conn:
            async for where in ctx.selection.where_batches(batch_size):
                result = await conn.execute(sa.update(table).where(where).values(status="done"))
                changed += result.rowcount
        return Success(str(changed))

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


@dataclass(frozen=True)
class Tokens:
    requester: str
    approver: str


async def provision(urls: Urls) -> Tokens:
    """The requester role (rule ``approval``) and the approver role (``can_approve``), one user
    of each; their bearer tokens. The table must exist."""
    from actiondesk import Desk
    from actiondesk.permissions.service import Policy, RoleSpec

    desk = Desk(database_url=urls.data, state_url=urls.state, secret_key=SECRET_KEY,
                include=[TABLE])
    await desk.start()
    try:
        await desk.permissions.put_role(RoleSpec(REQUESTER_ROLE, read_all=True))
        await desk.permissions.put_role(RoleSpec(APPROVER_ROLE, read_all=True))
        await desk.permissions.put_policy(Policy(REQUESTER_ROLE, TABLE, SLUG, rule="approval"))
        await desk.permissions.put_policy(
            Policy(APPROVER_ROLE, TABLE, SLUG, rule="trigger", can_approve=True)
        )
        tokens = []
        for email, role in ((REQUESTER_EMAIL, REQUESTER_ROLE), (APPROVER_EMAIL, APPROVER_ROLE)):
            user = await desk.users.by_email(email) or await desk.users.create(email, role=role)
            tokens.append(desk.tokens.access(user, dt.timedelta(hours=12)))
        return Tokens(*tokens)
    finally:
        await desk.stop()


@contextmanager
def server(urls: Urls, batch_size: int, token: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """This script in ``--serve-port`` mode in its own process; yields (base URL, pid)."""
    options = ["--data-url", urls.data, "--state-url", urls.state,
               "--batch-size", str(batch_size)]
    with server_process(HERE, "--serve-port", options, workdir) as (base_url, process):
        asyncio.run(ready(base_url, token, process))
        yield base_url, process.pid


async def ready(base_url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=bearer(token)) as client:
        await wait_until_ready(client, process, f"/api/collections/{TABLE}/actions")


# ---------------------------------------------------------------------------------------------
# Server memory


# ---------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Result:
    rows: int
    store_s: float = 0.0
    execute_s: float = 0.0
    changed: int = 0
    rss_ready_kib: int = 0
    peak_since_start_kib: int = 0
    peak_store_kib: int = 0
    peak_execute_kib: int = 0
    peak_was_reset: bool = True

    @property
    def peak_kib(self) -> int:
        if not self.peak_was_reset:
            return self.peak_since_start_kib
        return max(self.peak_store_kib, self.peak_execute_kib)


def body(selection: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "custom-action-requests", "attributes": selection}}


async def store(client: httpx.AsyncClient, selection: dict[str, Any], expected: int) -> str:
    """Request the action (the requester's rule is ``approval``): 202 and a pending request."""
    response = await client.post(ACTION_PATH, json=body(selection))
    if response.status_code != 202:
        raise SetupError(f"the request answered {response.status_code}: {response.text[:500]}")
    approval: dict[str, Any] = response.json()["approval"]
    if approval["status"] != "pending" or approval["record_count"] != expected:
        raise SetupError(f"unexpected request: status {approval['status']!r}, "
                         f"record_count {approval['record_count']} (expected {expected:,})")
    approval_id: str = approval["id"]
    return approval_id


async def approve(client: httpx.AsyncClient, approval_id: str, expected: int) -> None:
    response = await client.post(f"/api/approvals/{approval_id}/approve")
    if response.status_code != 200:
        raise SetupError(f"approve answered {response.status_code}: {response.text[:500]}")
    done: dict[str, Any] = response.json()["approval"]
    if done["status"] != "executed" or done["result"] != {"success": str(expected)}:
        raise SetupError(f"not executed as expected: status {done['status']!r}, "
                         f"result {done.get('result')!r}, reason {done.get('reason')!r}")


async def measure(base_url: str, tokens: Tokens, pid: int, data_dsn: str, rows: int) -> Result:
    result = Result(rows)
    conn = await connect(data_dsn)
    try:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                              headers=bearer(tokens.requester)) as requester,
            httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                              headers=bearer(tokens.approver)) as approver,
        ):
            # Warm-up: a small request stored and approved (code paths, pools), then reset.
            await approve(approver, await store(requester, SELECT_FEW, WARMUP_ROWS), WARMUP_ROWS)
            await conn.execute(RESET_SQL)
            await conn.execute(f"VACUUM {TABLE}")
            now = memory_kib(pid)
            result.rss_ready_kib, result.peak_since_start_kib = now["VmRSS"], now["VmHWM"]

            print(f"  {rows:,}: store", flush=True)
            result.peak_was_reset = reset_peak(pid)
            started = time.perf_counter()
            approval_id = await store(requester, SELECT_ALL, rows)
            result.store_s = time.perf_counter() - started
            result.peak_store_kib = memory_kib(pid)["VmHWM"]

            print(f"  {rows:,}: execute", flush=True)
            result.peak_was_reset = reset_peak(pid) and result.peak_was_reset
            started = time.perf_counter()
            await approve(approver, approval_id, rows)
            result.execute_s = time.perf_counter() - started
            now = memory_kib(pid)
            result.peak_execute_kib = now["VmHWM"]
            result.peak_since_start_kib = max(result.peak_since_start_kib, now["VmHWM"])

            result.changed = await conn.fetchval(DONE_SQL)
            if result.changed != rows:
                raise SetupError(f"{result.changed:,} rows changed, expected {rows:,}")
    finally:
        await conn.close()
    return result


def run_all(args: argparse.Namespace, urls: Urls, workdir: Path) -> list[Result]:
    results: list[Result] = []
    tokens: Tokens | None = None
    for rows in args.sizes:
        asyncio.run(fill(urls.data, rows))
        tokens = tokens or asyncio.run(provision(urls))
        # A fresh server per size: its peak memory belongs to that size alone.
        with server(urls, args.batch_size, tokens.requester, workdir) as (base_url, pid):
            results.append(asyncio.run(measure(base_url, tokens, pid, urls.data, rows)))
    return results


# ---------------------------------------------------------------------------------------------
# Report


def report(results: Sequence[Result], args: argparse.Namespace, version: str) -> None:
    print()
    print('actiondesk: a "select all" approval request stored, then approved and executed')
    print(
        f"PostgreSQL {version} | sizes {', '.join(f'{r:,}' for r in args.sizes)} rows | "
        f"where_batches({args.batch_size:,}) UPDATEs in one transaction | {os.cpu_count()} "
        "CPUs | a fresh uvicorn server per size; peak RSS reset before each step"
    )
    print()
    header = (
        f"{'rows':>10} {'store s':>8} {'execute s':>10} {'changed':>10} {'RSS ready':>10} "
        f"{'peak store':>11} {'peak exec':>10}  (MiB)"
    )
    print_table_head(header)
    for r in results:
        store_peak = mib(r.peak_store_kib) if r.peak_was_reset else "n/a"
        exec_peak = mib(r.peak_execute_kib) if r.peak_was_reset else "n/a"
        print(
            f"{r.rows:>10,} {r.store_s:>8.3f} {r.execute_s:>10.3f} {r.changed:>10,} "
            f"{mib(r.rss_ready_kib):>10} {store_peak:>11} {exec_peak:>10}"
        )
    print()
    if len(results) >= 2:
        small, large = results[0], results[-1]
        what = ("peak over store and execute" if small.peak_was_reset
                else "peak since start (the peak could not be reset)")
        ratio = large.peak_kib / small.peak_kib
        verdict = "flat" if ratio <= MEMORY_TARGET else "NOT flat"
        print(
            f"server {what}: {mib(small.peak_kib)} MiB at {small.rows:,} rows -> "
            f"{mib(large.peak_kib)} MiB at {large.rows:,} rows: {ratio:.2f}x ({verdict}; "
            f"target <= {MEMORY_TARGET}x)"
        )
        if small.peak_was_reset:
            for step, a, b in (("store", small.peak_store_kib, large.peak_store_kib),
                               ("execute", small.peak_execute_kib, large.peak_execute_kib)):
                print(f"  {step}: {b / a:.2f}x")


# ---------------------------------------------------------------------------------------------


def table_size(text: str) -> int:
    value = positive_int(text)
    if value <= WARMUP_ROWS:
        raise argparse.ArgumentTypeError(f"must be more than {WARMUP_ROWS}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Store and execute a 'select all' approval request per table size and "
        "measure the server's peak memory (target: flat, <= 1.1x)."
    )
    parser.add_argument("--sizes", type=table_size, nargs="+", default=list(DEFAULT_SIZES),
                        help="table sizes, smallest first (default 10000 100000)")
    parser.add_argument("--batch-size", type=positive_int, default=5000,
                        help="size of ctx.selection.where_batches() (default 5000)")
    add_database_url(parser, DEFAULT_DATABASE_URL,
                     f"the data go in {BENCH_DATABASE}, the approvals in {STATE_DATABASE}")
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
