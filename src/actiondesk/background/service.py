"""Background runs: queue a run, let a runner execute it, follow and cancel it.

An action declared with ``background=True`` (or ``background_above=N`` and a larger
selection) is not run during the request: ``submit`` records the run as ``queued`` with the
typed form values it needs, and asks the runner to enqueue it in the same transaction; the
execute request answers 202 with the run at once.

A runner (the in-process one by default, Procrastinate workers for several machines) calls
``execute(run_id)``. One conditional UPDATE claims the run — queued, or running with an
expired lease (its runner died) — so two processes never run it at once. While it runs, a
heartbeat extends the lease; every batch of ``ctx.batches()`` writes a checkpoint, so a run
taken over after a crash resumes after its last committed batch. ``cancel`` stops a queued
run at once and a running one after its current batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.batches import LeaseLost
from actiondesk.actions.caller import Caller, ParentContext
from actiondesk.actions.results import Rendered
from actiondesk.actions.spec import Action
from actiondesk.background.config import RunnerConfig, same_database
from actiondesk.background.partitions import Partitions, parse_key, splittable
from actiondesk.background.runner import Runner
from actiondesk.data.state import runs_table, utcnow
from actiondesk.errors import (
    ActionFailedError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
    UpstreamError,
    lost_database,
)
from actiondesk.runs.control import LeasedRunControl
from actiondesk.runs.executor import (
    Executor,
    Job,
    Outcome,
    cancelled_message,
    redact,
)
from actiondesk.runs.frozen_values import FormChangedError, freeze_values, thaw_values
from actiondesk.runs.records import RunRecord, check_same_request
from actiondesk.runs.store import Background, IdempotencyConflict
from actiondesk.selections.rebuild import rebuild_selection

if TYPE_CHECKING:
    from actiondesk.actions.registry import ActionRegistry
    from actiondesk.actions.selection import Selection
    from actiondesk.data.state import StateStore
    from actiondesk.permissions.access import Access
    from actiondesk.selections.resolve import SelectionResolver

log = logging.getLogger("actiondesk.background")

_t = runs_table.c
RunEnded = Callable[[RunRecord], Awaitable[None]]
Sweep = Callable[[], Awaitable[object]]


class BackgroundRuns:
    """Queues, executes, cancels and recovers background runs.

    Layers above learn of a finished run through ``when_run_ends`` (approvals finish the
    request that queued it) and repair what a stopped process left through ``on_sweep``.
    """

    def __init__(
        self,
        registry: ActionRegistry,
        resolver: SelectionResolver,
        executor: Executor,
        store: StateStore,
        config: RunnerConfig,
    ) -> None:
        self.registry = registry
        self.resolver = resolver
        self.executor = executor
        self.runs = executor.runs
        self.store = store
        self.config = config
        self.owner = self.runs.owner
        self.runner: Runner = self._runner()
        self.partitions = Partitions(self, self.runner.name, self.runner.enqueue_partition)
        self._sweeper: asyncio.Task[None] | None = None
        self._run_ended: list[RunEnded] = []
        self._sweeps: list[Sweep] = []

    def _runner(self) -> Runner:
        if self.config.runner == "procrastinate":
            from actiondesk.background.procrastinate import ProcrastinateRunner

            return ProcrastinateRunner(self)
        from actiondesk.background.inprocess import InProcessRunner

        return InProcessRunner(self)

    def when_run_ends(self, listener: RunEnded) -> None:
        """Call ``listener`` with every finished background run."""
        self._run_ended.append(listener)

    def on_sweep(self, repair: Sweep) -> None:
        """Call ``repair`` whenever the runner looks for half-done work."""
        self._sweeps.append(repair)

    async def start(self) -> None:
        await self.runner.start()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="actiondesk-run-sweep")

    async def stop(self) -> None:
        await self.runner.stop()
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await self.runs.close()

    async def _sweep(self) -> None:
        """At start and every lease: inline runs whose process died are marked failed, and
        the layers above repair what they left (``on_sweep``)."""
        while True:
            try:
                await self.runs.sweep_abandoned()
                await self.partitions.sweep()
                await self.sweep()
            except Exception as exc:
                if not lost_database(exc):
                    log.exception("could not look for abandoned runs; retrying")
            await asyncio.sleep(self.config.lease.total_seconds())

    async def sweep(self) -> None:
        for repair in self._sweeps:
            await repair()

    # -- queueing ---------------------------------------------------------------------------

    async def submit(
        self,
        action: Action,
        caller: Caller,
        selection: Selection | None,
        values: Mapping[str, Any],
        total: int,
        idempotency_key: str | None,
    ) -> Outcome:
        """Queue a run of a validated request: the 202 answer with the run."""
        redacted = redact(action, values)
        description = selection.description if selection is not None else {}
        try:
            begun = await self.enqueue(action, caller.to_json(), description, values, redacted,
                                       total if selection is not None else None,
                                       idempotency_key, wake=False)
        except IdempotencyConflict as exc:
            begun = await self.runs.get(exc.detail["run_id"])
        replayed = not isinstance(begun, str)
        run = await self.runs.get(begun) if isinstance(begun, str) else begun
        if not replayed:
            # Woken once the run is read: the 202 always shows it queued, never already
            # claimed by this process's runner.
            self.runner.wake()
        if replayed:
            check_same_request(run, description, redacted)
        body = {"run": run.to_json()}
        message = f"{action.name} is queued to run in the background"
        return Outcome(Rendered(202, body, "queued", message), run.id, replayed, status="queued")

    async def enqueue(
        self,
        action: Action,
        caller: Mapping[str, Any],
        description: Mapping[str, Any],
        values: Mapping[str, Any],
        redacted: Mapping[str, Any],
        total: int | None,
        idempotency_key: str | None = None,
        *,
        wake: bool = True,
    ) -> str | RunRecord:
        """Record a queued run (and enqueue it with the runner, in one transaction); ``wake``
        the in-process runner for it."""
        begun = await self.executor.begin(
            action, caller=caller, selection=description, values=redacted,
            record_count=total, idempotency_key=idempotency_key,
            background=Background(self.runner.name, freeze_values(values),
                                  self.runner.enqueue),
        )
        if wake and isinstance(begun, str):
            self.runner.wake()
        return begun

    async def due(self, runner: str, limit: int, skip: set[str]) -> list[str]:
        """Runs of ``runner`` waiting for a process: queued, or running with an expired
        lease, oldest first."""
        now = utcnow()
        query = (
            sa.select(_t.id)
            .where(_t.runner == runner,
                   sa.or_(_t.status == "queued",
                          sa.and_(_t.status == "running", _t.lease_expires_at < now)))
            .order_by(_t.started_at, _t.id)
            .limit(limit + len(skip))
        )
        async with self.store.read() as conn:
            found = (await conn.scalars(query)).all()
        runs = [run_id for run_id in found if run_id not in skip][:limit]
        # Partitions come after whole runs, and leave a slot of the process to them: a
        # huge partitioned run does not starve small runs.
        room = min(limit - len(runs),
                   max(1, self.config.concurrency - 1) - sum("/" in k for k in skip))
        return runs + await self.partitions.due(room, skip)

    async def run_here(self, run_id: str) -> None:
        """Execute a run in this process, and its partitions if it is split (``actiondesk
        run`` without a server); what another process holds is left to it."""
        await self.execute(run_id)
        limit = max(1, self.config.concurrency)
        while keys := await self.partitions.due(limit, set(), run_id):
            await asyncio.gather(*(self.execute(key) for key in keys))

    async def lease_left(self, key: str) -> float | None:
        """Seconds until the lease of a running run (or partition) expires; None when it is
        not running (any more)."""
        if parse_key(key) is not None:
            return await self.partitions.lease_left(key)
        async with self.store.read() as conn:
            row = (await conn.execute(
                sa.select(_t.status, _t.lease_expires_at).where(_t.id == key))).first()
        if row is None or row.status != "running" or row.lease_expires_at is None:
            return None
        left: float = (row.lease_expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        return left

    async def unserved(self, older_than: dt.timedelta, *, workers: bool = False) -> list[str]:
        """Why background runs wait in vain, a sentence per runner: runs that have waited
        (queued, or running with an expired lease) for more than ``older_than`` for a runner
        this process does not use; with ``workers``, also Procrastinate runs while no
        Procrastinate worker is alive. Runs record their runner, so a worker or server
        started with the wrong one finds out."""
        now = utcnow()
        cutoff = now - older_than
        query = (
            sa.select(_t.runner, sa.func.count(), sa.func.min(_t.started_at))
            .where(_t.runner.is_not(None),
                   sa.or_(sa.and_(_t.status == "queued", _t.started_at <= cutoff),
                          sa.and_(_t.status == "running", _t.lease_expires_at <= cutoff)))
            .group_by(_t.runner)
            .order_by(_t.runner)
        )
        mine = self.config.runner
        found = []
        async with self.store.read() as conn:
            for runner, count, oldest in (await conn.execute(query)).all():
                waiting = (f"{count} background run{'s' if count != 1 else ''} "
                           f"wait{'s' if count == 1 else ''} for the {runner!r} runner (the "
                           f"oldest queued {_age(now - oldest)} ago)")
                if runner != mine:
                    found.append(
                        f"{waiting}, but this process uses runner {mine!r} and never runs "
                        f"them: run `actiondesk worker` (or the server) with "
                        f"ACTIONDESK_RUNNER={runner} (or Desk(runner={runner!r})), like the "
                        "server that queued them")
                elif workers and runner == "procrastinate" and not await _live_workers(
                        conn, self.config.lease):
                    found.append(f"{waiting} and no Procrastinate worker is running: start "
                                 "`actiondesk worker APP` with ACTIONDESK_RUNNER=procrastinate")
        return found

    # -- executing --------------------------------------------------------------------------

    async def execute(self, run_id: str) -> bool:
        """Claim the run and execute it to its end; False when another process holds it or
        it is no longer waiting."""
        if parse_key(run_id) is not None:
            return await self.partitions.execute(run_id)
        claimed = await self._claim(run_id)
        if claimed is None:
            return False
        run, frozen = claimed
        control = LeasedRunControl(
            self.store, run_id, owner=self.owner, lease=self.config.lease,
            same_database=same_database(self.resolver.datasource.url, self.store.url),
            checkpoint=run.checkpoint, done=run.done_count or 0, total=run.record_count,
        )
        heartbeat = asyncio.create_task(self._heartbeat(control))
        try:
            await self._run(run, frozen, control)
        except LeaseLost:
            log.warning("run %s was taken over by another runner; this one stops", run_id)
        except asyncio.CancelledError:
            # The process is stopping: let another runner (or the next start) resume it.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(run_id))
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return True

    async def _claim(self, run_id: str) -> tuple[RunRecord, dict[str, Any]] | None:
        now = utcnow()
        async with self.store.write() as conn:
            done = await conn.execute(
                sa.update(runs_table)
                .where(_t.id == run_id, _t.runner.is_not(None),
                       sa.or_(_t.status == "queued",
                              sa.and_(_t.status == "running", _t.lease_expires_at < now)))
                .values(status="running", lease_owner=self.owner,
                        lease_expires_at=now + self.config.lease,
                        attempts=sa.func.coalesce(_t.attempts, 0) + 1)
            )
            if done.rowcount != 1:
                return None
            frozen = await conn.scalar(sa.select(_t.request_values).where(_t.id == run_id))
        return await self.runs.get(run_id), dict(frozen or {})

    async def _release(self, run_id: str) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                sa.update(runs_table)
                .where(_t.id == run_id, _t.lease_owner == self.owner, _t.status == "running")
                .values(lease_expires_at=utcnow())
            )

    async def _heartbeat(self, control: LeasedRunControl) -> None:
        interval = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                if not await control.heartbeat():
                    return
            except Exception:
                log.exception("heartbeat of run %s failed; retrying", control.run_id)

    async def _run(
        self, run: RunRecord, frozen: dict[str, Any], control: LeasedRunControl
    ) -> None:
        if run.cancel_requested_at is not None:
            await self.executor.finish_early(run.id, "cancelled", cancelled_message(control),
                                             control)
            await self.notify_end(run.id)
            return
        try:
            action = self.registry.get(run.collection, run.action_slug)
            values = thaw_values(action, frozen)
            selection = await rebuild_selection(self.resolver, self.store, action,
                                                run.selection, run.record_count)
        except (NotFoundError, FormChangedError) as exc:
            text = exc.message if isinstance(exc, NotFoundError) else str(exc)
            await self.executor.finish_early(run.id, "failed", f"cannot run any more: {text}",
                                             control)
            await self.notify_end(run.id)
            return
        if action.partitioned and splittable(selection):
            assert selection is not None  # noqa: S101 - splittable
            if await self.partitions.plan(run, action, selection):
                self.runner.wake()
                return
        parent = run.selection.get("parent")
        job = Job(action, Caller.from_json(run.caller), selection, values,
                  ParentContext(**parent) if parent else None)
        # A failure is recorded in the run by the executor; nobody waits for its answer.
        with contextlib.suppress(ActionFailedError, UnavailableError, UpstreamError):
            await self.executor.run(run.id, job, keep_file=True, control=control)
        await self.notify_end(run.id)

    async def notify_end(self, run_id: str) -> None:
        """Tell the listeners (``when_run_ends``) that a run finished."""
        run = await self.runs.get(run_id)
        if run.finished:
            for listener in self._run_ended:
                await listener(run)

    # -- cancelling -------------------------------------------------------------------------

    async def cancel(self, run_id: str, access: Access) -> RunRecord:
        """Cancel a queued run now, or a running one after its current batch. Only the
        run's caller or an admin may."""
        run = await self.runs.get(run_id)
        if not access.is_admin and run.caller.get("id") != access.caller.id:
            raise ForbiddenError("only the run's caller or an admin may cancel it")
        if not run.background:
            raise ConflictError(
                "only background runs can be cancelled; this one ran during its request",
                detail={"status": run.status},
            )
        if run.finished:
            raise ConflictError(
                f"this run is {run.status}; only a queued or running run can be cancelled",
                detail={"status": run.status},
            )
        now = utcnow()
        who = access.caller.email
        async with self.store.write() as conn:
            await conn.execute(
                sa.update(runs_table)
                .where(_t.id == run_id, _t.status.in_(("queued", "running")),
                       _t.cancel_requested_at.is_(None))
                .values(cancel_requested_at=now, cancel_requested_by=who)
            )
            stopped = await conn.execute(
                sa.update(runs_table)
                .where(_t.id == run_id, _t.status == "queued")
                .values(status="cancelled", status_code=200, finished_at=now,
                        message=f"cancelled by {who} before it started",
                        request_values=None,
                        duration_ms=max(0, round((now - run.started_at).total_seconds()
                                                 * 1000)))
            )
        if stopped.rowcount == 1:
            await self.notify_end(run_id)
        return await self.runs.get(run_id)


async def _live_workers(conn: AsyncConnection, lease: dt.timedelta) -> bool:
    """Whether a Procrastinate worker sent a heartbeat within the lease (its own table)."""
    if not await conn.scalar(sa.text("SELECT to_regclass('procrastinate_workers')")):
        return False
    return bool(await conn.scalar(
        sa.text("SELECT count(*) FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => :seconds)"),
        {"seconds": lease.total_seconds()}))


def _age(delta: dt.timedelta) -> str:
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
