"""The short version of bench/batches_read.py (SQLite, 2,000 rows): every side reads every
selected row, the report is printed. No figure is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_batches_bench_reads_every_row_on_every_side() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "batches_read.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sides = [line.split()[2] for line in done.stdout.splitlines()
             if line.startswith("sqlite ") and "2,000" in line]
    assert sides == ["selection.batches", "ctx.batches", "raw"], done.stdout
    assert "peak Python allocations during selection.batches" in done.stdout
