"""Server and worker subprocesses of the background test desk (``env_desk.py``), which the
tests may SIGKILL like a crashed machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "actiondesk.cli"]
TARGET = "tests.background.env_desk:desk"


def environment(data_url: str, state_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "ACTIONDESK_DATABASE_URL": data_url,
            "ACTIONDESK_STATE_URL": state_url, "ACTIONDESK_RUN_LEASE": "2", **extra}


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path, *,
            command: list[str] = CLI, cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``actiondesk <args>`` (or ``command + args``) in ``cwd``; stopped (SIGTERM, then
    SIGKILL) on the way out."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command + args, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def server(
    env: dict[str, str], token: str, log: Path, target: str = TARGET
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with process(["serve", target, "--port", str(port)], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/api/me", headers={"Authorization": f"Bearer {token}"},
                             timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start: " + log.read_text()
            time.sleep(0.1)
        yield base, proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    """Like a crash: no clean-up of any kind."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
