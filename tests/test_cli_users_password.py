"""``actiondesk users create`` / ``set-password`` without ``--password`` and without a terminal
to ask on: a usage error saying to pass ``--password``, and nothing created or changed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doc_blocks import ROOT

CLI = [sys.executable, "-m", "actiondesk.cli"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONDESK_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def _said(result: subprocess.CompletedProcess[str]) -> str:
    """The message without the frame typer may draw around it, on one line."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stderr).split())


@pytest.fixture
def desk_dir(tmp_path: Path) -> Path:
    (tmp_path / "myadmin.py").write_text(
        "from actiondesk import Desk\n"
        f"desk = Desk(database_url='sqlite:///{tmp_path / 'data.db'}', "
        f"state_url='sqlite:///{tmp_path / 'state.db'}',\n"
        "    secret_key='Vq3x9Lm2Rt8Wz5Ny7Pb4Hc6Jd1Kf0Gs-cli-test')\n"
    )
    assert _cli("roles", "create", "myadmin:desk", "ops", cwd=tmp_path).returncode == 0
    return tmp_path


def test_create_without_password_off_a_terminal_says_to_pass_it(desk_dir: Path) -> None:
    result = _cli("users", "create", "myadmin:desk", "ada@example.com", "--role", "ops",
                  cwd=desk_dir)
    assert result.returncode == 2, result
    message = _said(result)
    assert "standard input is not a terminal" in message
    assert "pass --password PASSWORD" in message and "--no-password" in message
    assert "Traceback" not in result.stderr
    listed = _cli("users", "list", "myadmin:desk", cwd=desk_dir)
    assert "ada@example.com" not in listed.stdout

    created = _cli("users", "create", "myadmin:desk", "ada@example.com", "--role", "ops",
                   "--password", "correct horse battery", cwd=desk_dir)
    assert created.returncode == 0, created.stderr


def test_set_password_off_a_terminal_says_to_pass_it(desk_dir: Path) -> None:
    created = _cli("users", "create", "myadmin:desk", "ada@example.com", "--role", "ops",
                   "--no-password", cwd=desk_dir)
    assert created.returncode == 0, created.stderr
    result = _cli("users", "set-password", "myadmin:desk", "ada@example.com", cwd=desk_dir)
    assert result.returncode == 2, result
    assert "pass --password PASSWORD" in _said(result)
    changed = _cli("users", "set-password", "myadmin:desk", "ada@example.com", "--password",
                   "correct horse battery", cwd=desk_dir)
    assert changed.returncode == 0 and "password of ada@example.com changed" in changed.stdout
