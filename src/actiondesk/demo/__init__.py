"""Deterministic demo dataset: a fictional fintech back office to explore actiondesk with."""

from actiondesk.demo.models import DemoBase
from actiondesk.demo.seed import DEMO_COUNTS, seed_demo

__all__ = ["DEMO_COUNTS", "DemoBase", "seed_demo"]
