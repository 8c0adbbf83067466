"""``actiondesk runs`` and ``actiondesk migrate``, run as a user runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from actiondesk.data.state import StateStore
from actiondesk.runs.store import RunsService
from tests.test_cli import run


@pytest.fixture
def pythonpath() -> str:
    return str(Path(__file__).resolve().parents[1])


def write_desk(tmp_path: Path) -> str:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    (tmp_path / "myadmin.py").write_text(
        "from actiondesk import Desk\n"
        f"desk = Desk(database_url={'sqlite:///' + str(tmp_path / 'data.db')!r}, "
        f"state_url={state_url!r}, secret_key='k')\n"
    )
    return state_url


async def record(state_url: str) -> list[str]:
    store = StateStore(state_url)
    await store.start()
    runs = RunsService(store)
    try:
        first = await runs.begin(
            action_slug="mark-live", action_name="Mark as live", collection="companies",
            scope="bulk", caller={"id": "u-1", "email": "alice@example.com"},
            selection={"ids": ["1", "2"]}, values={"reason": "launch"}, record_count=2,
        )
        assert isinstance(first, str)
        await runs.finish(first, status="succeeded", status_code=200, result_kind="success",
                          message="2 companies are live\nnow", result={"success": "ok"})
        second = await runs.record_refusal(
            action_slug="refund", action_name="Refund", collection="transactions",
            scope="single", caller={"id": "u-2", "email": "bob@example.com"},
            selection={"ids": ["9"]}, status_code=403, message="not allowed",
        )
    finally:
        await store.close()
    return [first, second]


@pytest.fixture
def desk_dir(tmp_path: Path) -> tuple[Path, list[str]]:
    state_url = write_desk(tmp_path)
    return tmp_path, asyncio.run(record(state_url))


def test_migrate(tmp_path: Path, pythonpath: str) -> None:
    write_desk(tmp_path)
    for _ in range(2):
        result = run(["migrate", "myadmin:desk"], tmp_path, PYTHONPATH=pythonpath)
        assert result.returncode == 0, result.stderr
        assert "revision run_partitions" in result.stdout
    assert (tmp_path / "state.db").exists()


def test_runs_list(desk_dir: tuple[Path, list[str]], pythonpath: str) -> None:
    cwd, _ = desk_dir
    result = run(["runs", "list", "myadmin:desk"], cwd, PYTHONPATH=pythonpath)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "STARTED", "STATUS", "ACTION", "COLLECTION", "CALLER", "RECORDS", "DURATION", "MESSAGE"
    ]
    assert "refused" in lines[1] and "bob@example.com" in lines[1] and "not allowed" in lines[1]
    assert "succeeded" in lines[2] and "mark-live" in lines[2]
    assert "2 companies are live now" in lines[2]
    assert lines[-1] == "2 of 2 run(s)"

    only = run(["runs", "list", "myadmin:desk", "--status", "succeeded", "--caller",
                "alice@example.com", "--json"], cwd, PYTHONPATH=pythonpath)
    body = json.loads(only.stdout)
    assert body["count"] == 1 and body["runs"][0]["action_slug"] == "mark-live"

    limited = run(["runs", "list", "myadmin:desk", "--limit", "1"], cwd, PYTHONPATH=pythonpath)
    assert limited.stdout.splitlines()[-1] == "1 of 2 run(s)"
    none = run(["runs", "list", "myadmin:desk", "--action", "nope"], cwd, PYTHONPATH=pythonpath)
    assert none.returncode == 0 and none.stdout.strip() == "no runs"


def test_runs_list_bad_status(desk_dir: tuple[Path, list[str]], pythonpath: str) -> None:
    cwd, _ = desk_dir
    result = run(["runs", "list", "myadmin:desk", "--status", "done"], cwd,
                 PYTHONPATH=pythonpath)
    assert result.returncode == 1
    assert "status" in result.stderr and "succeeded" in result.stderr
    assert "Traceback" not in result.stderr


def test_runs_show(desk_dir: tuple[Path, list[str]], pythonpath: str) -> None:
    cwd, (first, _) = desk_dir
    result = run(["runs", "show", "myadmin:desk", first], cwd, PYTHONPATH=pythonpath)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"run:          {first}" in out
    assert "Mark as live (mark-live, bulk)" in out and "alice@example.com (id u-1)" in out
    assert "succeeded (HTTP 200)" in out and '"reason": "launch"' in out

    as_json = run(["runs", "show", "myadmin:desk", first, "--json"], cwd, PYTHONPATH=pythonpath)
    assert json.loads(as_json.stdout)["id"] == first

    missing = run(["runs", "show", "myadmin:desk", "nope"], cwd, PYTHONPATH=pythonpath)
    assert missing.returncode == 1 and "no run 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
