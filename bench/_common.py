"""What the benchmarks share (not a benchmark itself): the server subprocess and its readiness,
the PostgreSQL bench databases, the bench caller, percentiles, argument checks, report rules.

The scripts run as ``python bench/<script>.py``, so this module is importable as ``_common``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import URL, make_url

URL_ENV = "ACTIONDESK_BENCH_POSTGRESQL_URL"
BENCH_DATABASE = "actiondesk_bench"
STATE_DATABASE = "actiondesk_bench_state"
T = TypeVar("T")
MIB = 1024 * 1024
SERVER_START_TIMEOUT_S = 60.0

# A throwaway local server, but a key a real desk accepts (32+ random-looking characters).
SECRET_KEY = "bench-local-Qx7vK2mZp9LwR4tY8nB3cF6hJ1dG5sA0"  # noqa: S105
BENCH_ROLE = "bench"
BENCH_EMAIL = "bench@bench.example"

START_HINT = (
    " (is PostgreSQL running? try "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`)"
)


class SetupError(Exception):
    """The benchmark cannot run: database, data set or server."""


# ---------------------------------------------------------------------------------------------
# The server process


def stop_when_orphaned() -> None:
    """Shut down (gracefully) if the benchmark that started us dies without stopping us."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def server_process(
    script: Path,
    port_option: str,
    options: Sequence[str],
    workdir: Path,
    env: Mapping[str, str] | None = None,
    stderr: IO[str] | None = None,
    prefix: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``script`` (a uvicorn server) with our interpreter on ``port`` (a free one if not
    given); yield (base URL, process); always stop it on the way out. ``stderr`` takes the
    server's log; ``prefix`` goes before the interpreter (``taskset -c 0``: a command that
    execs it, so the process is the server's)."""
    port = port or free_port()
    command = [*prefix, sys.executable, str(script), port_option, str(port), *options]
    # Our own interpreter running our own script; nothing comes from outside.
    process = subprocess.Popen(command, cwd=workdir, env=env, stderr=stderr)  # noqa: S603
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_until_ready(
    client: httpx.AsyncClient,
    process: subprocess.Popen[bytes],
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    name: str = "the actiondesk server",
) -> None:
    """Poll ``GET path`` until it answers 200; SetupError if the server dies or times out."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_problem = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"{name} exited with code {process.returncode}")
        try:
            response = await client.get(path, params=params)
        except httpx.TransportError as exc:
            last_problem = repr(exc)
        else:
            if response.status_code == 200:
                return
            last_problem = f"HTTP {response.status_code}: {response.text[:300]}"
        await asyncio.sleep(0.1)
    raise SetupError(f"{name} did not answer in time ({last_problem})")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def postgresql_url(url: str) -> URL:
    """``--database-url`` checked and made a plain ``postgresql://`` URL (as asyncpg wants)."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise SetupError(f"--database-url {url!r} is not a valid URL: {exc}") from exc
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise SetupError(f"--database-url must be a PostgreSQL URL, got {parsed.drivername!r}")
    return parsed.set(drivername="postgresql")


def with_database(url: URL, database: str) -> str:
    """``url`` pointing at ``database``, password included (it is for our own connections)."""
    return url.set(database=database).render_as_string(hide_password=False)


async def connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        shown = make_url(dsn).render_as_string(hide_password=True)
        hint = START_HINT if isinstance(exc, OSError) else ""
        raise SetupError(f"cannot connect to {shown}: {exc}{hint}") from exc


async def create_databases(admin_dsn: str, *, fresh_state: bool) -> str:
    """Create the data database if absent and, with ``fresh_state``, the state database anew;
    return the server version."""
    admin = await connect(admin_dsn)
    try:
        exists = await admin.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", BENCH_DATABASE
        )
        if not exists:
            print(f"creating database {BENCH_DATABASE}", flush=True)
            await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
        if fresh_state:
            # The state database is the benchmark's own: made anew on every run, so the runs
            # audit starts empty and the schema is the one of the actiondesk under test.
            await admin.execute(f'DROP DATABASE IF EXISTS "{STATE_DATABASE}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{STATE_DATABASE}"')
        version: str = await admin.fetchval("SHOW server_version")
    except asyncpg.PostgresError as exc:
        raise SetupError(f"cannot create the benchmark databases: {exc}") from exc
    finally:
        await admin.close()
    return version


# ---------------------------------------------------------------------------------------------
# The caller


async def provision(data_url: str, state_url: str, table: str, slugs: Sequence[str],
                    **desk_options: Any) -> str:
    """The role ``bench`` with a trigger policy on each action of ``slugs`` and the user the
    benchmark calls as; return its bearer token (signed with the servers' secret key). The
    table must exist; ``desk_options`` go to the Desk (``collections=`` for built-ins)."""
    from actiondesk import Desk
    from actiondesk.permissions.service import Policy, RoleSpec

    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET_KEY,
                include=[table], **desk_options)
    await desk.start()
    try:
        if (await desk.permissions.snapshot()).role(BENCH_ROLE) is None:
            await desk.permissions.put_role(RoleSpec(BENCH_ROLE, read_all=True))
        for slug in slugs:
            await desk.permissions.put_policy(Policy(BENCH_ROLE, table, slug))
        user = await desk.users.by_email(BENCH_EMAIL) or await desk.users.create(
            BENCH_EMAIL, role=BENCH_ROLE
        )
        return desk.tokens.access(user, dt.timedelta(hours=12))
    finally:
        await desk.stop()


# ---------------------------------------------------------------------------------------------
# Statistics and report


def percentile(samples: Sequence[float], p: int) -> float:
    """The p-th percentile (inclusive method); the sample itself when there is one."""
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def print_table_head(header: str) -> None:
    print(header)
    print("-" * len(header))


# ---------------------------------------------------------------------------------------------
# Arguments


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_database_url(parser: argparse.ArgumentParser, default: str, where: str) -> None:
    """``--database-url`` (default: ``$ACTIONDESK_BENCH_POSTGRESQL_URL`` or ``default``);
    ``where`` says what goes where on that server."""
    parser.add_argument(
        "--database-url", default=os.environ.get(URL_ENV, default),
        help=f"a database on the PostgreSQL server to use (default: ${URL_ENV} or "
        f"{default}); {where}",
    )


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """The server side of a benchmark: the script started again by itself."""
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-url", help=argparse.SUPPRESS)
    parser.add_argument("--state-url", help=argparse.SUPPRESS)


@dataclass(frozen=True)
class Urls:
    admin: str
    data: str
    state: str


def database_urls(url: str) -> Urls:
    plain = postgresql_url(url)
    return Urls(
        admin=plain.render_as_string(hide_password=False),
        data=with_database(plain, BENCH_DATABASE),
        state=with_database(plain, STATE_DATABASE),
    )


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def mib(kib: int) -> str:
    return f"{kib * 1024 / MIB:.1f}"


def run_sizes(
    args: argparse.Namespace,
    run_all: Callable[[argparse.Namespace, Urls, Path], list[T]],
    report: Callable[[list[T], argparse.Namespace, str], None],
) -> int:
    """The body of a benchmark over table sizes: databases, a work dir, run, report; exit 2
    on a setup failure."""
    args.sizes = sorted(args.sizes)
    try:
        urls = database_urls(args.database_url)
        version = asyncio.run(create_databases(urls.admin, fresh_state=True))
        print(f"PostgreSQL {version}: sizes {', '.join(f'{r:,}' for r in args.sizes)}",
              flush=True)
        with tempfile.TemporaryDirectory(prefix="actiondesk-bench-") as workdir:
            results = run_all(args, urls, Path(workdir))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    report(results, args, version)
    return 0
