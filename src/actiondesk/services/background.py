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
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.batches import LeaseLost, RunCancelled, RunControl
from actiondesk.actions.context import ActionContext, Caller, ParentContext
from actiondesk.actions.results import ActionError, Error, Rendered, render
from actiondesk.actions.spec import Action
from actiondesk.data.state import runs_table
from actiondesk.errors import (
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    lost_database,
)
from actiondesk.services._approval_values import FormChangedError, freeze_values, thaw_values
from actiondesk.services._run_selection import rebuild_selection
from actiondesk.services.runs import (
    Background,
    IdempotencyConflict,
    RunRecord,
    check_same_request,
)

if TYPE_CHECKING:
    from actiondesk.actions.engine import ActionsService, Outcome
    from actiondesk.actions.selection import Selection
    from actiondesk.data.state import StateStore
    from actiondesk.services.access import Access
    from actiondesk.services.approvals import ApprovalsService
    from actiondesk.services.runs import RunsService

log = logging.getLogger("actiondesk.background")

RUNNERS = ("inprocess", "procrastinate")
_t = runs_table.c


class Runner(Protocol):
    """Where queued runs are executed."""

    name: str

    async def enqueue(self, conn: AsyncConnection, run_id: str) -> None:
        """Enqueue inside the transaction that records the run."""

    def wake(self) -> None:
        """A run was just queued by this process."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


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


class BackgroundRuns:
    """Queues, executes, cancels and recovers background runs."""

    def __init__(
        self, actions: ActionsService, runs: RunsService, store: StateStore,
        config: RunnerConfig,
    ) -> None:
        self.actions = actions
        self.runs = runs
        self.store = store
        self.config = config
        self.approvals: ApprovalsService | None = None
        self.owner = runs.owner
        self.runner: Runner = self._runner()
        self._sweeper: asyncio.Task[None] | None = None

    def _runner(self) -> Runner:
        if self.config.runner == "procrastinate":
            from actiondesk.services._runner_procrastinate import ProcrastinateRunner

            return ProcrastinateRunner(self)
        from actiondesk.services._runner_inprocess import InProcessRunner

        return InProcessRunner(self)

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
        """At start and every lease: inline runs whose process died are marked failed."""
        while True:
            try:
                await self.runs.sweep_abandoned()
            except Exception as exc:
                if not lost_database(exc):
                    log.exception("could not look for abandoned runs; retrying")
            await asyncio.sleep(self.config.lease.total_seconds())

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
        from actiondesk.actions.engine import Outcome, redact

        redacted = redact(action, values)
        description = selection.description if selection is not None else {}
        try:
            begun = await self.enqueue(action, caller.to_json(), description, values, redacted,
                                       total if selection is not None else None,
                                       idempotency_key)
        except IdempotencyConflict as exc:
            begun = await self.runs.get(exc.detail["run_id"])
        replayed = not isinstance(begun, str)
        run = await self.runs.get(begun) if isinstance(begun, str) else begun
        if replayed:
            check_same_request(run, description, redacted)
        body = {"run": run.to_json()}
        message = f"{action.name} is queued to run in the background"
        return Outcome(Rendered(202, body, "queued", message), run.id, replayed)

    async def enqueue(
        self,
        action: Action,
        caller: Mapping[str, Any],
        description: Mapping[str, Any],
        values: Mapping[str, Any],
        redacted: Mapping[str, Any],
        total: int | None,
        idempotency_key: str | None = None,
    ) -> str | RunRecord:
        """Record a queued run (and enqueue it with the runner, in one transaction)."""
        begun = await self.runs.begin(
            action_slug=action.slug, action_name=action.name, collection=action.collection,
            scope=action.scope.value, caller=caller, selection=description,
            values=redacted, record_count=total if action.collection else None,
            idempotency_key=idempotency_key,
            background=Background(self.runner.name, freeze_values(values),
                                  self.runner.enqueue),
        )
        if isinstance(begun, str):
            self.runner.wake()
        return begun

    async def due(self, runner: str, limit: int, skip: set[str]) -> list[str]:
        """Runs of ``runner`` waiting for a process: queued, or running with an expired
        lease, oldest first."""
        now = _now()
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
        return [run_id for run_id in found if run_id not in skip][:limit]

    async def unserved(self, older_than: dt.timedelta, *, workers: bool = False) -> list[str]:
        """Why background runs wait in vain, a sentence per runner: runs that have waited
        (queued, or running with an expired lease) for more than ``older_than`` for a runner
        this process does not use; with ``workers``, also Procrastinate runs while no
        Procrastinate worker is alive. Runs record their runner, so a worker or server
        started with the wrong one finds out."""
        now = _now()
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
        claimed = await self._claim(run_id)
        if claimed is None:
            return False
        run, frozen = claimed
        control = RunControl(
            self.store, run_id, owner=self.owner, lease=self.config.lease,
            same_database=same_database(self.actions.datasource.url, self.store.url),
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
        now = _now()
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
                .values(lease_expires_at=_now())
            )

    async def _heartbeat(self, control: RunControl) -> None:
        interval = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                if not await control.heartbeat():
                    return
            except Exception:
                log.exception("heartbeat of run %s failed; retrying", control.run_id)

    async def _run(self, run: RunRecord, frozen: dict[str, Any], control: RunControl) -> None:
        if run.cancel_requested_at is not None:
            await self._end(run, control, "cancelled", message=_cancelled(control))
            return
        try:
            action = self.actions.registry.get(run.collection, run.action_slug)
            values = thaw_values(action, frozen)
            selection = await rebuild_selection(self.actions, self.store, action, run)
        except (NotFoundError, FormChangedError) as exc:
            text = exc.message if isinstance(exc, NotFoundError) else str(exc)
            await self._end(run, control, "failed", message=f"cannot run any more: {text}")
            return
        parent = run.selection.get("parent")
        context = ActionContext(
            caller=Caller.from_json(run.caller), action=action,
            collection=self.actions._collection_of(action), selection=selection,
            values=values, parent=ParentContext(**parent) if parent else None,
            db=self.actions.datasource.engine if action.is_async
            else self.actions.datasource.sync_engine,
            run_id=run.id, control=control,
        )
        try:
            rendered = render(await context.run_handler())
            if rendered.file is not None:
                from actiondesk.actions.engine import _materialise

                rendered = await _materialise(rendered)
        except RunCancelled:
            await self._end(run, control, "cancelled", message=_cancelled(control))
            return
        except ActionError as exc:
            rendered = render(Error(exc.message, exc.html))
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("background run %s of %s failed", run.id, action.slug)
            await self._end(run, control, "failed", status_code=500,
                            message=f"{type(exc).__name__}: {exc}"[:2000])
            return
        file = rendered.file
        await self._end(
            run, control, "succeeded" if rendered.status < 400 else "error",
            status_code=rendered.status, result_kind=rendered.kind, message=rendered.message,
            result=rendered.body,
            result_file=file.content if file is not None and isinstance(file.content, bytes)
            else None,
            result_filename=rendered.message if file is not None else None,
            result_mime=file.mime if file is not None else None,
        )

    async def _end(
        self, run: RunRecord, control: RunControl, status: Any, *, message: str | None,
        status_code: int = 200, result_kind: str | None = None, **result: Any,
    ) -> None:
        async with self.store.write() as conn:
            await conn.execute(sa.update(runs_table)
                               .where(_t.id == run.id, _t.lease_owner == self.owner)
                               .values(done_count=control.done))
        try:
            await self.runs.finish(run.id, status=status, status_code=status_code,
                                   result_kind=result_kind, message=message,
                                   owner=self.owner, **result)
        except ValueError:
            raise LeaseLost(run.id) from None
        await self.finish_approval(run.id)

    async def finish_approval(self, run_id: str) -> None:
        """Record the end of a finished run on the approval request that queued it."""
        run = await self.runs.get(run_id)
        approval = run.selection.get("approval")
        if self.approvals is not None and isinstance(approval, Mapping) and run.finished:
            await self.approvals.finish_run(str(approval.get("id")), run)

    async def recover_approvals(self) -> None:
        """Approvals left ``executing`` by a process that stopped: finished from their run,
        or failed as interrupted (``ApprovalsService.recover_interrupted``)."""
        if self.approvals is not None:
            await self.approvals.recover_interrupted()

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
        now = _now()
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
            await self.finish_approval(run_id)
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


def _cancelled(control: RunControl) -> str:
    total = f" of {control.total:,}" if control.total is not None else ""
    return f"cancelled after {control.done:,}{total} records"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
