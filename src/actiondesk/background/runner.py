"""What a runner is, and what it needs of the background runs it executes."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.background.config import RunnerConfig
from actiondesk.data.state import StateStore


class Runner(Protocol):
    """Where queued runs are executed."""

    name: str

    async def enqueue(self, conn: AsyncConnection, run_id: str) -> None:
        """Enqueue inside the transaction that records the run."""

    def wake(self) -> None:
        """A run was just queued by this process."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class RunHost(Protocol):
    """The background runs a runner serves (``BackgroundRuns``)."""

    config: RunnerConfig
    store: StateStore
    owner: str

    async def due(self, runner: str, limit: int, skip: set[str]) -> list[str]:
        """Runs of ``runner`` waiting for a process."""

    async def execute(self, run_id: str) -> bool:
        """Claim the run and execute it to its end."""
