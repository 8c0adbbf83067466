"""Fuzz the whole JSON API with schemathesis, from its OpenAPI document, against a real
uvicorn server of the demo desk: as a restricted role (support), then as an admin.

    .venv/bin/python bench/fuzz_api.py [--max-examples 40] [--database sqlite|postgresql]
                                       [--workers 2] [--seed N] [--report-dir DIR]

Every phase runs (examples, coverage, fuzzing, stateful), checking each answer: no server
error, a documented status code, content type and headers, and a body that fits the
documented schema. The demo database is made anew in a temporary directory (or, with
``--database postgresql``, in the scratch databases ``actiondesk_fuzz_data`` and
``actiondesk_fuzz_state`` of ``--database-url``), so the fuzzer may run every action.

Prints per caller the requests sent, the answers by status class, the 5xx and the failed
checks; writes ``summary.json`` with schemathesis' own reports (NDJSON, JSON) and the
server's log into the report directory. Exits 1 on any 5xx or failed check, 2 on a setup
failure. It is not part of the test suite (it takes minutes); tests/http/test_fuzz_smoke.py
is its short version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SECRET_KEY,
    SetupError,
    add_database_url,
    add_serve_options,
    connect,
    positive_int,
    postgresql_url,
    server_process,
    stop_when_orphaned,
    wait_until_ready,
    with_database,
)

ROOT = Path(__file__).resolve().parent.parent
# The restricted role first: fuzzing as the admin may deactivate or re-role other users.
CALLERS = (("support", "support@demo.example"), ("admin", "admin@demo.example"))
SCHEMA_CHECKS = (
    "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance",
)
CHECKS = ("not_a_server_error", *SCHEMA_CHECKS)
FUZZ_DATA = "actiondesk_fuzz_data"
FUZZ_STATE = "actiondesk_fuzz_state"


def demo_desk(data_url: str, state_url: str) -> Any:
    from actiondesk import Desk
    from actiondesk.demo.actions import register_demo_actions
    from actiondesk.demo.models import DemoBase

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                models=[DemoBase], title="actiondesk demo")
    register_demo_actions(desk)
    return desk


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    stop_when_orphaned()
    uvicorn.run(demo_desk(args.data_url, args.state_url), host="127.0.0.1",
                port=args.serve_port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Set-up


async def prepare(data_url: str, state_url: str) -> None:
    """The demo data, roles, policies and users."""
    from actiondesk.data.urls import to_async_url
    from actiondesk.demo.access import seed_demo_access
    from actiondesk.demo.seed import seed_demo

    await seed_demo(to_async_url(data_url).render_as_string(hide_password=False))
    desk = demo_desk(data_url, state_url)
    await desk.start()
    try:
        await seed_demo_access(desk)
    finally:
        await desk.stop()


async def fresh_postgresql(admin_dsn: str) -> None:
    admin = await connect(admin_dsn)
    try:
        for name in (FUZZ_DATA, FUZZ_STATE):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def database_urls(args: argparse.Namespace, workdir: Path) -> tuple[str, str]:
    if args.database == "sqlite":
        return f"sqlite:///{workdir / 'demo.db'}", f"sqlite:///{workdir / 'demo-state.db'}"
    plain = postgresql_url(args.database_url)
    asyncio.run(fresh_postgresql(plain.render_as_string(hide_password=False)))
    return with_database(plain, FUZZ_DATA), with_database(plain, FUZZ_STATE)


# ---------------------------------------------------------------------------------------------
# One schemathesis run per caller


@dataclass
class Tally:
    caller: str
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failed_checks: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exit_code: int = 0
    # Errors of the fuzzer itself (a hook or the schema): they stop a phase, so they fail the run.
    runtime_errors: int = 0
    # Requests uvicorn refuses before the app sees them (its plain-text "Invalid HTTP request
    # received." 400): a request line longer than it accepts. Not the app's answer to check.
    refused_by_server: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "caller": self.caller, "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors": len(self.server_errors),
            "failed_checks": dict(self.failed_checks),
            "examples": self.examples[:30], "seconds": round(self.seconds, 1),
            "schemathesis_exit_code": self.exit_code,
            "runtime_errors": self.runtime_errors,
            "refused_by_the_http_server": self.refused_by_server,
        }


def run_schemathesis(args: argparse.Namespace, base: str, state_url: str, role: str,
                     email: str, report_dir: Path) -> Tally:
    ndjson = report_dir / f"{role}.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--no-color",
        "--config-file", str(ROOT / "bench" / "fuzz_schemathesis.toml"),
        "run", f"{base}/api/openapi.json",
        "--checks", ",".join(CHECKS), "--max-examples", str(args.max_examples),
        "--workers", str(args.workers), "--request-timeout", "60",
        "--phases", args.phases, "--suppress-health-check", "all",
        "--report", "ndjson,json", "--report-ndjson-path", str(ndjson),
        "--report-json-path", str(report_dir / f"{role}.json"),
    ]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    env = {
        **os.environ, "SCHEMATHESIS_HOOKS": "_fuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT),
                                       os.environ.get("PYTHONPATH", "")]),
        "ACTIONDESK_FUZZ_STATE_URL": state_url, "ACTIONDESK_FUZZ_EMAIL": email,
        "ACTIONDESK_SECRET_KEY": SECRET_KEY,
    }
    print(f"\n== fuzzing as {role} ({email})", flush=True)
    started = time.monotonic()
    with open(report_dir / f"{role}.out", "w") as out:
        # Our own interpreter's schemathesis with arguments built here.
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                              check=False)
    tally = tally_ndjson(role, ndjson)
    tally.seconds = time.monotonic() - started
    tally.exit_code = done.returncode
    found = re.search(r"Runtime Error: (\d+)", (report_dir / f"{role}.out").read_text())
    tally.runtime_errors = int(found.group(1)) if found else 0
    return tally


# uvicorn (h11 and httptools alike) refuses a request line past ~16 KiB: a query of 20,000
# four-byte characters, percent-encoded, is ~240 KB.
MAX_REQUEST_LINE = 16 * 1024


def tally_ndjson(role: str, path: Path) -> Tally:
    """Requests, status codes and failed checks, from schemathesis' event stream."""
    tally = Tally(role)
    if not path.exists():
        raise SetupError(f"schemathesis wrote no report for {role} (see {role}.out)")
    with path.open() as events:
        for line in events:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            cases = recorder.get("cases", {})
            for case_id, interaction in recorder.get("interactions", {}).items():
                request, response = interaction["request"], interaction.get("response")
                tally.requests += 1
                status = response["status_code"] if response else None
                tally.statuses[f"{status // 100}xx" if status else "no answer"] += 1
                where = f"{request['method']} {request['uri']}"
                if status is not None and status >= 500:
                    tally.server_errors.append(f"{status} {where}")
                if status == 400 and len(request["uri"]) > MAX_REQUEST_LINE:
                    tally.refused_by_server += 1
                    continue
                failed = [c["name"] for c in recorder.get("checks", {}).get(case_id, [])
                          if c["status"] == "failure"]
                for name in failed:
                    tally.failed_checks[name] += 1
                if failed and len(tally.examples) < 30:
                    body = cases.get(case_id, {}).get("value", {}).get("body")
                    shown = json.dumps(body)[:200] if body is not None else ""
                    tally.examples.append(f"{','.join(failed)}: {status} {where} {shown}")
    return tally


def report(tallies: list[Tally], server_log: Path) -> int:
    tracebacks = server_log.read_text(errors="replace").count("Traceback") if (
        server_log.exists()) else 0
    print()
    header = (f"{'caller':<8} {'requests':>8} {'2xx':>6} {'3xx':>4} {'4xx':>6} {'5xx':>4} "
              f"{'no answer':>9} {'failed checks':>13} {'seconds':>8}")
    print(header)
    print("-" * len(header))
    for t in tallies:
        s = t.statuses
        print(f"{t.caller:<8} {t.requests:>8,} {s['2xx']:>6,} {s['3xx']:>4} {s['4xx']:>6,} "
              f"{s['5xx']:>4} {s['no answer']:>9} {sum(t.failed_checks.values()):>13} "
              f"{t.seconds:>8.0f}")
    total = sum(t.requests for t in tallies)
    errors = sum(len(t.server_errors) for t in tallies)
    failures = sum(sum(t.failed_checks.values()) for t in tallies)
    stopped = sum(t.runtime_errors for t in tallies)
    print(f"\n{total:,} requests; {errors} answered 5xx; {failures} failed checks; "
          f"{tracebacks} tracebacks in the server log; {stopped} fuzzer runtime errors")
    for t in tallies:
        for line in t.examples[:10]:
            print(f"  {t.caller}: {line}")
    return 1 if errors or failures or tracebacks or stopped else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=positive_int, default=40,
                        help="test cases per operation and phase (default 40)")
    parser.add_argument("--workers", type=positive_int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful",
                        help="schemathesis phases (default: all four)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "test-artifacts" / "fuzz")
    add_database_url(parser, "postgresql://postgres@127.0.0.1:5432/postgres",
                     "with --database postgresql, the fuzz databases go there")
    add_serve_options(parser)
    args = parser.parse_args()
    if args.serve_port:
        serve(args)
        return 0
    report_dir: Path = args.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="actiondesk-fuzz-") as tmp:
            data_url, state_url = database_urls(args, Path(tmp))
            asyncio.run(prepare(data_url, state_url))
            server_log = report_dir / "server.log"
            with server_log.open("w") as log, server_process(
                Path(__file__), "--serve-port",
                ["--data-url", data_url, "--state-url", state_url], Path(tmp),
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, stderr=log,
            ) as (base, process):
                asyncio.run(_ready(base, process))
                tallies = [run_schemathesis(args, base, state_url, role, email, report_dir)
                           for role, email in CALLERS]
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    code = report(tallies, server_log)
    summary = {"database": args.database, "max_examples": args.max_examples,
               "phases": args.phases, "seed": args.seed,
               "checks": list(CHECKS), "callers": [t.to_json() for t in tallies],
               "verdict": "pass" if code == 0 else "fail"}
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"reports: {report_dir}")
    return code


async def _ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await wait_until_ready(client, process, "/api/openapi.json", name="the demo server")


if __name__ == "__main__":
    sys.exit(main())
