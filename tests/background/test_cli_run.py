"""``actiondesk run``, ``runs follow``, ``runs cancel`` and ``worker``, run as a user runs
them (subprocesses on a SQLite desk)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from tests.background.background_app import (
    ADMIN,
    ITEMS,
    OPS,
    OPS2,
    VIEWER,
    build_desk,
    counters,
    create_items,
    tokens_for,
)
from tests.background.processes import CLI, ROOT, TARGET, environment, process


def _setup(tmp_path: Path) -> dict[str, str]:
    data, state = f"sqlite:///{tmp_path / 'data.db'}", f"sqlite:///{tmp_path / 'state.db'}"
    asyncio.run(create_items(data))
    tokens_for(build_desk(data, state))
    return environment(data, state)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_run_queues_executes_and_shows_progress(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    done = _cli(["run", TARGET, "items", "process", "--all", "--as", OPS,
                 "--value", "batch=20", "--value", "delay=0.2"], env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("run ") and "queued" in lines[0]
    bars = [line for line in lines if line.startswith("[")]
    assert any(f"/{ITEMS}" in b and "running" in b for b in bars), done.stdout
    assert bars[-1].startswith("[" + "#" * 30 + "] 100.0% 120/120")
    assert lines[-1].endswith(f"succeeded: {ITEMS} processed")
    assert counters(env["ACTIONDESK_DATABASE_URL"]) == [1] * ITEMS
    run_id = lines[0].split()[1]
    followed = _cli(["runs", "follow", TARGET, run_id], env)
    assert followed.returncode == 0 and followed.stdout.endswith("processed\n")


def test_run_executes_a_partitioned_run_here(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    done = _cli(["run", TARGET, "items", "split", "--all", "--as", OPS, "--value", "batch=7"],
                env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith(
        f"succeeded: {ITEMS} processed in 4 partitions, from 1")
    assert counters(env["ACTIONDESK_DATABASE_URL"]) == [1] * ITEMS


def test_run_with_ids_a_filter_and_an_inline_action(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    inline = _cli(["run", TARGET, "items", "touch", "--ids", "1,2", "--ids", "3", "--as", OPS],
                  env)
    assert inline.returncode == 0 and '{"success": "3 touched"}' in inline.stdout
    filtered = _cli(["run", TARGET, "items", "process", "--all", "--as", OPS, "--filter",
                     '{"field": "id", "operator": "less_than", "value": 11}'], env)
    assert filtered.returncode == 0, filtered.stderr
    assert filtered.stdout.splitlines()[-1].endswith("succeeded: 10 processed")


def test_run_refuses_like_the_api(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    refused = _cli(["run", TARGET, "items", "process", "--all", "--as", VIEWER], env)
    # Hidden from the viewer: as if it did not exist, as over HTTP.
    assert refused.returncode == 1 and "no action 'process' on items" in refused.stderr
    unknown = _cli(["run", TARGET, "items", "process", "--all", "--as", "nobody@bg.test"], env)
    assert unknown.returncode == 1 and "no active user" in unknown.stderr
    bad = _cli(["run", TARGET, "items", "process", "--ids", "1", "--all", "--as", OPS], env)
    assert bad.returncode == 2 and "not both" in bad.stderr
    failed = _cli(["run", TARGET, "items", "explode", "--all", "--as", OPS], env)
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[-1].endswith("failed: RuntimeError: boom at batch 2")


def test_cancel_from_the_cli_and_a_worker_process(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    queued = _cli(["run", TARGET, "items", "process", "--all", "--as", OPS, "--no-follow",
                   "--value", "batch=10", "--value", "delay=1.5"], env)
    assert queued.returncode == 0, queued.stderr
    run_id = queued.stdout.split()[1]
    refused = _cli(["runs", "cancel", TARGET, run_id, "--as", OPS2], env)
    assert refused.returncode == 1 and "caller or an admin" in refused.stderr
    with process(["worker", TARGET], env, tmp_path / "worker.log"):
        followed = subprocess.Popen([*CLI, "runs", "follow", TARGET, run_id], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, text=True)
        assert followed.stdout is not None
        first = followed.stdout.readline()
        assert first.startswith("["), first
        cancelled = _cli(["runs", "cancel", TARGET, run_id, "--as", ADMIN], env)
        assert cancelled.returncode == 0 and "cancel requested" in cancelled.stdout
        out, _ = followed.communicate(timeout=60)
    assert followed.returncode == 1
    assert "cancelled after" in out.splitlines()[-1], out
