"""The short version of bench/fuzz_api.py: the same fuzzer, demo server and checks, with two
examples per operation in the fuzzing phase only (the full run takes minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_fuzzer_finds_no_server_error_and_no_schema_break(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz_api.py"), "--max-examples", "2",
         "--phases", "fuzzing", "--workers", "1", "--seed", "1",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    for caller in summary["callers"]:
        assert caller["requests"] >= 40, caller  # every operation was tried
        assert caller["server_errors"] == 0 and caller["failed_checks"] == {}
