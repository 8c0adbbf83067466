"""``actiondesk run`` on the built-in record actions: create, edit (with the values it was
made from) and delete, as a user, with the same checks as the API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.auth_support import provision
from tests.editing.editing_app import EMAILS, POLICIES, ROLES, create_tables, make_desk

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests.editing.env_desk:desk"


def test_create_edit_and_delete_from_the_command_line(tmp_path: Path) -> None:
    data, state = f"sqlite:///{tmp_path / 'data.db'}", f"sqlite:///{tmp_path / 'state.db'}"
    asyncio.run(create_tables(data))
    provision(make_desk(data, state), roles=ROLES, policies=POLICIES,
              users={email: (role, None) for role, email in EMAILS.items()})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACTIONDESK_DATABASE_URL": data,
           "ACTIONDESK_STATE_URL": state}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "actiondesk.cli", "run", TARGET, *args,
                               "--as", EMAILS["admin"]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    created = cli("items", "create", "--value", "label=from the shell", "--value", "kind=b")
    assert created.returncode == 0, created.stderr
    assert "items 1 created" in created.stdout
    original = json.dumps({"label": "from the shell"})
    edited = cli("items", "edit", "--ids", "1", "--value", "qty=4",
                 "--value", f"_original={original}")
    assert edited.returncode == 0 and "qty updated" in edited.stdout, edited
    stale = cli("items", "edit", "--ids", "1", "--value", "qty=5",
                "--value", f"_original={json.dumps({'qty': 0})}")
    assert stale.returncode == 1 and "changed since" in stale.stdout + stale.stderr, stale
    deleted = cli("items", "delete", "--ids", "1")
    assert deleted.returncode == 0 and "Deleted 1 record of items" in deleted.stdout, deleted
