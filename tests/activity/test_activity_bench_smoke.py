"""The short version of bench/activity.py: it fills a runs audit, reads activity pages and
prints its figures. No figure is asserted, only that the harness runs and finds activity."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_activity_bench_runs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "activity.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = re.search(r"\(20 entries, ([\d.]+) found on average\)", done.stdout)
    assert found and float(found.group(1)) > 0, done.stdout
    assert "ratio activity / runs page:" in done.stdout
