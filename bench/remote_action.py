"""Benchmark: a remote action (signed EXECUTE_ACTION to another service) vs the same trivial
action run locally, through the same desk server.

    .venv/bin/python bench/remote_action.py [--requests 300] [--warmup 20] [--records 10000]

Two uvicorn subprocesses on free loopback ports: the remote service (``RemoteActions`` with
two trivial actions, answering ``{"success": ...}`` without touching a database) and a desk
over a SQLite file (table ``bench_remote``, ``--records`` rows) with the local actions ``Bump``
(single) and ``Count`` (bulk), and the remote provider's ``Bump remote`` and ``Count remote``.
Both sides of each pair go through everything actiondesk does per run (authentication,
permissions, selection, conditions, the runs audit); the remote side adds the message: JSON
encoding, HMAC signing, one HTTP exchange, the answer's verification and interpretation,
and for the bulk action the selection's ids read in keyset batches of 1,000 and sent one
message per batch.

The client sends one request at a time, alternating local and remote (ABAB), after a warm-up.
Prints p50/p95 latency per action, the remote/local ratio of the medians and the overhead per
message. Targets: a single remote action within 2x the local one (one extra loopback HTTP
exchange); a select-all of ``--records`` records costing at most 2x that overhead per message
(one message per 1,000 records).

A report, not a test: the exit code is 0 whether or not the target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from _common import (
    BENCH_EMAIL,
    SECRET_KEY,
    bearer,
    free_port,
    median,
    percentile,
    positive_int,
    print_table_head,
    stop_when_orphaned,
)

REMOTE_SECRET = "bench-remote-secret-0123456789abcdef"  # noqa: S105 - local throwaway
TABLE = "bench_remote"


def remote_app() -> object:
    from actiondesk.remote import EXECUTE_ACTION, GET_ACTION_LIST, RemoteActions

    remote = RemoteActions(REMOTE_SECRET)
    remote.add_message_handler(GET_ACTION_LIST, lambda message: [
        {"name": "Bump remote", "collection": TABLE, "scope": "single"},
        {"name": "Count remote", "collection": TABLE, "scope": "bulk"},
    ])

    async def execute(message: object) -> dict[str, str]:
        return {"success": f"{len(message.ids)} done"}  # type: ignore[attr-defined]

    remote.add_message_handler(EXECUTE_ACTION, execute)
    return remote


def desk_app(data_url: str, state_url: str, remote_url: str) -> object:
    from actiondesk import ActionContext, Desk, Success

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[TABLE], remote_refresh_interval=0)

    @desk.action(TABLE, name="Bump")
    async def bump(ctx: ActionContext) -> Success:
        return Success("1 done")

    @desk.action(TABLE, name="Count", scope="bulk")
    async def count(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        seen = 0
        async for batch in ctx.selection.batches(size=1000):
            seen += len(batch)
        return Success(f"{seen} done")

    desk.remote_provider("bench", url=remote_url, secret=REMOTE_SECRET, batch_size=1000)
    return desk


def serve(kind: str, port: int, data_url: str, state_url: str, remote_url: str) -> None:
    import uvicorn

    stop_when_orphaned()
    app = remote_app() if kind == "remote" else desk_app(data_url, state_url, remote_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]


async def prepare(data_url: str, state_url: str, records: int) -> str:
    from _common import provision
    from sqlalchemy.ext.asyncio import create_async_engine

    from actiondesk.data.urls import to_async_url

    engine = create_async_engine(to_async_url(data_url))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(sa.text(f"INSERT INTO {TABLE} (id, n) VALUES (:id, 0)"),
                           [{"id": i} for i in range(1, records + 1)])
    await engine.dispose()
    return await provision(data_url, state_url, TABLE,
                           ["bump", "count", "bump-remote", "count-remote"])


def start(kind: str, port: int, args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port),  # noqa: S603
                             *args])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server at {url} stopped during start-up")
        try:
            httpx.post(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not start")


def measure(client: httpx.Client, pairs: list[tuple[str, dict[str, object]]], requests: int,
            warmup: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {slug: [] for slug, _ in pairs}
    for round_ in range(warmup + requests):
        for slug, body in pairs:
            started = time.perf_counter()
            response = client.post(f"/collections/{TABLE}/actions/{slug}", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{slug}: HTTP {response.status_code} {response.text[:300]}")
            if round_ >= warmup:
                times[slug].append(elapsed)
    return times


def body(ids: list[str] | None = None, all_records: bool = False) -> dict[str, object]:
    return {"data": {"type": "custom-action-requests",
                     "attributes": {"ids": ids or [], "all_records": all_records}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=positive_int, default=300)
    parser.add_argument("--warmup", type=positive_int, default=20)
    parser.add_argument("--records", type=positive_int, default=10_000)
    parser.add_argument("--serve", choices=["remote", "desk"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--urls", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, *args.urls)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_url = f"sqlite:///{Path(tmp) / 'data.db'}"
        state_url = f"sqlite:///{Path(tmp) / 'state.db'}"
        token = asyncio.run(prepare(data_url, state_url, args.records))
        remote_port, desk_port = free_port(), free_port()
        remote_url = f"http://127.0.0.1:{remote_port}/"
        urls = ["--urls", data_url, state_url, remote_url]
        remote = start("remote", remote_port, urls)
        desk = None
        try:
            wait_ready(remote_url, remote)
            desk = start("desk", desk_port, urls)
            wait_ready(f"http://127.0.0.1:{desk_port}/api/me", desk)
            with httpx.Client(base_url=f"http://127.0.0.1:{desk_port}/api",
                              headers=bearer(token), timeout=120) as client:
                single = measure(client, [("bump", body(["7"])), ("bump-remote", body(["7"]))],
                                 args.requests, args.warmup)
                bulk = measure(client, [("count", body(all_records=True)),
                                        ("count-remote", body(all_records=True))],
                               max(args.requests // 10, 5), max(args.warmup // 10, 2))
        finally:
            for process in (desk, remote):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)
    report(single, bulk, args.records)


def report(single: dict[str, list[float]], bulk: dict[str, list[float]], records: int) -> None:
    print(f"remote actions (SQLite, {records:,} records, CPU count {os.cpu_count()}); "
          f"as {BENCH_EMAIL}")
    print_table_head(f"{'action':<14} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for times in (single, bulk):
        for slug, samples in times.items():
            print(f"{slug:<14} {len(samples):>5} {median(samples):>8.2f} "
                  f"{percentile(samples, 95):>8.2f}")
    ratio = median(single["bump-remote"]) / median(single["bump"])
    extra = median(single["bump-remote"]) - median(single["bump"])
    print(f"\nsingle: remote/local = {ratio:.2f}x (+{extra:.2f} ms per message); "
          f"target <= 2.0x: {'met' if ratio <= 2.0 else 'NOT met'}")
    messages = -(-records // 1000)
    bulk_extra = median(bulk["count-remote"]) - median(bulk["count"])
    per_message = bulk_extra / messages
    print(f"select-all of {records:,}: remote/local = "
          f"{median(bulk['count-remote']) / median(bulk['count']):.2f}x "
          f"(+{bulk_extra:.1f} ms for {messages} messages, {per_message:.2f} ms each); "
          f"target <= 2x the single overhead per message: "
          f"{'met' if per_message <= 2 * max(extra, 0.1) else 'NOT met'}")
    print(json.dumps({"single_ratio": round(ratio, 3), "single_extra_ms": round(extra, 3),
                      "bulk_extra_ms": round(bulk_extra, 2)}))


if __name__ == "__main__":
    main()
