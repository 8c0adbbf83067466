"""Background runs on Procrastinate workers (PostgreSQL): ``actiondesk worker MODULE:ATTR``.

A queued run is one Procrastinate job (task ``actiondesk.run``, queue ``actiondesk``, lock
= the run id), deferred on the very psycopg connection and transaction that insert the run
record: the state store uses the psycopg driver with this runner, and the job is deferred with
``task.configure(connection=<that connection>)``. A rolled-back request leaves neither; a
committed one always has its job.

Any number of worker processes (and servers, which only enqueue) share the jobs; Procrastinate
gives each job to one worker, and the run's lease in ``BackgroundRuns.execute`` is the second
guard. When a worker dies (SIGKILL, lost machine), its heartbeat stops: every worker retries
the jobs Procrastinate reports stalled after the run lease, and the worker that gets the job
again takes the run over once its lease has expired and resumes it from its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.state import runs_table
from actiondesk.errors import ConfigurationError

if TYPE_CHECKING:
    from actiondesk.background.runner import RunHost

log = logging.getLogger("actiondesk.background")

QUEUE = "actiondesk"
TASK = "actiondesk.run"
# Procrastinate takes the highest priority first.
RUN_PRIORITY = 0
PARTITION_PRIORITY = -1
# Any fixed 64-bit number: the advisory lock serialising the creation of Procrastinate's schema.
_SCHEMA_LOCK = 0x61637469_6F6E7077
_t = runs_table.c


class ProcrastinateRunner:
    name = "procrastinate"

    def __init__(self, background: RunHost) -> None:
        try:
            import procrastinate
        except ImportError:
            raise ConfigurationError(
                "runner='procrastinate' needs Procrastinate: pip install 'actiondesk[worker]'"
            ) from None
        store = background.store
        if store.dialect != "postgresql":
            raise ConfigurationError(
                "runner='procrastinate' needs a PostgreSQL state database (state_url), where "
                f"its jobs live; this one is {store.dialect}"
            )
        self.background = background
        lease = background.config.lease.total_seconds()
        self.heartbeat = max(0.5, lease / 3)
        self.stalled_after = lease
        conninfo = store.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=conninfo, min_size=1, max_size=background.config.concurrency + 2,
        ))

        @self.app.task(name=TASK, queue=QUEUE)
        async def run(run_id: str) -> None:
            # ``run_id`` is a run's id, or ``RUN_ID/N`` for a partition.
            await self._execute(run_id)

        self.task = run

    async def enqueue(self, conn: AsyncConnection, run_id: str) -> None:
        raw = await conn.get_raw_connection()
        await self.task.configure(connection=raw.driver_connection, lock=run_id,
                                  priority=RUN_PRIORITY).defer_async(run_id=run_id)

    async def enqueue_partition(self, conn: AsyncConnection, key: str, slot: str) -> None:
        # Below whole runs: a free worker takes a small run before the next partition.
        raw = await conn.get_raw_connection()
        await self.task.configure(connection=raw.driver_connection, lock=slot,
                                  priority=PARTITION_PRIORITY).defer_async(run_id=key)

    def wake(self) -> None:
        return

    async def start(self) -> None:
        await self.ensure_schema()

    async def stop(self) -> None:
        return

    async def ensure_schema(self) -> None:
        """Create Procrastinate's tables in the state database if they are missing."""
        async with self.background.store.write() as conn:
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _SCHEMA_LOCK})
            if await conn.scalar(sa.text("SELECT to_regclass('procrastinate_jobs')")):
                return
            raw = await conn.get_raw_connection()
            schema = self.app.schema_manager.get_schema()
            await raw.driver_connection.execute(schema)  # type: ignore[union-attr]

    async def work(self, concurrency: int) -> None:
        """Run a worker until it is stopped (SIGINT / SIGTERM stop it gracefully)."""
        # A worker may start before any server has created Procrastinate's tables.
        await self.ensure_schema()
        async with self.app.open_async():
            sweeper = asyncio.create_task(self._retry_stalled())
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE], concurrency=concurrency, name=self.background.owner,
                    update_heartbeat_interval=self.heartbeat,
                    stalled_worker_timeout=self.stalled_after,
                    fetch_job_polling_interval=min(5.0, self.heartbeat),
                    delete_jobs="successful",
                )
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper

    async def _retry_stalled(self) -> None:
        manager = self.app.job_manager
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                stalled = await manager.get_stalled_jobs(
                    queue=QUEUE, seconds_since_heartbeat=self.stalled_after)
                for job in stalled:
                    log.warning("job %s (run %s) lost its worker; retrying it", job.id,
                                job.task_kwargs.get("run_id"))
                    await manager.retry_job(job)
            except Exception:
                log.exception("could not look for stalled jobs; retrying")

    async def _execute(self, key: str) -> None:
        """Execute the run (or partition); when another runner still holds its lease (its
        worker is being declared dead), wait for the lease to expire and take it over."""
        background = self.background
        while not await background.execute(key):
            wait = await background.lease_left(key)
            if wait is None:
                return
            await asyncio.sleep(min(max(wait, 0.1) + 0.1, self.stalled_after))

