"""Providers over time, with a remote process of their own: refresh on demand, periodically and
from the CLI; a remote that dies mid-call; a provider that is down keeps its last known list,
marked stale, also across a restart. The state database is SQLite (the data side does not
matter here)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actiondesk import Desk
from tests.auth_support import client, token_for
from tests.live_server import live_server
from tests.remote.conftest import ROOT, start_remote_process, stop_remote_process
from tests.remote.remote_app import SECRET
from tests.remote.remote_desk import Remote
from tests.sample_schema import create_and_seed, metadata
from tests.support import jsonapi


@pytest.fixture
def data_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_and_seed(url))
    return url


@pytest.fixture
def own_remote() -> Iterator[tuple[subprocess.Popen[bytes], Remote]]:
    process, remote = start_remote_process()
    try:
        yield process, remote
    finally:
        stop_remote_process(process)


def make_desk(data_url: str, state: Path, remote: Remote, *, refresh_interval: float = 0,
              tick: float = 0.2) -> Desk:
    desk = Desk(database_url=data_url, state_url=f"sqlite:///{state}", secret_key="k",
                models=[metadata], dev_mode=True, remote_refresh_interval=refresh_interval)
    desk.remote_provider("native", url=remote.base + "/native/", secret=SECRET, timeout=3)
    desk.remote_provider("garbage", url=remote.base + "/garbage", secret=SECRET, timeout=3)
    desk.remote.tick = tick
    return desk


def until(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """Poll ``check`` until it is truthy (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def slugs(api: httpx.Client) -> dict[str, Any]:
    actions = api.get("/collections/companies/actions").json()["actions"]
    return {a["slug"]: a for a in actions}


def provider(api: httpx.Client, name: str) -> dict[str, Any]:
    found: dict[str, Any] = {p["name"]: p for p in
                             api.get("/settings/remote").json()["providers"]}[name]
    return found


def test_a_remote_that_dies_mid_call_then_stays_down(
    data_url: str, tmp_path: Path, own_remote: tuple[subprocess.Popen[bytes], Remote]
) -> None:
    process, remote = own_remote
    state = tmp_path / "state.db"
    desk = make_desk(data_url, state, remote)
    token = token_for(desk)
    with live_server(desk) as base, client(base + "/api", token) as api:
        assert api.post("/collections/companies/actions/count", json=jsonapi(["1"])
                        ).status_code == 200
        died = api.post("/collections/companies/actions/die", json=jsonapi(["1"]))
        assert died.status_code == 502, died.text
        assert "broke off the exchange" in died.json()["error"]
        run = api.get(f"/runs/{died.json()['detail']['run_id']}").json()
        assert run["status"] == "failed" and run["status_code"] == 502
        process.wait(timeout=10)
        # Down now: the list is kept, marked stale; its actions answer 502 at once.
        refreshed = api.post("/settings/remote/refresh").json()
        native = {p["name"]: p for p in refreshed["providers"]}["native"]
        assert native["status"] == "stale" and "cannot be reached" in native["error"]
        listed = slugs(api)
        assert listed["count"]["remote"] == {"provider": "native", "stale": True}
        down = api.post("/collections/companies/actions/count", json=jsonapi(["1"]))
        assert down.status_code == 502 and "cannot be reached" in down.json()["error"]
        assert api.get(f"/runs/{down.json()['detail']['run_id']}").json()["status"] == "failed"
    # A restart while the remote is down: the stored list, stale.
    again = make_desk(data_url, state, remote)
    with live_server(again) as base, client(base + "/api", token) as api:
        assert slugs(api)["count"]["remote"]["stale"] is True
        assert provider(api, "native")["status"] == "stale"
        assert provider(api, "native")["fetched_at"] is not None


def test_refresh_on_demand_takes_changes_and_survives_a_broken_list(
    data_url: str, tmp_path: Path, own_remote: tuple[subprocess.Popen[bytes], Remote]
) -> None:
    _, remote = own_remote
    desk = make_desk(data_url, tmp_path / "state.db", remote)
    token = token_for(desk)
    with live_server(desk) as base, client(base + "/api", token) as api, \
            httpx.Client(base_url=remote.base) as control:
        assert "ship" in slugs(api)
        control.post("/control", json={"native_list": "changed"})
        api.post("/settings/remote/refresh", params={"provider": "native"})
        listed = slugs(api)
        assert "brand-new" in listed and "ship" not in listed
        gone = api.post("/collections/companies/actions/ship", json=jsonapi(["1"]))
        assert gone.status_code == 404
        control.post("/control", json={"native_list": "broken"})
        api.post("/settings/remote/refresh", params={"provider": "native"})
        native = provider(api, "native")
        assert native["status"] == "stale" and "must be a JSON list" in native["error"]
        assert "brand-new" in slugs(api)  # the last known list stays


def test_periodic_refresh_and_lists_shared_between_processes(
    data_url: str, tmp_path: Path, own_remote: tuple[subprocess.Popen[bytes], Remote]
) -> None:
    _, remote = own_remote
    state = tmp_path / "state.db"
    periodic = make_desk(data_url, state, remote, refresh_interval=1)
    on_demand = make_desk(data_url, state, remote)  # another process, never fetching itself
    token = token_for(periodic)
    with live_server(periodic) as one, live_server(on_demand) as two, \
            client(one + "/api", token) as api_one, client(two + "/api", token) as api_two, \
            httpx.Client(base_url=remote.base) as control:
        assert "ship" in slugs(api_one) and "ship" in slugs(api_two)
        control.post("/control", json={"native_list": "changed"})
        until(lambda: "brand-new" in slugs(api_one), "the periodic refresh")
        until(lambda: "brand-new" in slugs(api_two), "the other process took the stored list")


def test_cli_refresh_and_check_report_every_provider(
    data_url: str, tmp_path: Path, own_remote: tuple[subprocess.Popen[bytes], Remote]
) -> None:
    _, remote = own_remote
    state = f"sqlite:///{tmp_path / 'state.db'}"
    (tmp_path / "remoteadmin.py").write_text(
        "from actiondesk import Desk\n"
        "from tests.sample_schema import metadata\n"
        f"desk = Desk(database_url={data_url!r}, state_url={state!r}, secret_key='k', "
        "models=[metadata])\n"
        f"desk.remote_provider('native', url={remote.base + '/native/'!r}, "
        f"secret={SECRET!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "ACTIONDESK_REMOTE_DOWN_URL": remote.down,
           "ACTIONDESK_REMOTE_DOWN_SECRET": SECRET, "ACTIONDESK_REMOTE_DOWN_TIMEOUT": "2"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "actiondesk.cli", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env=env)

    refreshed = cli("remote", "refresh", "remoteadmin:desk")
    assert refreshed.returncode == 1, refreshed.stderr  # 'down' cannot be reached
    assert "native: ok, 19 action(s), 7 skipped" in refreshed.stdout
    assert "companies/ship  Ship [single]" in refreshed.stdout
    assert "skipped #19 'Unknown collection'" in refreshed.stdout
    assert "down: unavailable" in refreshed.stdout and "cannot be reached" in refreshed.stdout
    only = cli("remote", "refresh", "remoteadmin:desk", "--provider", "native")
    assert only.returncode == 0 and "down:" not in only.stdout
    unknown = cli("remote", "refresh", "remoteadmin:desk", "--provider", "nope")
    assert unknown.returncode == 1 and "no remote provider 'nope'" in unknown.stderr
    checked = cli("check", "remoteadmin:desk")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert "remote provider 'down': remote provider 'down' cannot be reached" in checked.stderr
    assert "declaration #20 'Typo' skipped: unknown key(s) enabledIf" in checked.stderr
