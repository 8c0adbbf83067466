"""Server time of the web UI's main pages on the demo, against a bare endpoint, in one run.

    .venv/bin/python bench/ui_pages.py [--requests 200] [--warmup 20]

Seeds the demo (SQLite, 14,300 rows) in a temporary directory, starts this script again as
the server (uvicorn, its own process): the demo desk mounted in a host application that adds
``/bare`` (a constant HTML page, the baseline) and a ``Server-Timing`` header measured
around the whole application. A signed-in admin (session cookie) then asks, one request at a
time, interleaved in a shuffled order each round, for every request a page makes when it
opens: the page, then the JSON it loads (the collection page: its first 25 records and the
approvals badge; the record page: the badge and its first tab). Static files are not
counted (the browser caches them).

Prints the median and p95 server time of each request, the ratio to the bare endpoint, and
for each page the sum of its requests' medians against the target: under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SetupError,
    non_negative_int,
    percentile,
    positive_int,
    print_table_head,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
)

HERE = Path(__file__).resolve()
TARGET_MS = 200.0
ADMIN = ("admin@demo.example", "admin-demo-2026")
SECRET = "bench-not-secret"  # noqa: S105 - a throwaway local server
BARE_HTML = "<!doctype html><title>bare</title><p>bare</p>"


@dataclass(frozen=True)
class Call:
    name: str
    path: str


@dataclass(frozen=True)
class Page:
    """A page and the requests it makes when it opens (besides cached static files)."""

    name: str
    calls: tuple[Call, ...]


BADGE = Call("approvals badge (every page)", "/api/approvals/badge")
PAGES = (
    Page("home", (Call("home page", "/"), BADGE)),
    Page("collection (transactions)", (
        Call("collection page", "/collections/transactions"),
        Call("first 25 records + count", "/api/collections/transactions/records"
                "?page=1&page_size=25"),
        BADGE)),
    Page("record (company 1)", (
        Call("record page", "/collections/companies/records/1"),
        Call("first tab: its schema", "/api/collections/customers"),
        Call("first tab: 10 customers", "/api/collections/companies/records/1/"
                "relationships/customers?page=1&page_size=10"),
        BADGE)),
)
BARE = Call("bare endpoint (baseline)", "/bare")


@dataclass
class Series:
    """Server times of one request, in milliseconds (from Server-Timing)."""

    samples: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.samples)

    def p95(self) -> float:
        return percentile(self.samples, 95)


# ---------------------------------------------------------------------------------------------
# The server


def build_app(path: Path) -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, Response

    from actiondesk.demo.app import create_demo_desk

    desk = create_demo_desk(path, secret_key=SECRET)
    host = FastAPI()

    @host.middleware("http")
    async def server_timing(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.3f}"
        return response

    @host.get("/bare", response_class=HTMLResponse)
    async def bare() -> str:
        return BARE_HTML

    host.mount("/", desk)
    return host


def serve(port: int, path: Path) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(build_app(path), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


async def prepare(path: Path) -> None:
    """The demo data and its logins (as ``actiondesk demo`` makes them)."""
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.demo.app import create_demo_desk
    from actiondesk.demo.seed import seed_demo

    await seed_demo(f"sqlite+aiosqlite:///{path}")
    desk = create_demo_desk(path, secret_key=SECRET)
    await desk.start()
    try:
        await seed_demo_access(desk)
    finally:
        await desk.stop()


@contextmanager
def server(path: Path, workdir: Path) -> Iterator[tuple[str, Any]]:
    with server_process(HERE, "--serve-port", ["--demo-path", str(path)], workdir) as started:
        yield started


# ---------------------------------------------------------------------------------------------
# Measurement


def server_ms(response: httpx.Response) -> float:
    timing = response.headers.get("server-timing", "")
    if not timing.startswith("app;dur="):
        raise SetupError(f"no Server-Timing on {response.request.url}")
    return float(timing.removeprefix("app;dur="))


async def timed(client: httpx.AsyncClient, request: Call) -> float:
    response = await client.get(request.path)
    if response.status_code != 200:
        raise SetupError(f"{request.path} answered {response.status_code}: {response.text[:200]}")
    return server_ms(response)


async def measure(base_url: str, process: Any, requests: int, warmup: int) -> dict[str, Series]:
    every = [BARE, *{r.path: r for page in PAGES for r in page.calls}.values()]
    series = {r.path: Series() for r in every}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        await wait_until_ready(client, process, BARE.path)
        login = await client.post("/api/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        if login.status_code != 200:
            raise SetupError(f"cannot sign in: {login.status_code} {login.text[:200]}")
        for round_ in range(warmup + requests):
            order = list(every)
            random.shuffle(order)
            for request in order:
                ms = await timed(client, request)
                if round_ >= warmup:
                    series[request.path].samples.append(ms)
    return series


def report(series: dict[str, Series], requests: int, warmup: int) -> None:
    bare = series[BARE.path].median()
    print()
    print("actiondesk UI pages on the demo (SQLite): server time per request (Server-Timing)")
    print(f"{requests} requests each after {warmup} warm-up rounds, interleaved, one keep-alive "
          "client signed in as the demo admin")
    print()
    print_table_head(f"{'request':<34} {'median ms':>10} {'p95 ms':>8} {'x bare':>8}")
    shown = [BARE, *{r.path: r for page in PAGES for r in page.calls}.values()]
    for request in shown:
        s = series[request.path]
        print(f"{request.name:<34} {s.median():>10.2f} {s.p95():>8.2f} "
              f"{s.median() / bare:>7.1f}x")
    print()
    target = f"< {TARGET_MS:.0f} ms"
    print_table_head(f"{'page (all it loads)':<34} {'median ms':>10} {target:>8}")
    for page in PAGES:
        total = sum(series[r.path].median() for r in page.calls)
        verdict = "met" if total < TARGET_MS else "MISSED"
        print(f"{page.name:<34} {total:>10.2f} {verdict:>8}")
    print("(a page's figure is the sum of the medians of the requests it makes when it opens)")


# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Server time of the UI's main pages on the demo vs a bare endpoint."
    )
    parser.add_argument("--requests", type=positive_int, default=200,
                        help="timed requests per measurement")
    parser.add_argument("--warmup", type=non_negative_int, default=20,
                        help="untimed rounds before the timed ones")
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--demo-path", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, Path(args.demo_path))
        return 0
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as tmp:
            workdir = Path(tmp)
            path = workdir / "demo.db"
            print("seeding the demo ...", flush=True)
            asyncio.run(prepare(path))
            with server(path, workdir) as (base_url, process):
                series = asyncio.run(measure(base_url, process, args.requests, args.warmup))
    except (SetupError, OSError) as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 2
    report(series, args.requests, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
