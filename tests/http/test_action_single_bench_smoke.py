"""The short version of bench/action_single.py on SQLite: every system served, loaded by wrk,
its updates read back and its SQL statements counted. No figure is asserted, only that the
harness measures what it says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("taskset") is None
    or not {0, 1} <= os.sched_getaffinity(0),
    reason="needs wrk, taskset and cores 0 and 1 (the bench installs wrk itself; tests don't)",
)
def test_the_single_action_bench_measures_every_system(tmp_path: Path) -> None:
    out = tmp_path / "action_single.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "action_single.py"), "--quick",
         "--backend", "sqlite", "--concurrency", "8", "--json", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "WARNING" not in done.stdout, done.stdout[-3000:]
    (backend,) = json.loads(out.read_text())["backends"]
    systems = {system["key"]: system for system in backend["systems"]}
    assert list(systems) == ["floor", "handwritten-full", "handwritten-normal", "handwritten-sa",
                            "actiondesk"]
    for system in systems.values():
        figures = system["by_concurrency"]["8"]
        assert figures["rate"] > 0 and figures["non_2xx"] == 0 and figures["updates_match"]
    # The raw endpoints' statements are known exactly: the count is honest.
    assert systems["floor"]["statements"]["by_kind"] == {"UPDATE": 1.0}
    for key in ("handwritten-full", "handwritten-normal"):
        assert systems[key]["statements"]["by_kind"] == {"INSERT": 1.0, "UPDATE": 2.0}
    # actiondesk's include its audit writes and transaction statements.
    assert systems["actiondesk"]["statements"]["by_kind"]["INSERT"] >= 1
    assert systems["actiondesk"]["statements"]["per_action"] > 3
    assert "| actiondesk (bearer token, policy, audit) |" in done.stdout
