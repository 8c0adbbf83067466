"""README "Lists: exports and saved views", run as written: the views module is executed as
a user's module, served, and every documented curl command runs in bash against it; the
outputs must match what README shows (the CSV block included)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from actiondesk import Desk
from actiondesk.permissions.service import RoleSpec
from tests.auth_support import access_token, provision
from tests.doc_blocks import BASH, block_named, blocks, commands, section
from tests.live_server import live_server

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def run(line: str, base: str, token: str, cwd: Path) -> str:
    done = subprocess.run([BASH, "-c", line.replace("http://127.0.0.1:8000", base)],
                          cwd=cwd, env={**os.environ, "TOKEN": token}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_lists_section_runs_as_written(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    text = section("## Lists: exports and saved views")
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        conn.execute("CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                     "status TEXT NOT NULL)")
        conn.executemany("INSERT INTO companies VALUES (?, ?, ?)",
                         [(1, "Acme", "live"), (2, "Globex", "pending"),
                          (3, "=Initech", "live")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACTIONDESK_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("ACTIONDESK_SECRET_KEY", "readme-lists-secret")
    module: dict[str, object] = {}
    exec(block_named(text, "# views.py").text, module)  # noqa: S102 - README's own code
    desk = module["desk"]
    assert isinstance(desk, Desk)
    roles = [RoleSpec("admin", is_admin=True, read_all=True, can_export=True),
             RoleSpec("support", read_all=True), RoleSpec("manager", read_all=True)]
    users = provision(desk, roles=roles, users={"ada@shop.example": ("admin", None)})
    token = access_token(desk, users["ada@shop.example"])
    shell = blocks(text, "sh")
    expected_csv = blocks(text, "csv")[0].text
    with live_server(desk) as base:
        steps = [step for block in shell for step in commands(block)]
        assert len(steps) == 4
        first = run(steps[0].line, base, token, tmp_path)
        assert first.replace("\r\n", "\n").strip() == expected_csv.strip()
        for step in steps[1:]:
            output = run(step.line, base, token, tmp_path)
            assert step.matches(output), f"{step.line}\nprinted: {output}\nREADME: {step.shown}"
