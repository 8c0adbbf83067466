"""The ``actiondesk`` command, run as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

CLI = [sys.executable, "-m", "actiondesk.cli"]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CLI + args, cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )


def write_app(tmp_path: Path, url: str, extra: str = "") -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    (tmp_path / "myadmin.py").write_text(
        "from actiondesk import Desk\n"
        "from tests.sample_schema import metadata\n"
        f"desk = Desk(database_url={url!r}, state_url={state!r}, secret_key='k', "
        f"models=[metadata]{extra})\n"
    )


@pytest.fixture
def pythonpath() -> str:
    return str(Path(__file__).resolve().parents[1])


def test_check_ok(sample_db: str, tmp_path: Path, pythonpath: str) -> None:
    write_app(tmp_path, sample_db)
    result = run(["check", "myadmin:desk"], tmp_path, PYTHONPATH=pythonpath)
    assert result.returncode == 0, result.stderr
    assert "ok: 4 collections" in result.stdout
    assert "audit_log" in result.stdout


def test_check_lists_all_problems(sample_db: str, tmp_path: Path, pythonpath: str) -> None:
    write_app(tmp_path, sample_db, ", include=['companies', 'ghosts', 'phantoms']")
    result = run(["check", "myadmin:desk"], tmp_path, PYTHONPATH=pythonpath)
    assert result.returncode == 1
    assert "2 problem(s)" in result.stderr
    assert "'ghosts'" in result.stderr and "'phantoms'" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_bad_target(tmp_path: Path) -> None:
    result = run(["check", "nomodule"], tmp_path)
    assert result.returncode == 2 and "MODULE:ATTR" in result.stderr
    result = run(["check", "json:nothing"], tmp_path)
    assert result.returncode == 2 and "no attribute" in result.stderr


def test_check_configuration_error_at_import(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        "from actiondesk import Desk\n"
        "desk = Desk(database_url='oracle://x/y', state_url='sqlite:///state.db', "
        "secret_key='k')\n"
    )
    result = run(["check", "broken:desk"], tmp_path)
    assert result.returncode == 1 and "supports sqlite, postgresql" in result.stderr


def test_demo_seeds_once(tmp_path: Path) -> None:
    first = run(["demo", "--no-serve", "--path", "d.db"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "seeded with 14,300 rows in 7 tables" in first.stdout
    second = run(["demo", "--no-serve", "--path", "d.db"], tmp_path)
    assert "already holds" in second.stdout


def test_serve_starts_a_real_server(sample_db: str, tmp_path: Path, pythonpath: str) -> None:
    write_app(tmp_path, sample_db)
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "myadmin:desk", "--port", str(port)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/collections", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        assert len(response.json()["collections"]) == 4
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
