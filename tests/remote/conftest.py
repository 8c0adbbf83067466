from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import admin_api, served
from tests.live_server import free_port
from tests.remote.remote_desk import Remote, build_desk

ROOT = Path(__file__).resolve().parents[2]


def start_remote_process() -> tuple[subprocess.Popen[bytes], Remote]:
    """The remote test services in their own process (tests.remote.remote_app)."""
    port, wsgi_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.remote.remote_app", "--port", str(port),
         "--wsgi-port", str(wsgi_port)],
        cwd=ROOT,
    )
    remote = Remote(base=f"http://127.0.0.1:{port}", wsgi=f"http://127.0.0.1:{wsgi_port}",
                    down=f"http://127.0.0.1:{free_port()}/actions")
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(remote.base + "/calls", timeout=1).status_code == 200:
                return process, remote
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the remote test service did not start")
        time.sleep(0.1)


def stop_remote_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def remote_service() -> Iterator[Remote]:
    process, remote = start_remote_process()
    try:
        yield remote
    finally:
        stop_remote_process(process)


@pytest.fixture(scope="session")
def remote_server(
    sample_db: str, remote_service: Remote, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A desk with remote providers over each backend's sample data (dev mode)."""
    state = tmp_path_factory.mktemp("remote-state") / "state.db"
    desk = build_desk(sample_db, f"sqlite:///{state}", remote_service)
    with served(desk) as base_url:
        yield base_url


@pytest.fixture
def rapi(remote_server: str) -> Iterator[httpx.Client]:
    with admin_api(remote_server) as api_client:
        yield api_client


@pytest.fixture
def calls(remote_service: Remote) -> Iterator[httpx.Client]:
    """The remote's record of the messages it executed (cleared before each test)."""
    with httpx.Client(base_url=remote_service.base, timeout=10) as control:
        control.delete("/calls")
        yield control
