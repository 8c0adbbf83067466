"""README "Using it", followed literally on a fresh PostgreSQL database: its module, its TOML
file and its shell commands are read from README.md and run as a user runs them (bash, the
installed ``actiondesk`` command, a real server, curl), so the quick start cannot drift from
the code. The settings API example of "JSON API" runs after it, with the same token."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk.data.urls import to_async_url
from tests.databases import scratch_database
from tests.doc_blocks import BASH, Command, block_named, blocks, commands, section
from tests.live_server import free_port

README_URL = "postgresql://app@db.internal/shop"
README_PORT = "8000"
MARK = "@@command-done@@"
COMPANIES = sa.Table(
    "companies", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
)

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


async def _create_shop(url: str) -> None:
    """The "existing schema" of the quick start: a companies table with two rows."""
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(COMPANIES.metadata.create_all)
            await conn.execute(sa.insert(COMPANIES), [{"name": "Acme"}, {"name": "Globex"}])
    finally:
        await engine.dispose()


async def _statuses(url: str) -> dict[int, str]:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(COMPANIES.c.id, COMPANIES.c.status))
            return {row.id: row.status for row in rows}
    finally:
        await engine.dispose()


def _script(steps: list[Command], port: int) -> str:
    """One bash script running every documented command in order; the server line runs in
    the background until the script ends, and each other command's output ends with MARK."""
    lines = [
        "set -euo pipefail",
        "SERVER=",
        "trap 'if [ -n \"$SERVER\" ]; then kill \"$SERVER\"; wait \"$SERVER\" || true; fi' EXIT",
    ]
    for step in steps:
        line = step.line.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}")
        if line.startswith("actiondesk serve "):
            # Backgrounded here whatever the README says, with its log kept for failures.
            line = re.sub(r"\s+#.*$", "", line).rstrip(" &").replace(
                f"--port {README_PORT}", f"--port {port}")
            assert str(port) in line, "the serve command no longer names --port 8000"
            lines += [
                f"{line} > serve.log 2>&1 &",
                "SERVER=$!",
                "for _ in $(seq 300); do",
                f"  curl -s -o /dev/null http://127.0.0.1:{port}/api/me && break",
                '  kill -0 "$SERVER"; sleep 0.1',
                "done",
            ]
        else:
            lines += [line, f"printf '\\n{MARK}\\n'"]
    return "\n".join(lines) + "\n"


def _run_documented(steps: list[Command], cwd: Path, port: int) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONDESK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run([BASH, "-c", _script(steps, port)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    log = (cwd / "serve.log").read_text() if (cwd / "serve.log").exists() else ""
    assert result.returncode == 0, (
        f"the documented commands failed:\n{result.stdout}\n{result.stderr}\nserver:\n{log}"
    )
    outputs = result.stdout.split(MARK + "\n")
    assert outputs[-1].strip() == "", outputs[-1]
    return outputs[:-1]


def test_using_it_followed_literally_on_postgresql(tmp_path: Path) -> None:
    using_it = section("## Using it")
    module = block_named(using_it, "# myadmin.py").text
    assert README_URL in module, "the quick start no longer points at the documented URL"
    toml = block_named(using_it, "# permissions.toml").text
    shell = [c for b in blocks(using_it, "sh") for c in commands(b)]
    settings_api = [c for b in blocks(section("### The settings API"), "sh")
                    for c in commands(b)]
    assert any(c.line.startswith("actiondesk permissions import") for c in shell)
    assert any(c.line.startswith("actiondesk users create") for c in shell)

    with scratch_database("postgresql", tmp_path) as url:
        asyncio.run(_create_shop(url))
        (tmp_path / "myadmin.py").write_text(module.replace(README_URL, url))
        (tmp_path / "permissions.toml").write_text(toml)

        steps = shell + settings_api
        outputs = _run_documented(steps, tmp_path, free_port())
        ran = [s for s in steps if not s.line.startswith("actiondesk serve ")]
        assert len(outputs) == len(ran)
        for step, output in zip(ran, outputs, strict=True):
            assert step.matches(output), (
                f"{step.line}\nprinted {output.strip()!r}\nthe README shows {step.shown!r}"
            )
        # The empty list, the granted one, the run's answer and the four settings API answers.
        assert sum(1 for s in ran if s.shown) == 7

        # The action changed exactly the selected record, in the user's database.
        assert asyncio.run(_statuses(url)) == {1: "live", 2: "pending"}

    audit = next(o for s, o in zip(ran, outputs, strict=True)
                 if s.line.startswith("actiondesk runs list"))
    assert "mark-as-live" in audit and "succeeded" in audit and "ada@example.com" in audit
