"""How background runs are executed: which runner, how many at once, how long a lease."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import URL

RUNNERS = ("inprocess", "procrastinate")


@dataclass(frozen=True)
class RunnerConfig:
    """``runner``: ``inprocess`` (asyncio tasks in every server process) or
    ``procrastinate`` (``actiondesk worker`` processes; PostgreSQL state database).
    ``concurrency``: runs executed at once per process. ``lease``: how long a runner that
    stopped answering keeps its runs before another one takes them over. Built from the
    desk's settings (``runner``, ``runner_concurrency``, ``run_lease``), checked there."""

    runner: str
    concurrency: int
    lease: dt.timedelta

    @property
    def poll_interval(self) -> float:
        """How often (seconds) runners look for queued runs and expired leases."""
        return min(1.0, self.lease.total_seconds() / 3)


def same_database(data: URL, state: URL) -> bool:
    """Whether the data and the state database are one server database (then a batch and
    its checkpoint commit in one transaction). Never for SQLite files: two engines on one
    file would wait on each other's write lock."""
    backend = data.get_backend_name()
    if backend == "sqlite" or backend != state.get_backend_name():
        return False
    return (data.host or "localhost", data.port, data.database, data.username) == (
        state.host or "localhost", state.port, state.database, state.username
    )
