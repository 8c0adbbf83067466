"""The figures the fault tests measure, gathered in test-artifacts/faults-summary.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUMMARY = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults-summary.json"


def record_figure(name: str, figure: dict[str, Any]) -> None:
    """Add (or replace) one named figure in the summary file."""
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    found[name] = figure
    SUMMARY.write_text(json.dumps(found, indent=2, default=str))
