"""The UI tests leave nothing behind for the tests that run after them: a UI test, then a test
that calls ``asyncio.run`` (once "asyncio.run() cannot be called from a running event loop",
playwright's loop still marked running in the main thread), in a pytest of their own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.databases import unavailable
from tests.ui.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
UI_TEST = "tests/ui/test_demo_ui.py::test_sign_in_shell_and_sign_out"
THEN = "tests/remote/test_remote_config.py::test_an_endpoint_action_needs_a_known_provider"


def test_a_test_calling_asyncio_run_passes_after_a_ui_test() -> None:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", UI_TEST, THEN],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-4000:]
