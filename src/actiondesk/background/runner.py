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

    async def enqueue_partition(self, conn: AsyncConnection, key: str, slot: str) -> None:
        """Enqueue a partition of a run inside the transaction that plans it; partitions of
        one ``slot`` run one after the other (a run's ``max_parallel``)."""

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
        """Claim the run (or partition: ``RUN_ID/N``) and execute it to its end."""

    async def lease_left(self, key: str) -> float | None:
        """Seconds until the lease of a running run or partition expires; None when it is
        not running."""
