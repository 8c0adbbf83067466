"""The short version of bench/record_writes.py on PostgreSQL: bulk edit and delete on a
select-all served and compared with the raw statements, each checked to touch every selected
row. No figure is asserted, only that the harness measures what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.databases import POSTGRESQL_URL, scratch_database

ROOT = Path(__file__).resolve().parents[2]


def test_the_record_writes_bench_measures_both_actions(tmp_path: Path) -> None:
    with scratch_database("postgresql", tmp_path):  # skips (or fails in CI) without a server
        pass
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "record_writes.py"), "--quick",
         "--database-url", POSTGRESQL_URL],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for slug in ("bulk-edit", "delete"):
        assert re.search(rf"^{slug} +4,000: actiondesk/raw", done.stdout, re.M), done.stdout
        assert f"{slug}: server peak RSS" in done.stdout, done.stdout[-3000:]
