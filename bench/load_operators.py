"""50 operators at once against one server process of the demo desk on PostgreSQL: each lists
pages, opens action forms and executes actions, without pause, for 60 seconds.

    .venv/bin/python bench/load_operators.py [--operators 50] [--seconds 60]
                                             [--database-url URL]

The demo data and the state go in the scratch databases ``actiondesk_load_data`` and
``actiondesk_load_state`` of the PostgreSQL server of ``--database-url``, made anew each run.
Each operator is a user of the role ``manager`` (every action, no approval) with a bearer
token, and loops: a page of a collection (random page), a record, an action form, then one
execution among charge-credit-card (HTML), add-new-transaction (writes a row), show-some-
activity (redirect), mail-users (bulk) and, one time in ten, generate-invoice (a PDF).

Prints requests, throughput, errors (any answer outside 2xx, or no answer) and latency
percentiles (p50, p90, p99, max) per kind and overall; writes the same to
``test-artifacts/load-summary.json``. Exit 1 when an error happened, 2 on a setup failure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SetupError,
    add_database_url,
    add_serve_options,
    bearer,
    connect,
    memory_kib,
    percentile,
    positive_int,
    postgresql_url,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
    with_database,
)
from fuzz_api import demo_desk, prepare

ROOT = Path(__file__).resolve().parent.parent
LOAD_DATA = "actiondesk_load_data"
LOAD_STATE = "actiondesk_load_state"
COUNTS = {"companies": 400, "customers": 2000, "transactions": 5000, "users": 300}


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(demo_desk(args.data_url, args.state_url), host="127.0.0.1",
                port=args.serve_port, log_level="warning", access_log=False)


async def setup(admin_dsn: str, data_url: str, state_url: str, operators: int) -> list[str]:
    admin = await connect(admin_dsn)
    try:
        for name in (LOAD_DATA, LOAD_STATE):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await prepare(data_url, state_url)
    desk = demo_desk(data_url, state_url)
    await desk.start()
    try:
        tokens = []
        for n in range(operators):
            user = await desk.users.create(f"operator{n}@load.example", role="manager")
            tokens.append(desk.tokens.access(user, dt.timedelta(hours=2)))
        return tokens
    finally:
        await desk.stop()


def _jsonapi(ids: list[int], values: dict[str, Any] | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"ids": [str(i) for i in ids]}
    if values is not None:
        attributes["values"] = values
    return {"data": {"type": "custom-action-requests", "attributes": attributes}}


class Tally:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    async def call(self, kind: str, client: httpx.AsyncClient, method: str, path: str,
                   **kwargs: Any) -> None:
        started = time.monotonic()
        try:
            response = await client.request(method, path, **kwargs)
            await response.aread()
        except httpx.HTTPError as exc:
            self.errors.append(f"{kind}: {type(exc).__name__}")
            return
        self.latencies[kind].append((time.monotonic() - started) * 1000)
        if not 200 <= response.status_code < 300:
            self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")


async def operator(base: str, token: str, deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base + "/api", headers=bearer(token),
                                 timeout=60) as client:
        while time.monotonic() < deadline:
            collection = rng.choice(["companies", "customers", "transactions", "users"])
            await tally.call("list page", client, "GET", f"/collections/{collection}/records",
                             params={"page": rng.randint(1, 12), "sort": "-id"})
            company, customer = rng.randint(1, COUNTS["companies"]), rng.randint(
                1, COUNTS["customers"])
            await tally.call("open record", client, "GET",
                             f"/collections/customers/records/{customer}")
            await tally.call("open form", client, "POST",
                             "/collections/customers/actions/charge-credit-card/form",
                             json=_jsonapi([customer]))
            choice = rng.random()
            if choice < 0.3:
                await tally.call("execute: charge (html)", client, "POST",
                                 "/collections/customers/actions/charge-credit-card",
                                 json=_jsonapi([customer], {"amount": "12.50",
                                                            "description": "load test"}))
            elif choice < 0.55:
                other = company % COUNTS["companies"] + 1
                await tally.call("execute: add transaction (write)", client, "POST",
                                 "/collections/companies/actions/add-new-transaction",
                                 json=_jsonapi([company], {"beneficiary_company": str(other),
                                                           "amount": "3.20"}))
            elif choice < 0.75:
                await tally.call("execute: activity (redirect)", client, "POST",
                                 "/collections/companies/actions/show-some-activity",
                                 json=_jsonapi([company]))
            elif choice < 0.9:
                users = rng.sample(range(1, COUNTS["users"] + 1), 3)
                await tally.call("execute: mail users (bulk)", client, "POST",
                                 "/collections/users/actions/mail-users",
                                 json=_jsonapi(users, {"subject": "hi", "body": "load"}))
            else:
                await tally.call("execute: invoice (pdf)", client, "POST",
                                 "/collections/customers/actions/generate-invoice",
                                 json=_jsonapi([customer]))


async def run_load(bases: list[str], tokens: list[str], seconds: float,
                   pids: list[int]) -> dict[str, Any]:
    """Each operator works against one of ``bases`` (round robin) for ``seconds``."""
    tally = Tally()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(operator(bases[n % len(bases)], token, deadline, tally, n)
                           for n, token in enumerate(tokens)))
    elapsed = time.monotonic() - started
    kinds = {}
    everything: list[float] = []
    for kind, samples in sorted(tally.latencies.items()):
        everything.extend(samples)
        kinds[kind] = _stats(samples)
    return {"operators": len(tokens), "seconds": round(elapsed, 1),
            "requests": len(everything) + sum(1 for e in tally.errors if "Error" in e),
            "requests_per_second": round(len(everything) / elapsed, 1),
            "errors": len(tally.errors), "error_examples": tally.errors[:10],
            "overall": _stats(everything), "by_kind": kinds,
            "server_peak_rss_mib": max(round(memory_kib(pid).get("VmHWM", 0) / 1024, 1)
                                       for pid in pids)}


def _stats(samples: list[float]) -> dict[str, float]:
    return {"count": len(samples), "p50_ms": round(percentile(samples, 50), 1),
            "p90_ms": round(percentile(samples, 90), 1),
            "p99_ms": round(percentile(samples, 99), 1), "max_ms": round(max(samples), 1)}


def report(result: dict[str, Any]) -> None:
    print(f"\n{result['operators']} operators, {result['seconds']} s, one server process, "
          f"PostgreSQL: {result['requests']:,} requests ({result['requests_per_second']}/s), "
          f"{result['errors']} errors; server peak RSS {result['server_peak_rss_mib']} MiB\n")
    header = f"{'kind':<36}{'count':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    print(header)
    print("-" * len(header))
    for kind, s in [*result["by_kind"].items(), ("overall", result["overall"])]:
        print(f"{kind:<36}{s['count']:>7}{s['p50_ms']:>9}{s['p90_ms']:>9}{s['p99_ms']:>9}"
              f"{s['max_ms']:>9}")
    for example in result["error_examples"]:
        print("  error:", example)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operators", type=positive_int, default=50)
    parser.add_argument("--seconds", type=positive_int, default=60)
    add_database_url(parser, "postgresql://postgres@127.0.0.1:5432/postgres",
                     f"the databases {LOAD_DATA} and {LOAD_STATE} go there")
    add_serve_options(parser)
    args = parser.parse_args()
    if args.serve_port:
        serve(args)
        return 0
    try:
        plain = postgresql_url(args.database_url)
        data_url, state_url = with_database(plain, LOAD_DATA), with_database(plain, LOAD_STATE)
        tokens = asyncio.run(setup(plain.render_as_string(hide_password=False), data_url,
                                   state_url, args.operators))
        with tempfile.TemporaryDirectory(prefix="actiondesk-load-") as tmp, server_process(
            Path(__file__), "--serve-port", ["--data-url", data_url, "--state-url", state_url],
            Path(tmp), env={**os.environ},
        ) as (base, process):
            asyncio.run(_ready(base, process))
            print(f"{args.operators} operators for {args.seconds} s against {base}",
                  flush=True)
            result = asyncio.run(run_load([base], tokens, args.seconds, [process.pid]))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    report(result)
    out = ROOT / "test-artifacts" / "load-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 1 if result["errors"] else 0


async def _ready(base: str, process: Any) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await wait_until_ready(client, process, "/api/openapi.json", name="the demo server")


if __name__ == "__main__":
    sys.exit(main())
