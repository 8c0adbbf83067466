"""README "Permissions in a TOML file": the complete example, read from README.md, imported by
the real ``actiondesk permissions import`` into a desk declaring the actions it names, and
read back by ``actiondesk permissions export``: every key the example sets is in force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.doc_blocks import ROOT, block_named, section

CLI = [sys.executable, "-m", "actiondesk.cli"]
MODULE = '''\
from actiondesk import ActionContext, Desk, Success, fields as f

desk = Desk(database_url={data!r}, state_url={state!r},
            secret_key="Vq3x9Lm2Rt8Wz5Ny7Pb4Hc6Jd1Kf0Gs-cli-test")


@desk.action("companies", name="Mark as Live")
async def mark_as_live(ctx: ActionContext) -> None: ...


@desk.action("customers", name="Charge credit card", form=[f.Decimal("amount")])
async def charge(ctx: ActionContext) -> Success: ...


@desk.action(name="Refresh stats")
async def refresh_stats(ctx: ActionContext) -> None: ...
'''


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONDESK_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _normal(entry: dict[str, Any]) -> dict[str, Any]:
    """Conditions compared as filters, not as their JSON text."""
    return {k: json.loads(v) if k in ("condition", "enabled_if") else v
            for k, v in entry.items()}


def test_the_complete_toml_example_imports_and_exports(tmp_path: Path) -> None:
    example = block_named(section("### Permissions in a TOML file"), "# perms.toml").text
    data = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{data}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
    engine.dispose()
    (tmp_path / "myadmin.py").write_text(
        MODULE.format(data=f"sqlite:///{data}", state=f"sqlite:///{tmp_path / 'state.db'}")
    )
    (tmp_path / "perms.toml").write_text(example)

    imported = _cli("permissions", "import", "myadmin:desk", "perms.toml", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 role(s), 3 policy(ies), 1 action setting(s)" in imported.stdout

    exported = _cli("permissions", "export", "myadmin:desk", "-", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    wanted, got = tomllib.loads(example), tomllib.loads(exported.stdout)
    for table in ("role", "policy", "action"):
        assert len(got[table]) == len(wanted[table]), table
        for entry in wanted[table]:
            assert any(_normal(entry).items() <= _normal(e).items() for e in got[table]), (
                f"[[{table}]] {entry} is not in force: {got[table]}"
            )
