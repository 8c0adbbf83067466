"""How background runs are executed: which runner, how many at once, how long a lease."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import URL

from actiondesk.errors import ConfigurationError

RUNNERS = ("inprocess", "procrastinate")


@dataclass(frozen=True)
class RunnerConfig:
    """``runner``: ``inprocess`` (asyncio tasks in every server process; the default) or
    ``procrastinate`` (``actiondesk worker`` processes; PostgreSQL state database).
    ``concurrency``: runs executed at once per process. ``lease``: how long a runner that
    stopped answering keeps its runs before another one takes them over."""

    runner: str = "inprocess"
    concurrency: int = 4
    lease: dt.timedelta = dt.timedelta(seconds=30)
    poll_interval: float = 1.0

    @classmethod
    def resolve(
        cls,
        runner: str | None = None,
        concurrency: int | None = None,
        lease: dt.timedelta | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RunnerConfig:
        env = os.environ if environ is None else environ
        problems = []
        name = runner or env.get("ACTIONDESK_RUNNER") or "inprocess"
        if name not in RUNNERS:
            problems.append(f"runner must be one of {', '.join(RUNNERS)}, not {name!r}")

        def number(given: float | None, variable: str, default: float) -> float:
            if given is not None:
                return given
            raw = env.get(variable)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                problems.append(f"{variable} must be a number, got {raw!r}")
                return default

        slots = number(concurrency, "ACTIONDESK_RUNNER_CONCURRENCY", 4)
        seconds = number(lease.total_seconds() if lease is not None else None,
                         "ACTIONDESK_RUN_LEASE", 30)
        if slots != int(slots) or slots < 1:
            problems.append("runner_concurrency must be a whole number >= 1")
        if seconds < 1:
            problems.append("run_lease must be at least 1 second")
        if problems:
            raise ConfigurationError("; ".join(problems), problems)
        return cls(runner=name, concurrency=int(slots), lease=dt.timedelta(seconds=seconds),
                   poll_interval=min(1.0, seconds / 3))


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
