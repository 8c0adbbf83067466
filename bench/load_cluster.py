"""Many servers: 50 operators against 3 server processes and 2 Procrastinate workers on one
PostgreSQL database, first alone, then while a big background run goes on; then a permission
change made through one server, checked at the next request on the others.

    .venv/bin/python bench/load_cluster.py [--operators 50] [--seconds 60]
                                           [--rows 10000000] [--database-url URL]

The demo data, a ``bench_big`` table of ``--rows`` rows and the state (runs, Procrastinate's
jobs) share the scratch database ``actiondesk_cluster``, made anew each run. The operators
are those of ``load_operators.py`` (pages, records, forms, five kinds of execution, no think
time), spread round robin over the three servers. The big run is *Score each* over a select-
all of ``bench_big``: a per-record Python handler in batches of 5,000, on a worker.

Prints, per kind of request, p50 and p99 without and with the big run, the errors of each
phase (any answer outside 2xx), the big run's progress and rate during the load, and whether
the permission change was enforced everywhere; writes ``test-artifacts/load-cluster.json``.
Exit 1 when an error happened or the change was not enforced, 2 on a setup failure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SECRET_KEY,
    SetupError,
    add_database_url,
    bearer,
    connect,
    positive_int,
    postgresql_url,
    server_process,
    stop_when_orphaned,
    with_database,
)
from fuzz_api import prepare
from load_operators import run_load

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
DATABASE = "actiondesk_cluster"
TABLE = "bench_big"
MAX_CONNECTIONS_PER_PROCESS = 8
SERVERS, WORKERS = 3, 2
BATCH = 5000
FILL_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, status text, amount numeric(12, 2));
INSERT INTO {TABLE} (id, status, amount)
SELECT g, 'new', ((g * 7919) % 100000) / 100.0 FROM generate_series(1, $1::bigint) AS g;
"""


def make_desk(url: str) -> Any:
    import sqlalchemy as sa

    from actiondesk import ActionContext, Desk, Success
    from actiondesk.demo.actions import register_demo_actions
    from actiondesk.demo.models import DemoBase

    big = sa.MetaData()
    sa.Table(TABLE, big, sa.Column("id", sa.BigInteger, primary_key=True),
             sa.Column("status", sa.Text), sa.Column("amount", sa.Numeric(12, 2)))
    # 3 servers and 2 workers, each with two engines on the server: 5 x 2 x 8 = 80
    # connections at most, within PostgreSQL's default max_connections (100).
    desk = Desk(database_url=url, state_url=url, secret_key=SECRET_KEY, models=[DemoBase, big],
                runner="procrastinate", runner_concurrency=1,
                db_max_connections=MAX_CONNECTIONS_PER_PROCESS)
    register_demo_actions(desk)

    @desk.action(TABLE, name="Score each", scope="bulk", background=True)
    async def score_each(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        table = ctx.selection.collection.table
        statement = sa.update(table).where(table.c.id == sa.bindparam("key")).values(
            status=sa.bindparam("score"))
        batches = ctx.batches(size=BATCH)
        async for batch in batches:
            await batch.conn.execute(statement, [
                {"key": row["id"], "score": "high" if row["amount"] >= 500 else "low"}
                for row in batch])
        return Success(f"{batches.done} scored")

    return desk


def serve(port: int, url: str) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(make_desk(url), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def work(url: str) -> None:
    stop_when_orphaned()
    desk = make_desk(url)

    async def main() -> None:
        await desk.start(runner=True)
        try:
            await desk.background.runner.work(1)
        finally:
            await desk.stop()

    asyncio.run(main())


async def setup(admin_dsn: str, url: str, rows: int, operators: int) -> dict[str, Any]:
    admin = await connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    data = await connect(url)
    try:
        print(f"filling {TABLE} with {rows:,} rows ...", flush=True)
        await data.execute(FILL_SQL.replace("$1", str(int(rows))))
        await data.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    finally:
        await data.close()
    await prepare(url, url)
    desk = make_desk(url)
    await desk.start()
    try:
        tokens = []
        for n in range(operators):
            user = await desk.users.create(f"operator{n}@load.example", role="manager")
            tokens.append(desk.tokens.access(user, dt.timedelta(hours=2)))
        admin_user = await desk.users.require("admin@demo.example")
        from actiondesk.permissions.service import Policy

        await desk.permissions.put_policy(Policy("admin", TABLE, "score-each", "trigger"))
        return {"operators": tokens, "admin": desk.tokens.access(admin_user,
                                                                 dt.timedelta(hours=2))}
    finally:
        await desk.stop()


@contextmanager
def cluster(url: str, workdir: Path) -> Iterator[tuple[list[str], list[int]]]:
    with ExitStack() as stack:
        bases, pids = [], []
        for _ in range(SERVERS):
            base, proc = stack.enter_context(server_process(
                HERE, "--serve-port", ["--url", url], workdir, env={**os.environ}))
            bases.append(base)
            pids.append(proc.pid)
        for _ in range(WORKERS):
            proc = stack.enter_context(worker_process(url, workdir))
            pids.append(proc.pid)
        yield bases, pids


@contextmanager
def worker_process(url: str, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    # Our own interpreter running our own script.
    proc = subprocess.Popen([sys.executable, str(HERE), "--work", "--url", url],  # noqa: S603
                            cwd=workdir)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def ready(bases: list[str]) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=10) as client:
        for base in bases:
            while True:
                try:
                    if (await client.get(base + "/api/openapi.json")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SetupError(f"{base} did not start")
                await asyncio.sleep(0.2)


async def start_big_run(base: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=base + "/api", headers=bearer(token),
                                 timeout=60) as client:
        answer = await client.post(f"/collections/{TABLE}/actions/score-each", json={
            "data": {"type": "custom-action-requests", "attributes": {"all_records": True}}})
        if answer.status_code != 202:
            raise SetupError(f"the big run was refused: {answer.status_code} {answer.text}")
        run_id: str = answer.json()["run"]["id"]
        for _ in range(600):  # a worker takes it within a lease at most
            if (await client.get(f"/runs/{run_id}")).json()["status"] != "queued":
                return run_id
            await asyncio.sleep(0.2)
        raise SetupError(f"no worker took the big run {run_id}")


async def run_state(base: str, token: str, run_id: str, cancel: bool = False) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base + "/api", headers=bearer(token),
                                 timeout=60) as client:
        run: dict[str, Any] = (await client.get(f"/runs/{run_id}")).json()
        if cancel and run["status"] == "running":
            await client.post(f"/runs/{run_id}/cancel")
        return run


async def permission_change(bases: list[str], admin: str, operator: str) -> dict[str, Any]:
    """Remove the operators' policy for one action through the first server; every other
    server must refuse it at the very next request; then put it back."""
    policy = {"role": "manager", "collection": "companies", "action": "mark-as-live"}
    body = {"data": {"type": "custom-action-requests", "attributes": {"ids": ["1"]}}}
    async with httpx.AsyncClient(headers=bearer(admin), timeout=60) as client:
        before = (await client.get(bases[0] + "/api/settings/policies")).json()["policies"]
        kept = next(p for p in before if all(p.get(k) == v for k, v in policy.items()))
        removed = await client.delete(bases[0] + "/api/settings/policies", params=policy)
        answers = {}
        async with httpx.AsyncClient(headers=bearer(operator), timeout=60) as op:
            for base in bases[1:]:
                answer = await op.post(
                    base + "/api/collections/companies/actions/mark-as-live", json=body)
                answers[base] = answer.status_code
        restored = await client.put(bases[0] + "/api/settings/policies", json={
            k: kept[k] for k in ("role", "collection", "action", "rule", "can_approve")})
    return {"removed": removed.status_code, "next_request_on_others": answers,
            "enforced": removed.status_code == 204 and all(s == 404 for s in answers.values()),
            "restored": restored.status_code}


def report(result: dict[str, Any]) -> None:
    quiet, busy = result["without_big_run"], result["with_big_run"]
    print(f"\n{result['operators']} operators, {SERVERS} servers, {WORKERS} workers, "
          f"PostgreSQL; {result['seconds']} s per phase")
    header = (f"{'kind':<36}{'p50 alone':>11}{'p99 alone':>11}{'p50 big':>10}{'p99 big':>10}"
              f"{'p99 x':>7}")
    print(header)
    print("-" * len(header))
    for kind in [*quiet["by_kind"], "overall"]:
        a = quiet["overall"] if kind == "overall" else quiet["by_kind"][kind]
        b = busy["overall"] if kind == "overall" else busy["by_kind"].get(kind)
        if b is None:
            continue
        print(f"{kind:<36}{a['p50_ms']:>11}{a['p99_ms']:>11}{b['p50_ms']:>10}{b['p99_ms']:>10}"
              f"{b['p99_ms'] / max(a['p99_ms'], 0.1):>7.2f}")
    print(f"requests/s: {quiet['requests_per_second']} alone, {busy['requests_per_second']} "
          f"with the big run; errors: {quiet['errors']} alone, {busy['errors']} with it")
    big = result["big_run"]
    print(f"big run ({result['rows']:,} rows): {big['progress']['done']:,} done during the "
          f"load at {big['progress']['rate']} records/s, status {big['status']}")
    change = result["permission_change"]
    print(f"permission change through server 1, next request on the others: "
          f"{change['next_request_on_others']} -> "
          f"{'enforced' if change['enforced'] else 'NOT ENFORCED'}")
    for example in quiet["error_examples"] + busy["error_examples"]:
        print("  error:", example)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operators", type=positive_int, default=50)
    parser.add_argument("--seconds", type=positive_int, default=60)
    parser.add_argument("--rows", type=positive_int, default=10_000_000)
    add_database_url(parser, "postgresql://postgres@127.0.0.1:5432/postgres",
                     f"the database {DATABASE} goes there")
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_port:
        serve(args.serve_port, args.url)
        return 0
    if args.work:
        work(args.url)
        return 0
    try:
        plain = postgresql_url(args.database_url)
        url = with_database(plain, DATABASE)
        tokens = asyncio.run(setup(plain.render_as_string(hide_password=False),
                                   url,
                                   args.rows, args.operators))
        with tempfile.TemporaryDirectory(prefix="actiondesk-cluster-") as tmp, cluster(
            url, Path(tmp)
        ) as (bases, pids):
            asyncio.run(ready(bases))
            print(f"phase 1: {args.operators} operators for {args.seconds} s, no big run",
                  flush=True)
            quiet = asyncio.run(run_load(bases, tokens["operators"], args.seconds, pids))
            run_id = asyncio.run(start_big_run(bases[0], tokens["admin"]))
            print(f"phase 2: the same while the big run {run_id} goes on", flush=True)
            busy = asyncio.run(run_load(bases, tokens["operators"], args.seconds, pids))
            big = asyncio.run(run_state(bases[0], tokens["admin"], run_id, cancel=True))
            change = asyncio.run(permission_change(bases, tokens["admin"],
                                                   tokens["operators"][0]))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    result = {"operators": args.operators, "seconds": args.seconds, "rows": args.rows,
              "without_big_run": quiet, "with_big_run": busy,
              "big_run": {k: big[k] for k in ("status", "progress", "record_count")},
              "permission_change": change}
    report(result)
    out = ROOT / "test-artifacts" / "load-cluster.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 1 if quiet["errors"] or busy["errors"] or not change["enforced"] else 0


if __name__ == "__main__":
    sys.exit(main())
