"""The short version of bench/export_list.py (20,000 rows on SQLite): the API's download and
the raw driver's are both measured and count the same rows. No figure is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_export_bench_measures_both_sides() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "export_list.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = {m.group(1): m.group(0) for m in re.finditer(
        r"^([\d,]+) rows +[\d,]+ +[\d,]+ +[\d.]+x +[\d.]+ +[\d.]+$", done.stdout, re.M)}
    assert set(lines) == {"2,000", "20,000"}, done.stdout
