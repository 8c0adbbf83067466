"""``actiondesk demo`` as a user runs it: ``--print-token`` gives a bearer token the demo server
accepts (the README's example runs as written), and the logins it prints say what each role
may do, compared here with what the server answers each demo user."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from actiondesk.demo.access import DEMO_LOGINS
from actiondesk.demo.app import create_demo_desk
from actiondesk.editing import BUILTIN_SLUGS
from tests.doc_blocks import BASH, block_named, commands, section
from tests.live_server import free_port, wait_until_serving

ACTIONDESK = str(Path(sys.executable).parent / "actiondesk")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ACTIONDESK_")}


def _demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ACTIONDESK, "demo", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=180)


@dataclass(frozen=True)
class DemoServer:
    url: str
    directory: Path
    token: str  # the support user's, printed before the server started
    printed: str  # what `actiondesk demo` printed before serving


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    directory = tmp_path_factory.mktemp("demo-cli")
    printed = _demo("--print-token", "--user", "support", cwd=directory)
    assert printed.returncode == 0, printed.stderr
    port = free_port()
    log = directory / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen([ACTIONDESK, "demo", "--port", str(port)], cwd=directory,
                                   env={**_env(), "PYTHONUNBUFFERED": "1"}, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/api/me", process, "the demo")
        yield DemoServer(url, directory, printed.stdout, log.read_text())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_print_token_prints_only_a_token_the_demo_accepts(demo: DemoServer) -> None:
    token = demo.token.strip()
    assert demo.token == token + "\n" and token.count(".") == 2  # a JWT, alone on stdout
    me = httpx.get(demo.url + "/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["user"]["email"] == "support@demo.example"
    assert me.json()["user"]["role"] == "support"


def test_print_token_for_an_email_and_for_an_unknown_user(demo: DemoServer) -> None:
    manager = _demo("--print-token", "--user", "manager@demo.example", "--expires", "1h",
                    cwd=demo.directory)
    assert manager.returncode == 0, manager.stderr
    me = httpx.get(demo.url + "/api/me",
                   headers={"Authorization": f"Bearer {manager.stdout.strip()}"})
    assert me.json()["user"]["role"] == "manager"
    unknown = _demo("--print-token", "--user", "nobody", cwd=demo.directory)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert "no demo user 'nobody'" in unknown.stderr and "Traceback" not in unknown.stderr


def test_readme_demo_token_example_runs_as_written(demo: DemoServer) -> None:
    block = block_named(section("## The two commands"), "TOKEN=$(.venv/bin/actiondesk demo "
                        "--print-token --user support)")
    script = "\n".join(c.line for c in commands(block))
    script = script.replace(".venv/bin/actiondesk", ACTIONDESK)
    script = script.replace("http://127.0.0.1:8000", demo.url)
    result = subprocess.run([BASH, "-euo", "pipefail", "-c", script], cwd=demo.directory,
                            env=_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    rules = {a["slug"]: a["rule"] for a in httpx.Response(200, text=result.stdout)
             .json()["actions"]}
    assert rules == {"mark-as-live": "trigger", "show-some-activity": "trigger",
                     "add-new-transaction": "approval", "edit": "trigger"}


def _printed_access(printed: str, email: str) -> dict[str, str]:
    """The lines printed under one login: {"runs": ..., "runs once approved": ..., ...}."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {email} "))
    found: dict[str, str] = {}
    for line in lines[start + 1:]:
        if not line.startswith("      "):
            break
        key, _, value = line.strip().partition(": ")
        found[key] = value
    return found


def _slugs(listed: str | None, every: set[str]) -> set[str]:
    if listed is None or listed == "nothing":
        return set()
    if listed == f"every action ({len(every)})":
        return every
    return {re.sub(r" \(only when .*\)$", "", part) for part in listed.split(", ")}


def _named(action: dict[str, Any], collection: str | None) -> str:
    """As the logins name an action: a built-in record action with its collection."""
    return f"{collection}/{action['slug']}" if action.get("builtin") else action["slug"]


async def _every_action(path: Path) -> set[str]:
    """Every action of the demo desk once started (the record actions are added at start-up)."""
    desk = create_demo_desk(path, secret_key="Vq3x9Lm2Rt8Wz5Ny7Pb4Hc6Jd1Kf0Gs-cli-test")
    await desk.start()
    try:
        return {_named({"slug": a.slug, "builtin": a.builtin}, a.collection)
                for a in desk.registry.all()}
    finally:
        await desk.stop()


def test_printed_logins_say_what_the_server_lets_each_role_do(demo: DemoServer) -> None:
    every = asyncio.run(_every_action(demo.directory / "actiondesk-demo.db"))
    assert {"companies/edit", "customers/delete", "transactions/create"} <= every
    admin = _demo("--print-token", cwd=demo.directory).stdout.strip()
    policies = httpx.get(demo.url + "/api/settings/policies",
                         headers={"Authorization": f"Bearer {admin}"}).json()["policies"]
    for login in DEMO_LOGINS:
        with httpx.Client(base_url=demo.url) as client:
            signed_in = client.post("/api/login", json={"email": login.email,
                                                         "password": login.password})
            assert signed_in.status_code == 200, signed_in.text
            rules: dict[str, str] = {}
            for collection in client.get("/api/collections").json()["collections"]:
                listed = client.get(f"/api/collections/{collection['name']}/actions")
                rules.update({_named(a, collection["name"]): a["rule"]
                              for a in listed.json()["actions"]})
            rules.update({a["slug"]: a["rule"] for a in client.get("/api/actions")
                          .json()["actions"]})
        printed = _printed_access(demo.printed, login.email)
        assert _slugs(printed.get("runs"), every) == {
            s for s, r in rules.items() if r == "trigger"}, login.role
        assert _slugs(printed.get("runs once approved"), every) == {
            s for s, r in rules.items() if r == "approval"}, login.role
        assert _slugs(printed.get("approves"), every) == {
            _named({"slug": p["action"], "builtin": p["action"] in BUILTIN_SLUGS},
                   p["collection"])
            for p in policies if p["role"] == login.role and p["can_approve"]
        }, login.role
    support = _printed_access(demo.printed, "support@demo.example")
    approved = support["runs once approved"]
    assert "charge-credit-card (only when amount is greater than 1,000)" in approved
    # The README says the same of the demo's logins.
    readme = " ".join(section("## The two commands").split())
    for login in DEMO_LOGINS:
        assert f"`{login.email}` / `{login.password}`" in readme
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight"]
    assert f"{words[len(support['runs'].split(', '))]} actions" in readme
    assert "not accounts, so no transfers" in readme and "account-transfer" not in str(support)
