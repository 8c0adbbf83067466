"""Partitioned runs: one background run split into key ranges that any number of runners
execute at once, under one run identity.

When the runner that claims a run of a ``parallel=True`` / ``partitions=N`` action finds its
(live) selection large enough, it ``plan``s instead of running the handler: the boundaries of
N key ranges are read in one set-based query (a window over the selection's primary keys,
returning N-1 keys: ids are never loaded), and one partition row per range is written and
enqueued with the runner, in one transaction. The run stays ``running`` without a lease of its
own: its partitions hold theirs.

Each partition is claimed like a run (queued, or running with an expired lease: its runner
died) and runs the handler through the executor on the selection restricted to its range; its
``ctx.batches()`` checkpoints on the partition row and adds its progress to the run's. A
cancelled run stops every partition after its current batch. When the last partition ends,
the run ends: ``failed`` if a partition failed (naming it), ``error`` if one returned an
error, ``cancelled`` if cancelled, else ``succeeded`` with the result of the action's
``combine`` over what each partition's handler returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.batches import LeaseLost, RunCancelled
from actiondesk.actions.caller import Caller, ParentContext
from actiondesk.actions.results import ActionError, Error, Rendered, Result, Success, render
from actiondesk.actions.selection import Selection, pk_after
from actiondesk.actions.spec import Action
from actiondesk.background.config import RunnerConfig, same_database
from actiondesk.background.partition_control import PartitionControl
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.state import runs_table, utcnow
from actiondesk.data.state_schema import run_partitions_table
from actiondesk.errors import NotFoundError
from actiondesk.runs.executor import Executor, Job
from actiondesk.runs.frozen_values import FormChangedError, thaw_values
from actiondesk.runs.records import RunRecord
from actiondesk.selections.rebuild import rebuild_selection

if TYPE_CHECKING:
    from actiondesk.actions.registry import ActionRegistry
    from actiondesk.data.state import StateStore
    from actiondesk.selections.resolve import SelectionResolver

log = logging.getLogger("actiondesk.background")

_p = run_partitions_table.c
_t = runs_table.c
# The lease owner of a run split into partitions: no runner holds the run itself.
PARTITIONED = "partitioned"
ENDED = ("succeeded", "error", "failed", "cancelled")
Enqueue = Callable[[AsyncConnection, str, str], Awaitable[None]]


def part_key(run_id: str, number: int) -> str:
    """The queue key of a partition (a run's key is its id)."""
    return f"{run_id}/{number}"


def parse_key(key: str) -> tuple[str, int] | None:
    run_id, slash, number = key.partition("/")
    return (run_id, int(number)) if slash and number.isdigit() else None


class PartitionHost(Protocol):
    """What the partitions need of ``BackgroundRuns``."""

    registry: ActionRegistry
    resolver: SelectionResolver
    executor: Executor
    store: StateStore
    config: RunnerConfig
    owner: str

    async def notify_end(self, run_id: str) -> None: ...


def splittable(selection: Selection | None) -> bool:
    """A live selection can be cut in key ranges (not a list of ids, not frozen ids)."""
    return (selection is not None and not selection.is_id_list
            and getattr(selection, "approval_id", None) is None)


async def boundaries(selection: Selection, parts: int, total: int) -> list[tuple[Any, ...]]:
    """The keys ending the first ``parts - 1`` ranges of ``total // parts`` records each, in
    one query over the selection's keys (a window function: no id is loaded but these)."""
    step = -(-total // parts)
    collection = selection.collection
    columns = [collection.fields[n].column for n in collection.primary_key]
    number = sa.func.row_number().over(order_by=columns).label("position")
    ranked = sa.select(*[c.label(f"k{i}") for i, c in enumerate(columns)], number).where(
        selection.where).subquery()
    query = (
        sa.select(*[ranked.c[f"k{i}"] for i in range(len(columns))])
        .where(ranked.c.position % step == 0, ranked.c.position < total)
        .order_by(ranked.c.position)
    )
    async with selection.datasource.read() as conn:
        return [tuple(row) for row in (await conn.execute(query)).all()]


def partition_selection(
    selection: Selection, lower: tuple[Any, ...] | None, upper: tuple[Any, ...] | None
) -> Selection:
    """The selection restricted to the keys after ``lower`` up to ``upper`` (included)."""
    collection = selection.collection
    clauses = [selection.where]
    if lower is not None:
        clauses.append(pk_after(collection, lower))
    if upper is not None:
        clauses.append(sa.not_(pk_after(collection, upper)))
    return Selection(selection.datasource, collection, sa.and_(*clauses),
                     description=selection.description)


def part_value(result: Result | Any) -> Any:
    """What a partition's handler returned, kept for ``combine``: a Success as its message,
    or any JSON value. An Error is the partition's error; other results cannot be merged."""
    if result is None or isinstance(result, str | int | float | bool | list | dict):
        json.dumps(result)  # a TypeError names what cannot be kept
        return result
    if isinstance(result, Success):
        return result.message
    if isinstance(result, Error):
        raise ActionError(result.message, result.html)
    raise TypeError(
        f"a partition's handler returned {type(result).__name__}: a partitioned action "
        "returns Success, None or a JSON value per partition, and its combine builds the "
        "run's result")


def default_combine(done: int, parts: int) -> Callable[[list[Any]], Result]:
    def combine(values: list[Any]) -> Result:
        return Success(f"{done:,} records processed in {parts} partitions")

    return combine


class Partitions:
    """Plans, executes and ends the partitions of partitioned runs."""

    def __init__(self, host: PartitionHost, runner_name: str, enqueue: Enqueue) -> None:
        self.host = host
        self.runner_name = runner_name
        self.enqueue = enqueue

    # -- planning ----------------------------------------------------------------------------

    async def plan(self, run: RunRecord, action: Action, selection: Selection) -> bool:
        """Split the claimed run into partitions and enqueue them; False when it is too small
        to split (the caller runs it whole)."""
        total = run.record_count if run.record_count is not None else await selection.count()
        parts = action.partition_count(total)
        if parts < 2:
            return False
        collection = selection.collection
        keys: list[str | None] = [None]
        for key in await boundaries(selection, parts, total):
            keys.append(encode_id(collection, list(key)))
        keys.append(None)
        count = len(keys) - 1
        step = -(-total // parts)
        rows: list[dict[str, Any]] = [{
            "run_id": run.id, "number": n + 1, "runner": self.runner_name,
            "lower_key": keys[n], "upper_key": keys[n + 1], "status": "queued",
            "record_count": step if n + 1 < count else max(0, total - step * n),
            "done_count": 0, "attempts": 0,
        } for n in range(count)]
        slots = action.max_parallel or count
        async with self.host.store.write() as conn:
            taken = await conn.execute(
                sa.update(runs_table)
                .where(_t.id == run.id, _t.status == "running",
                       _t.lease_owner == self.host.owner)
                .values(lease_owner=PARTITIONED, lease_expires_at=None, done_count=0,
                        checkpoint=None, progress_at=utcnow())
            )
            if taken.rowcount != 1:
                raise LeaseLost(run.id)
            await conn.execute(sa.insert(run_partitions_table), rows)
            for row in rows:
                number = int(row["number"])
                # Jobs sharing a lock run one after the other: max_parallel slots per run.
                await self.enqueue(conn, part_key(run.id, number),
                                   f"{run.id}/slot{(number - 1) % slots}")
        log.info("run %s is split into %d partitions", run.id, count)
        return True

    # -- queue -------------------------------------------------------------------------------

    async def due(self, limit: int, skip: set[str], run_id: str | None = None) -> list[str]:
        """Partitions waiting for a runner (queued, or running with an expired lease), the
        first partition of every run before the second of any, within ``max_parallel``;
        only those of ``run_id`` if given."""
        if limit <= 0:
            return []
        now = utcnow()
        waiting = sa.or_(_p.status == "queued",
                         sa.and_(_p.status == "running", _p.lease_expires_at < now))
        if run_id is not None:
            waiting = sa.and_(waiting, _p.run_id == run_id)
        query = (
            sa.select(_p.run_id, _p.number, _t.collection, _t.action_slug)
            .select_from(run_partitions_table.join(runs_table, _t.id == _p.run_id))
            .where(_p.runner == self.runner_name, waiting)
            .order_by(_p.number, _t.started_at, _p.run_id)
            .limit(limit + len(skip) + 20)
        )
        async with self.host.store.read() as conn:
            rows = (await conn.execute(query)).all()
            run_ids = {row.run_id for row in rows}
            busy: dict[str, int] = dict((await conn.execute(
                sa.select(_p.run_id, sa.func.count())
                .where(_p.run_id.in_(run_ids), _p.status == "running",
                       _p.lease_expires_at >= now)
                .group_by(_p.run_id))).all()) if run_ids else {}
        found: list[str] = []
        for row in rows:
            key = part_key(row.run_id, row.number)
            if key in skip:
                continue
            cap = self._max_parallel(row.collection, row.action_slug)
            if cap is not None and busy.get(row.run_id, 0) >= cap:
                continue
            busy[row.run_id] = busy.get(row.run_id, 0) + 1
            found.append(key)
            if len(found) == limit:
                break
        return found

    def _max_parallel(self, collection: str | None, slug: str) -> int | None:
        try:
            return self.host.registry.get(collection, slug).max_parallel
        except NotFoundError:
            return None

    async def lease_left(self, key: str) -> float | None:
        """Seconds until the lease of a running partition expires; None once it is not
        running."""
        parsed = parse_key(key)
        if parsed is None:
            return None
        async with self.host.store.read() as conn:
            row = (await conn.execute(
                sa.select(_p.status, _p.lease_expires_at)
                .where(_p.run_id == parsed[0], _p.number == parsed[1]))).first()
        if row is None or row.status != "running" or row.lease_expires_at is None:
            return None
        left: float = (row.lease_expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        return left

    # -- executing ---------------------------------------------------------------------------

    async def execute(self, key: str) -> bool:
        """Claim a partition and run it to its end; False when another runner holds it or it
        is no longer waiting."""
        parsed = parse_key(key)
        if parsed is None:
            return False
        run_id, number = parsed
        claimed = await self._claim(run_id, number)
        if claimed is None:
            return False
        part, run, frozen = claimed
        host = self.host
        control = PartitionControl(
            host.store, run_id, number, owner=host.owner, lease=host.config.lease,
            same_database=same_database(host.resolver.datasource.url, host.store.url),
            checkpoint=part.checkpoint, done=part.done_count, total=part.record_count,
            run_started_at=run.started_at,
        )
        heartbeat = asyncio.create_task(self._heartbeat(control))
        try:
            status, message, value = await self._run(run, part, frozen, control)
        except LeaseLost:
            log.warning("partition %s was taken over by another runner; this one stops", key)
            return True
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(run_id, number))
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if await self._end(run_id, number, status, message, value, control.done):
            await self.finish_run(run_id)
        return True

    async def _claim(
        self, run_id: str, number: int
    ) -> tuple[Any, RunRecord, dict[str, Any]] | None:
        now = utcnow()
        host = self.host
        async with host.store.write() as conn:
            done = await conn.execute(
                sa.update(run_partitions_table)
                .where(_p.run_id == run_id, _p.number == number,
                       sa.or_(_p.status == "queued",
                              sa.and_(_p.status == "running", _p.lease_expires_at < now)))
                .values(status="running", lease_owner=host.owner,
                        lease_expires_at=now + host.config.lease, attempts=_p.attempts + 1,
                        started_at=sa.func.coalesce(_p.started_at, now))
            )
            if done.rowcount != 1:
                return None
            part = (await conn.execute(sa.select(run_partitions_table).where(
                _p.run_id == run_id, _p.number == number))).one()
            frozen = await conn.scalar(sa.select(_t.request_values).where(_t.id == run_id))
        return part, await host.executor.runs.get(run_id), dict(frozen or {})

    async def _release(self, run_id: str, number: int) -> None:
        async with self.host.store.write() as conn:
            await conn.execute(
                sa.update(run_partitions_table)
                .where(_p.run_id == run_id, _p.number == number, _p.status == "running",
                       _p.lease_owner == self.host.owner)
                .values(lease_expires_at=utcnow()))

    async def _heartbeat(self, control: PartitionControl) -> None:
        while True:
            await asyncio.sleep(self.host.config.lease.total_seconds() / 3)
            try:
                if not await control.heartbeat():
                    return
            except Exception:
                log.exception("heartbeat of partition %s/%s failed; retrying", control.run_id,
                              control.number)

    async def _run(
        self, run: RunRecord, part: Any, frozen: dict[str, Any], control: PartitionControl
    ) -> tuple[str, str | None, Any]:
        """Run the handler on the partition: (status, message, the value kept for combine)."""
        if run.cancel_requested_at is not None or run.finished:
            return "cancelled", None, None
        host = self.host
        try:
            action = host.registry.get(run.collection, run.action_slug)
            values = thaw_values(action, frozen)
            selection = await rebuild_selection(host.resolver, host.store, action,
                                                run.selection, run.record_count)
            assert selection is not None  # noqa: S101 - only bulk actions are partitioned
            collection = selection.collection
            lower = decode_id(collection, part.lower_key) if part.lower_key else None
            upper = decode_id(collection, part.upper_key) if part.upper_key else None
        except (NotFoundError, FormChangedError) as exc:
            text = exc.message if isinstance(exc, NotFoundError) else str(exc)
            return "failed", f"cannot run any more: {text}", None
        parent = run.selection.get("parent")
        job = Job(action, Caller.from_json(run.caller),
                  partition_selection(selection, lower, upper), values,
                  ParentContext(**parent) if parent else None)
        try:
            value = part_value(await host.executor.run_partition(run.id, job, control))
        except RunCancelled:
            return "cancelled", None, None
        except ActionError as exc:
            return "error", exc.message, None
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("partition %s of run %s failed", part.number, run.id)
            return "failed", f"{type(exc).__name__}: {exc}"[:2000], None
        return "succeeded", None, value

    async def _end(
        self, run_id: str, number: int, status: str, message: str | None, value: Any,
        done: int,
    ) -> bool:
        async with self.host.store.write() as conn:
            ended = await conn.execute(
                sa.update(run_partitions_table)
                .where(_p.run_id == run_id, _p.number == number, _p.status == "running",
                       _p.lease_owner == self.host.owner)
                .values(status=status, message=message, result={"value": value},
                        done_count=done, finished_at=utcnow(), lease_expires_at=None))
        return ended.rowcount == 1

    # -- the run's end -----------------------------------------------------------------------

    async def sweep(self) -> None:
        """End the runs whose partitions all ended but whose last runner stopped before it
        could end the run."""
        ended = sa.select(_p.run_id).where(_p.run_id == _t.id, _p.status.not_in(ENDED))
        async with self.host.store.read() as conn:
            stuck = (await conn.scalars(
                sa.select(_t.id).where(_t.status == "running", _t.lease_owner == PARTITIONED,
                                       ~sa.exists(ended)))).all()
        for run_id in stuck:
            await self.finish_run(run_id)

    async def finish_run(self, run_id: str) -> None:
        """End the run once every partition has ended (whoever sees it first writes it)."""
        host = self.host
        async with host.store.read() as conn:
            parts = (await conn.execute(
                sa.select(_p.number, _p.status, _p.message, _p.result, _p.done_count)
                .where(_p.run_id == run_id).order_by(_p.number))).all()
        if not parts or any(p.status not in ENDED for p in parts):
            return
        run = await host.executor.runs.get(run_id)
        if run.finished:
            return
        outcome = self._outcome(run, list(parts))
        try:
            await host.executor.runs.finish(run_id, owner=PARTITIONED,
                                            done_count=sum(p.done_count for p in parts),
                                            **outcome)
        except ValueError:
            return  # another runner ended it at the same moment
        await host.notify_end(run_id)

    def _outcome(self, run: RunRecord, parts: list[Any]) -> dict[str, Any]:
        count = len(parts)
        done = sum(p.done_count for p in parts)
        total = f" of {run.record_count:,}" if run.record_count is not None else ""
        by_status: dict[str, list[Any]] = {}
        for p in parts:
            by_status.setdefault(p.status, []).append(p)
        for status, code, kind in (("failed", 500, None), ("error", 400, "error")):
            if status in by_status:
                text = "; ".join(f"partition {p.number} of {count} {status_word(status)}: "
                                 f"{p.message}" for p in by_status[status])
                message = f"{text} ({done:,}{total} records done)"
                return {"status": status, "status_code": code, "result_kind": kind,
                        "message": message,
                        "result": {"error": message} if kind else None}
        if "cancelled" in by_status:
            message = f"cancelled after {done:,}{total} records"
            return {"status": "cancelled", "status_code": 200, "result_kind": None,
                    "message": message}
        action = self.host.registry.get(run.collection, run.action_slug)
        values = [(p.result or {}).get("value") for p in parts]
        try:
            combine = action.combine or default_combine(done, count)
            rendered: Rendered = render(combine(values))
        except ActionError as exc:
            return {"status": "error", "status_code": 400, "result_kind": "error",
                    "message": exc.message, "result": {"error": exc.message}}
        except Exception as exc:
            log.exception("combine of run %s failed", run.id)
            return {"status": "failed", "status_code": 500, "result_kind": None,
                    "message": f"combine failed: {type(exc).__name__}: {exc}"[:2000]}
        return {"status": "succeeded" if rendered.status < 400 else "error",
                "status_code": rendered.status, "result_kind": rendered.kind,
                "message": rendered.message, "result": rendered.body}


def status_word(status: str) -> str:
    return "failed" if status == "failed" else "answered an error"
