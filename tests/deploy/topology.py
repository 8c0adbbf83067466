"""deploy/compose.yaml read as a plan, and started as local processes: the same commands,
environment and proxy configuration, with the containers' host names and ports mapped to
127.0.0.1 and free ports, and the PostgreSQL service to a scratch database."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.background.processes import process
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    plan: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return plan


def services(prefix: str) -> list[str]:
    return sorted(name for name in compose()["services"] if name.startswith(prefix))


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's ``${NAME}`` / ``${NAME:?message}`` / ``${NAME:-default}`` substitution, for
    the variables the deployment documents (a missing one is an error, as in compose)."""
    def value(match: re.Match[str]) -> str:
        return variables[match.group(1)]

    return _VARIABLE.sub(value, text)


def environment(service: str, variables: Mapping[str, str], database_url: str) -> dict[str, str]:
    declared = compose()["services"][service].get("environment", {})
    env = {key: interpolate(str(value), variables) for key, value in declared.items()}
    for key in ("ACTIONDESK_DATABASE_URL", "ACTIONDESK_STATE_URL"):
        if key in env:
            env[key] = database_url  # the postgres service is a scratch database here
    return {**os.environ, "PYTHONPATH": str(ROOT), **env}


def command(service: str, **replace: str) -> list[str]:
    """The service's command as a local one: ``actiondesk`` and ``python`` of this venv, and
    each ``--option value`` of ``replace`` given its local value."""
    argv = shlex.split(compose()["services"][service]["command"])
    for option, local in replace.items():
        flag = "--" + option.replace("_", "-")
        argv[argv.index(flag) + 1] = local
    if argv[0] == "actiondesk":
        return [sys.executable, "-m", "actiondesk.cli", *argv[1:]]
    assert argv[0] == "python", argv
    return [sys.executable, *argv[1:]]


def nginx_conf(upstreams: Mapping[str, int], port: int, workdir: Path) -> Path:
    """deploy/nginx.conf with the servers' host names at their local ports, inside a main
    configuration that an unprivileged nginx can run (its paths in ``workdir``)."""
    site = (DEPLOY / "nginx.conf").read_text()
    for name, local in upstreams.items():
        site, found = re.subn(rf"\bserver {re.escape(name)}:8000\b",
                              f"server 127.0.0.1:{local}", site)
        assert found == 1, f"{name} is not an upstream of deploy/nginx.conf"
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (workdir / "site.conf").write_text(site)
    main = workdir / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
        "events { worker_connections 256; }\nhttp {\n"
        f"  access_log {workdir}/access.log;\n"
        + "".join(f"  {kind}_temp_path {workdir}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {workdir}/site.conf;\n}}\n")
    return main


@dataclass
class Topology:
    proxy: str
    servers: dict[str, str]
    logs: Path
    pids: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


def wait_for(url: str, procs: Mapping[str, subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} stopped:\n" + (logs / f"{name}.log").read_text()
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer"
        time.sleep(0.2)


@contextmanager
def started(nginx: str, database_url: str, variables: Mapping[str, str],
            logs: Path) -> Iterator[Topology]:
    """Set-up job, then servers, workers and proxy, in compose's order; all stopped after."""
    setup = subprocess.run(command("setup"), cwd=DEPLOY, capture_output=True, text=True,
                           env=environment("setup", variables, database_url), timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    with ExitStack() as stack:
        ports = {name: free_port() for name in services("server-")}
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, port in ports.items():
            argv = command(name, host="127.0.0.1", port=str(port))
            procs[name] = stack.enter_context(_process(
                argv, environment(name, variables, database_url), logs / f"{name}.log"))
        for name in services("worker-"):
            procs[name] = stack.enter_context(_process(
                command(name), environment(name, variables, database_url),
                logs / f"{name}.log"))
        for port in ports.values():
            wait_for(f"http://127.0.0.1:{port}/login", procs, logs)
        proxy_port = free_port()
        conf = nginx_conf(ports, proxy_port, logs)
        procs["proxy"] = stack.enter_context(_process(
            [nginx, "-c", str(conf), "-p", str(logs), "-g", "daemon off;"], dict(os.environ),
            logs / "proxy.log"))
        proxy = f"http://127.0.0.1:{proxy_port}"
        wait_for(proxy + "/login", procs, logs)
        yield Topology(proxy, {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}, logs,
                       procs)


def _process(argv: list[str], env: dict[str, str], log: Path) -> Any:
    """``argv`` started in deploy/ (where the image's WORKDIR has app.py), stopped after."""
    return process(argv, env, log, command=[], cwd=DEPLOY)
