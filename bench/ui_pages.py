"""Benchmark: server time of the web UI's pages on the demo (home, collection, record,
approvals, runs, settings), against the cheapest signed-in request.

    .venv/bin/python bench/ui_pages.py [--requests 30] [--warmup 3]

Seeds the demo (SQLite, as ``./scripts/demo`` does) in a temporary directory, adds approval
requests (pending, approved, rejected) and runs, and serves it with uvicorn in its own process
(this script again, in ``--serve-port`` mode). A keep-alive httpx client signed in as the demo
admin (session cookie) then requests, one at a time and in a shuffled order each round, every
page's HTML and each API call its module makes when the page opens, and ``GET /api/me`` (the
baseline: authentication and the permission snapshot, nothing else).

Prints, per page, the median and p95 of the HTML, the sum of the medians of its API calls
("data"), HTML + data against the issue's target (a page under 200 ms of server time), and the
HTML's ratio to the baseline. It is a report: the exit code is 0 whether or not the target is
met, and non-zero only when the setup fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import (
    SECRET_KEY,
    SetupError,
    add_serve_options,
    median,
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
SUPPORT = ("support@demo.example", "support-demo-2026")
BADGE = "/api/approvals/badge"
UNREAD = "/api/notifications/unread"  # the notifications badge, on every page too
BASELINE = "/api/me"
VIEWS = "/api/views"  # the saved views of the sidebar, on every page (views_nav.js)


@dataclass
class Page:
    """A page: its HTML path and the API calls its module makes when it opens."""

    name: str
    path: str
    data: list[str]
    html: list[float] = field(default_factory=list)
    calls: dict[str, list[float]] = field(default_factory=dict)

    def data_ms(self) -> float:
        return sum(median(samples) for samples in self.calls.values())


def pages(approval_id: str, run_id: str, caller_id: str) -> list[Page]:
    found = _pages(approval_id, run_id, caller_id)
    for page in found:
        page.data.append(VIEWS)
    return found


def _pages(approval_id: str, run_id: str, caller_id: str) -> list[Page]:
    return [
        Page("home", "/", [
            "/api/approvals?box=to_review&page_size=5", f"/api/runs?caller={caller_id}&page_size=5",
            "/api/runs?status=running&page_size=5", "/api/runs?status=queued&page_size=5",
            "/api/collections?counts=true", BADGE, UNREAD]),
        Page("collection", "/collections/transactions",
             ["/api/collections/transactions/records?page=1&page_size=25", BADGE, UNREAD]),
        Page("record: customer", "/collections/customers/records/1",
             ["/api/collections/customers/records/1", BADGE, UNREAD]),
        Page("record: company", "/collections/companies/records/1",
             ["/api/collections/customers",
              "/api/collections/companies/records/1/relationships/customers?page=1&page_size=10",
              BADGE, UNREAD]),
        Page("record: activity tab", "/collections/companies/records/1#activity",
             ["/api/collections/companies/records/1/activity?limit=20", BADGE, UNREAD]),
        Page("approvals: to review", "/approvals?box=to_review",
             ["/api/approvals?box=to_review&page=1", BADGE, UNREAD]),
        Page("approvals: history", "/approvals?box=history",
             ["/api/approvals?box=history&page=1", BADGE, UNREAD]),
        Page("approval request", f"/approvals/{approval_id}", [BADGE, UNREAD]),
        Page("runs", "/runs", ["/api/runs?page=1", BADGE, UNREAD]),
        Page("run", f"/runs/{run_id}", [BADGE, UNREAD]),
        Page("refused requests", "/audit", ["/api/audit?limit=500", BADGE, UNREAD]),
        Page("settings: users", "/settings/users",
             ["/api/settings/users", "/api/settings/roles", BADGE, UNREAD]),
        Page("settings: roles", "/settings/roles", ["/api/settings/roles", BADGE, UNREAD]),
        Page("settings: permissions", "/settings/permissions",
             ["/api/settings/roles", "/api/settings/policies", BADGE, UNREAD]),
        Page("settings: actions", "/settings/actions", ["/api/settings/actions", BADGE, UNREAD]),
    ]


# ---------------------------------------------------------------------------------------------
# The server


def serve(port: int, data_path: str) -> None:
    import uvicorn

    from actiondesk.demo.app import create_demo_desk

    stop_when_orphaned()
    desk = create_demo_desk(Path(data_path), secret_key=SECRET_KEY)
    uvicorn.run(desk, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def seed(data_path: Path) -> None:
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.demo.app import create_demo_desk
    from actiondesk.demo.seed import seed_demo

    await seed_demo(f"sqlite+aiosqlite:///{data_path}")
    desk = create_demo_desk(data_path, secret_key=SECRET_KEY)
    await desk.start()
    try:
        await seed_demo_access(desk)
    finally:
        await desk.stop()


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> None:
    answer = await client.post("/api/login", json={"email": email, "password": password})
    if answer.status_code != 200:
        raise SetupError(f"cannot sign in as {email}: {answer.status_code} {answer.text}")
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]


async def execute(client: httpx.AsyncClient, collection: str, slug: str, record: str,
                  values: dict[str, str], expected: int) -> dict[str, object]:
    answer = await client.post(f"/api/collections/{collection}/actions/{slug}", json={
        "data": {"attributes": {"ids": [record], "values": values}}})
    if answer.status_code != expected:
        raise SetupError(f"{slug} answered {answer.status_code}: {answer.text[:300]}")
    body: dict[str, object] = answer.json() if answer.content else {}
    body["run_id"] = answer.headers.get("X-Actiondesk-Run-Id")
    return body


async def make_activity(base: str, approvals: int, runs: int) -> tuple[str, str]:
    """Approval requests (a third pending, the others approved or rejected) and runs; the id of
    an executed request and of a run, for the detail pages."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as admin, \
            httpx.AsyncClient(base_url=base, timeout=120) as support:
        await sign_in(admin, *ADMIN)
        await sign_in(support, *SUPPORT)
        executed = ""
        for n in range(approvals):
            made = await execute(support, "customers", "charge-credit-card", str(1 + n % 50),
                                 {"amount": "5000", "description": f"bench {n}"}, 202)
            approval = made["approval"]
            if not isinstance(approval, dict):
                raise SetupError(f"a 202 without its approval request: {made}")
            if n % 3 == 0:
                continue
            verb = "approve" if n % 3 == 1 else "reject"
            decided = await admin.post(f"/api/approvals/{approval['id']}/{verb}",
                                       json={"message": "bench"})
            if decided.status_code != 200:
                raise SetupError(f"{verb} answered {decided.status_code}: {decided.text}")
            if verb == "approve":
                executed = str(approval["id"])
        run_id = ""
        for n in range(runs):
            made = await execute(admin, "customers", "charge-credit-card", str(1 + n % 50),
                                 {"amount": "12", "description": f"bench run {n}"}, 200)
            run_id = str(made["run_id"])
        return executed, run_id


# ---------------------------------------------------------------------------------------------
# Measurement


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    answer = await client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SetupError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


async def measure(base: str, process: subprocess.Popen[bytes], requests: int, warmup: int,
                  approvals: int, runs: int) -> tuple[list[Page], list[float]]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        await wait_until_ready(client, process, "/login")
        approval_id, run_id = await make_activity(base, approvals, runs)
        await sign_in(client, *ADMIN)
        caller_id = str((await client.get("/api/me")).json()["user"]["id"])
        measured = pages(approval_id, run_id, caller_id)
        baseline: list[float] = []
        steps: list[tuple[Page | None, str]] = [(None, BASELINE)]
        for page in measured:
            steps.append((page, page.path))
            steps.extend((page, call) for call in page.data)
        for round_number in range(warmup + requests):
            random.shuffle(steps)
            for page, path in steps:
                ms = await timed(client, path)
                if round_number < warmup:
                    continue
                if page is None:
                    baseline.append(ms)
                elif path == page.path:
                    page.html.append(ms)
                else:
                    page.calls.setdefault(path, []).append(ms)
    return measured, baseline


# ---------------------------------------------------------------------------------------------
# Report


def report(measured: Sequence[Page], baseline: Sequence[float], args: argparse.Namespace) -> None:
    base = median(baseline)
    print()
    print("actiondesk UI pages: server time (loopback, one keep-alive client, signed in as admin)")
    print(f"setup: the demo on SQLite | {args.approvals} approval requests, {args.runs} runs | "
          f"{args.requests} requests per URL after {args.warmup} warm-up rounds, shuffled | "
          f"{os.cpu_count()} CPUs")
    print(f"baseline GET {BASELINE}: median {base:.2f} ms, p95 {percentile(baseline, 95):.2f} ms")
    print()
    print_table_head(f"{'page':<24} {'HTML ms':>8} {'p95':>7} {'data ms':>8} {'total':>7} "
                     f"{'<= ' + str(int(TARGET_MS)) + ' ms':>9} {'HTML/me':>8}")
    for page in measured:
        html = median(page.html)
        total = html + page.data_ms()
        verdict = "met" if total <= TARGET_MS else "MISSED"
        print(f"{page.name:<24} {html:>8.2f} {percentile(page.html, 95):>7.2f} "
              f"{page.data_ms():>8.2f} {total:>7.2f} {verdict:>9} {html / base:>7.2f}x")
    print("(medians; data = the sum of the medians of the API calls the page makes on opening, "
          "as if made one after the other)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Server time of the approvals, runs and settings pages of the demo, with "
        "the API calls each makes, against GET /api/me (target: a page under 200 ms).")
    parser.add_argument("--requests", type=positive_int, default=30,
                        help="timed requests per URL")
    parser.add_argument("--warmup", type=non_negative_int, default=3,
                        help="untimed rounds before the timed ones")
    parser.add_argument("--approvals", type=positive_int, default=60,
                        help="approval requests to create (a third stay pending)")
    parser.add_argument("--runs", type=positive_int, default=60, help="extra runs to create")
    add_serve_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_port is not None:
        serve(args.serve_port, args.data_url)
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as tmp:
            workdir = Path(tmp)
            data_path = workdir / "demo.db"
            asyncio.run(seed(data_path))
            options = ["--data-url", str(data_path)]
            with server_process(HERE, "--serve-port", options, workdir) as (base, process):
                measured, baseline = asyncio.run(measure(
                    base, process, args.requests, args.warmup, args.approvals, args.runs))
    except SetupError as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 2
    report(measured, baseline, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
