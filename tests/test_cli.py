"""The ``actiondesk`` command, run as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from actiondesk import Desk
from tests.auth_support import ADMIN_EMAIL, token_for
from tests.live_server import free_port
from tests.sample_schema import create_and_seed, metadata

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
        "from tests.sample_schema import create_and_seed, metadata\n"
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


def test_check_names_bad_settings_from_the_environment(tmp_path: Path, pythonpath: str) -> None:
    write_app(tmp_path, f"sqlite:///{tmp_path / 'd.db'}")
    result = run(["check", "myadmin:desk"], tmp_path, PYTHONPATH=pythonpath,
                 ACTIONDESK_RUN_LEASE="soon", ACTIONDESK_MAX_PAGE_SIZE="lots")
    assert result.returncode == 1
    assert "2 problem(s)" in result.stderr
    assert "ACTIONDESK_MAX_PAGE_SIZE must be a whole number, got 'lots'" in result.stderr
    assert "ACTIONDESK_RUN_LEASE must be a number of seconds, got 'soon'" in result.stderr
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


def _provision_admin(tmp_path: Path, url: str) -> None:
    desk = Desk(database_url=url, state_url=f"sqlite:///{tmp_path / 'state.db'}",
                secret_key="k", models=[metadata])
    token_for(desk)


def test_users_and_tokens_commands(tmp_path: Path, pythonpath: str) -> None:
    # Users live in the state database (SQLite here); the data backend does not matter.
    sample_db = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_and_seed(sample_db))
    write_app(tmp_path, sample_db)
    _provision_admin(tmp_path, sample_db)
    env = {"PYTHONPATH": pythonpath}
    role = run(["roles", "create", "myadmin:desk", "support", "--read", "companies",
                "--read", "transactions", "--export"], tmp_path, **env)
    assert role.returncode == 0, role.stderr
    roles = run(["roles", "list", "myadmin:desk"], tmp_path, **env)
    assert "support" in roles.stdout and "companies, transactions, exports" in roles.stdout
    created = run(["users", "create", "myadmin:desk", "ops@test.example", "--role", "admin",
                   "--first-name", "Op", "--password", "long-enough-pass"], tmp_path, **env)
    assert created.returncode == 0, created.stderr
    listed = run(["users", "list", "myadmin:desk"], tmp_path, **env)
    assert "ops@test.example" in listed.stdout and ADMIN_EMAIL in listed.stdout
    duplicate = run(["users", "create", "myadmin:desk", "ops@test.example", "--role", "admin",
                     "--no-password"], tmp_path, **env)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad_role = run(["users", "create", "myadmin:desk", "x@test.example", "--role", "ghost",
                    "--no-password"], tmp_path, **env)
    assert bad_role.returncode == 1 and "no role named 'ghost'" in bad_role.stderr
    short = run(["users", "create", "myadmin:desk", "y@test.example", "--role", "admin",
                 "--password", "short"], tmp_path, **env)
    assert short.returncode == 1 and "at least 8" in short.stderr
    bad_expiry = run(["tokens", "create", "myadmin:desk", "--user", "ops@test.example",
                      "--expires", "forever"], tmp_path, **env)
    assert bad_expiry.returncode == 2 and "90m, 12h or 30d" in bad_expiry.stderr
    moved = run(["users", "set-role", "myadmin:desk", "ops@test.example", "ghost"], tmp_path,
                **env)
    assert moved.returncode == 1
    off = run(["users", "deactivate", "myadmin:desk", "ops@test.example"], tmp_path, **env)
    assert off.returncode == 0 and "deactivated" in off.stdout
    refused = run(["tokens", "create", "myadmin:desk", "--user", "ops@test.example"], tmp_path,
                  **env)
    assert refused.returncode == 1 and "deactivated" in refused.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_starts_a_real_server(sample_db: str, tmp_path: Path, pythonpath: str,
                                    workers: int) -> None:
    write_app(tmp_path, sample_db)
    _provision_admin(tmp_path, sample_db)
    token = run(["tokens", "create", "myadmin:desk", "--user", ADMIN_EMAIL, "--expires", "1h"],
                tmp_path, PYTHONPATH=pythonpath)
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": "Bearer " + token.stdout.strip()}
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "myadmin:desk", "--port", str(port), "--workers", str(workers)],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": pythonpath},
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Application startup complete") < workers:
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.2)
        # Whichever process answers, the token (signed by the CLI) is good.
        for _ in range(4 * workers):
            response = httpx.get(f"http://127.0.0.1:{port}/api/collections", timeout=10,
                                 headers=headers)
            assert response.status_code == 200
            assert len(response.json()["collections"]) == 4
        assert log.read_text().count("Started server process") == workers
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_serve_with_workers_refuses_a_desk_without_a_shared_secret_key(
    tmp_path: Path, pythonpath: str,
) -> None:
    (tmp_path / "keyless.py").write_text(
        "from actiondesk import Desk\n"
        f"desk = Desk(database_url='sqlite:///{tmp_path}/d.db', "
        f"state_url='sqlite:///{tmp_path}/s.db')\n")
    env = {"PYTHONPATH": pythonpath, "ACTIONDESK_SECRET_KEY": ""}
    answer = run(["serve", "keyless:desk", "--port", str(free_port()), "--workers", "2"],
                 tmp_path, **env)
    assert answer.returncode == 1
    assert "ACTIONDESK_SECRET_KEY" in answer.stderr
    assert "random key of its own" in answer.stderr
