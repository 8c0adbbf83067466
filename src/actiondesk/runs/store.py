"""The runs audit: every execution of an action is recorded, with the result to replay.

The executor calls ``begin`` before running a handler and ``finish`` after it; a
request refused before it ran (permissions, validation) is one ``record_refusal`` row.
An idempotency key makes a retried request replay the first one's result instead of
running the action twice.

An inline run is leased to its process like a background run: while it runs, the process
renews the lease of its runs in flight every third of the lease. When the state database is
out of reach as a run finishes, its outcome is kept in memory and written as soon as the
database answers again. A run whose process died (or never got its database back) keeps an
expired lease; ``sweep_abandoned`` (every server and worker, at start and every lease) marks
it ``failed`` with the outcome unknown, and the real outcome still replaces that if the
process that ran it writes it later.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.asyncpg_direct import AsyncpgDirect
from actiondesk.data.driver_statements import sqlite_execute
from actiondesk.data.state import StateStore, runs_table, utcnow
from actiondesk.errors import (
    BadRequestError,
    ClientError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    lost_database,
)
from actiondesk.runs.audit_writes import AuditWrites, check_one_finished, inserting_inline
from actiondesk.runs.record_index import NOT_INDEXED, RecordIndex, index_of
from actiondesk.runs.records import (
    NO_COLLECTION,
    RUN_STATUSES,
    UNFINISHED,
    WEBHOOK_OUTCOME,
    RunReads,
    RunRecord,
    RunStatus,
    check_no_nul,
    check_run_id,
)
from actiondesk.runs.records import duration_ms as _duration_ms
from actiondesk.runs.records import fit_text as _text

log = logging.getLogger("actiondesk.runs")

MAX_IDEMPOTENCY_KEY = 200
MAX_MESSAGE = 1_000_000
# The result kind of a run whose process never recorded its outcome (see sweep_abandoned).
ABANDONED = "abandoned"
ABANDONED_MESSAGE = (
    "outcome unknown: the process running this action stopped, or lost the state database, "
    "before it could record how the run ended; check the records it acted on"
)


_t = runs_table.c
# Built once: the audit's statements run on every request, and building one (coercing each
# value, computing its cache key) costs more than executing it.
_INSERT = sa.insert(runs_table)
_STARTED_AT = sa.select(_t.started_at).where(_t.id == sa.bindparam("run_id"))
# A run the sweep gave up on is still finished with its real outcome by its own process.
_FINISH = sa.update(runs_table).where(
    _t.id == sa.bindparam("running_id"),
    sa.or_(_t.status == "running",
           sa.and_(_t.result_kind == ABANDONED, _t.lease_owner == sa.bindparam("owner_id"))),
)
MAX_WEBHOOK_ERROR = 500


@dataclass(frozen=True)
class Background:
    """How ``RunsService.begin`` queues a background run: the runner's name, the typed values
    frozen for it, and the runner's enqueue step (inside the insert's transaction)."""

    runner: str
    values: Mapping[str, Any]
    enqueue: Callable[[AsyncConnection, str], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    """What a request handed over instead of run (to approval) answered: kept on its run, so a
    retry with the same idempotency key gets it again."""

    status: RunStatus
    status_code: int
    result_kind: str
    message: str
    result: Any


# Runs in the transaction that records the run (given its id); returns what it answered.
Handover = Callable[[AsyncConnection, str], Awaitable[Answer]]


class IdempotencyConflict(ClientError):
    """A request with the same idempotency key is still running."""

    status = 409


class RunsService(RunReads):
    """Records runs in the state database and reads them back for the audit."""

    def __init__(self, store: StateStore, *, lease: dt.timedelta = dt.timedelta(seconds=30)
                 ) -> None:
        self.store = store
        self.lease = lease
        # This process, as the holder of its runs' leases (inline and background).
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # The inline runs this process has begun and not finished: their leases are renewed.
        self._started_at: dict[str, dt.datetime] = {}
        # Outcomes the state database was out of reach for, written when it is back.
        self._unwritten: dict[str, tuple[dt.datetime | None, dict[str, Any]]] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._writes = AuditWrites(store)

    async def begin(
        self,
        *,
        action_slug: str,
        action_name: str,
        collection: str | None,
        scope: str,
        caller: Mapping[str, Any],
        selection: Mapping[str, Any],
        values: Mapping[str, Any],
        record_count: int | None = None,
        idempotency_key: str | None = None,
        background: Background | None = None,
        handover: Handover | None = None,
    ) -> str | RunRecord:
        """Record a run as ``running`` and return its id; with ``background``, as
        ``queued`` for that runner, enqueued in the same transaction; with ``handover``, as
        finished with the answer of the handover, made in the same transaction (a request
        frozen for approval: a retry finds that request, never makes a second one).

        With an idempotency key already used by the same caller for the same action, return
        that run's record if it finished (to replay it), or raise IdempotencyConflict if it
        is still running. The unique constraint decides, so concurrent requests are safe.
        """
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            message = f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
            raise BadRequestError(
                f"the idempotency key {message}", fields={"idempotency_key": message}
            )
        check_no_nul("idempotency_key", idempotency_key)
        run_id = uuid.uuid4().hex
        started_at = utcnow()
        caller_id = str(caller.get("id", ""))
        row = {
            "id": run_id,
            "action_slug": action_slug,
            "action_name": _text(action_name, 200),
            "collection": NO_COLLECTION if collection is None else collection,
            "scope": scope,
            "caller_id": caller_id,
            "caller_email": _text(str(caller.get("email", "")), 320),
            "caller": dict(caller),
            "selection": dict(selection),
            "values": dict(values),
            "status": "running",
            "idempotency_key": idempotency_key,
            "record_count": record_count,
            "started_at": started_at,
        }
        row.update((index := index_of(selection)).columns())
        if background is not None:
            row.update(status="queued", runner=background.runner, done_count=0, attempts=0,
                       request_values=dict(background.values))
        elif handover is None:  # a handover's run is finished in the transaction it begins
            row.update(lease_owner=self.owner, lease_expires_at=started_at + self.lease)
        try:
            if handover is None:
                single = background is None and not index.keys
                inline = inserting_inline(_INSERT, row) if single else None
                await self._writes.run(_inserting(row, background, index), inline,
                                       one_statement=single,
                                       direct=(lambda pool: pool.execute(_INSERT, row))
                                       if single else None)
            else:
                # Not shared with other runs' writes: a handover may take a while (freezing a
                # large selection), and its errors are its own.
                async with self.store.write() as conn:
                    await _handing_over(row, handover, index)(conn)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = await self._by_key(caller_id, action_slug, collection, idempotency_key)
            if existing is None:
                raise
            if not existing.finished:
                raise IdempotencyConflict(
                    "a request with this idempotency key is still running; "
                    "wait for it to finish, then retry to get its result",
                    detail={"run_id": existing.id},
                ) from None
            return existing
        if background is None and handover is None:
            self._started_at[run_id] = started_at
            self._keep_leases()
        return run_id

    async def finish(
        self,
        run_id: str,
        *,
        status: RunStatus,
        status_code: int,
        result_kind: str | None,
        message: str | None,
        result: Any = None,
        result_file: bytes | None = None,
        result_filename: str | None = None,
        result_mime: str | None = None,
        owner: str | None = None,
        done_count: int | None = None,
        record_count: int | None = None,
    ) -> None:
        """Record the outcome of a running run, with its finish time and duration. With
        ``owner`` (a background runner), only while it holds the run's lease, with how many
        records it did (``done_count``); the typed values the run was queued with are dropped.
        ``record_count`` is for a run that learns its size as it goes (an export).

        Raises NotFoundError for an unknown run and ValueError if it is already finished.
        An inline run's outcome that the state database is out of reach for is kept and
        written when it is back (see ``write_unwritten``): the caller still gets its answer.
        """
        if status not in RUN_STATUSES or status in UNFINISHED:
            ended = [s for s in RUN_STATUSES if s not in UNFINISHED]
            raise ValueError(f"a run finishes with one of {', '.join(ended)}")
        check_run_id(run_id)
        outcome = {
            "status": status,
            "status_code": status_code,
            "result_kind": result_kind,
            "message": _text(message, MAX_MESSAGE),
            "result": result,
            "result_file": result_file,
            "result_filename": _text(result_filename, 255),
            "result_mime": _text(result_mime, 200),
            "finished_at": utcnow(),
        }
        if owner is not None and done_count is not None:
            outcome["done_count"] = done_count
        if record_count is not None:
            outcome["record_count"] = record_count
        # The start time is remembered by the process that began the run, which saves a
        # read; another process (a resumed run) reads it.
        known_start = self._started_at.pop(run_id, None)
        try:
            await self._write_outcome(run_id, known_start, outcome, owner)
        except Exception as exc:
            if owner is not None or not lost_database(exc):
                raise
            # The handler ran: its caller gets its answer, and the audit gets the outcome
            # as soon as the state database is back (the lease keeps the sweep away).
            log.warning("the state database is out of reach: the outcome of run %s is kept "
                        "and written when it is back", run_id)
            self._unwritten[run_id] = (known_start, outcome)
            self._keep_leases()

    async def _write_outcome(
        self, run_id: str, known_start: dt.datetime | None, outcome: dict[str, Any],
        owner: str | None,
    ) -> None:
        def finishing(started_at: dt.datetime | None) -> tuple[sa.Executable, dict[str, Any]]:
            if started_at is None:
                raise NotFoundError(f"no run {run_id!r}")
            values = {**outcome,
                      "duration_ms": _duration_ms(started_at, outcome["finished_at"])}
            if owner is None:
                return _FINISH, {"running_id": run_id, "owner_id": self.owner, **values}
            return (sa.update(runs_table)
                    .where(_t.id == run_id, _t.status == "running", _t.lease_owner == owner)
                    .values(request_values=None, **values)), {}

        async def write(conn: AsyncConnection) -> None:
            started_at = known_start or await conn.scalar(_STARTED_AT, {"run_id": run_id})
            check_one_finished(run_id, (await conn.execute(*finishing(started_at))).rowcount)

        def write_inline(conn: sa.Connection) -> None:
            started_at = known_start or conn.scalar(_STARTED_AT, {"run_id": run_id})
            statement, params = finishing(started_at)
            done = (sqlite_execute(conn, statement, params).rowcount if statement is _FINISH
                    else conn.execute(statement, params).rowcount)
            check_one_finished(run_id, done)

        async def write_direct(pool: AsyncpgDirect) -> None:
            check_one_finished(run_id, await pool.execute(_FINISH, finishing(known_start)[1]))

        simple = known_start is not None and owner is None  # _FINISH, compiled once
        await self._writes.run(write, write_inline, one_statement=known_start is not None,
                               direct=write_direct if simple else None)

    # -- leases of inline runs ---------------------------------------------------------------

    def _keep_leases(self) -> None:
        loop = asyncio.get_running_loop()
        keeper = self._keeper
        if keeper is None or keeper.done() or keeper.get_loop() is not loop:
            self._keeper = loop.create_task(self._renew_leases(), name="actiondesk-run-leases")

    async def _renew_leases(self) -> None:
        """While this process has inline runs in flight or outcomes to write: every third
        of the lease, write the outcomes the state database missed and renew the leases."""
        while self._started_at or self._unwritten:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self.write_unwritten()
                await self._renew()
            except Exception as exc:
                if not lost_database(exc):
                    log.exception("could not renew the leases of this process's runs")

    async def write_unwritten(self) -> None:
        """Write the outcomes kept while the state database was out of reach."""
        for run_id, (known_start, outcome) in list(self._unwritten.items()):
            try:
                await self._write_outcome(run_id, known_start, outcome, None)
            except (ValueError, NotFoundError):
                log.warning("run %s was finished by another process; its outcome here "
                            "(%s) is dropped", run_id, outcome["status"])
            else:
                log.info("run %s: its outcome is written, the state database is back", run_id)
            self._unwritten.pop(run_id, None)

    async def _renew(self) -> None:
        ids = [*self._started_at, *self._unwritten]
        if not ids:
            return
        async with self.store.write() as conn:
            await conn.execute(
                sa.update(runs_table)
                .where(_t.id.in_(ids), _t.status == "running", _t.runner.is_(None),
                       _t.lease_owner == self.owner)
                .values(lease_expires_at=utcnow() + self.lease)
            )

    async def sweep_abandoned(self) -> list[str]:
        """Mark ``failed`` (outcome unknown) the inline runs whose lease expired: the process
        that ran them died, or lost the state database and never got it back. Returns their
        ids."""
        now = utcnow()
        expired = sa.and_(_t.runner.is_(None), _t.status == "running",
                          _t.lease_expires_at < now)
        async with self.store.read() as conn:
            rows = (await conn.execute(
                sa.select(_t.id, _t.started_at, _t.lease_expires_at).where(expired)
            )).all()
        swept = []
        for row in rows:
            if row.id in self._started_at or row.id in self._unwritten:
                continue  # ours: its lease is being renewed as the database comes back
            alive_until = max(row.started_at, row.lease_expires_at - self.lease)
            async with self.store.write() as conn:
                done = await conn.execute(
                    sa.update(runs_table).where(_t.id == row.id, expired).values(
                        status="failed", status_code=None, result_kind=ABANDONED,
                        message=ABANDONED_MESSAGE, result={"error": ABANDONED_MESSAGE},
                        finished_at=now, duration_ms=_duration_ms(row.started_at, alive_until),
                    )
                )
            if done.rowcount == 1:
                log.warning("run %s was left running by a process that stopped; marked failed "
                            "(outcome unknown)", row.id)
                swept.append(row.id)
        return swept

    async def close(self) -> None:
        """Stop renewing leases, after one last try to write the outcomes kept in memory."""
        with contextlib.suppress(Exception):
            await self.write_unwritten()
        keeper, self._keeper = self._keeper, None
        if keeper is not None and keeper.get_loop() is asyncio.get_running_loop():
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def record_refusal(
        self,
        *,
        action_slug: str,
        action_name: str,
        collection: str | None,
        scope: str,
        caller: Mapping[str, Any],
        selection: Mapping[str, Any],
        status_code: int,
        message: str,
    ) -> str:
        """Record a request refused before it ran (one finished row); return its id."""
        run_id = uuid.uuid4().hex
        now = utcnow()
        row = {
            "id": run_id,
            "action_slug": action_slug,
            "action_name": _text(action_name, 200),
            "collection": NO_COLLECTION if collection is None else collection,
            "scope": scope,
            "caller_id": str(caller.get("id", "")),
            "caller_email": _text(str(caller.get("email", "")), 320),
            "caller": dict(caller),
            "selection": dict(selection),
            "values": {},
            "status": "refused",
            "status_code": status_code,
            "result_kind": "error",
            "message": _text(message, MAX_MESSAGE),
            "result": {"error": message},
            "started_at": now,
            "finished_at": now,
            "duration_ms": 0,
        }
        row.update((index := index_of(selection)).columns())
        inline = None if index.keys else inserting_inline(_INSERT, row)
        await self._writes.run(_inserting(row, None, index), inline,
                               one_statement=not index.keys)
        return run_id

    async def report_webhook(
        self,
        run_id: str,
        caller_id: str,
        *,
        delivered: bool,
        status: int | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """Record whether the browser delivered the webhook a run answered with: once, by the
        caller who ran it, for a finished run whose result is a webhook.

        Raises NotFoundError for an unknown run, ForbiddenError for another caller and
        ConflictError for a run without a webhook result or one already reported.
        """
        check_run_id(run_id)
        check_no_nul("error", error)
        outcome = {
            "delivered": delivered,
            "status": status,
            "error": _text(error, MAX_WEBHOOK_ERROR),
            "reported_at": utcnow().isoformat(),
        }
        # The row is locked (SQLite: the write lock) from the check to the write, so two
        # reports at once cannot both be taken.
        async with self.store.write() as conn:
            row = (await conn.execute(
                sa.select(_t.caller_id, _t.status, _t.result_kind, _t.result)
                .where(_t.id == run_id).with_for_update()
            )).first()
            if row is None:
                raise NotFoundError(f"no run {run_id!r}")
            if row.caller_id != caller_id:
                raise ForbiddenError(
                    "only the caller who ran this action may report its webhook's outcome")
            if row.result_kind != "webhook" or row.status != "succeeded":
                raise ConflictError(
                    f"run {run_id} did not answer with a webhook, so there is no webhook "
                    "outcome to report", detail={"run_id": run_id,
                                                 "result_kind": row.result_kind})
            result = dict(row.result) if isinstance(row.result, Mapping) else {}
            if WEBHOOK_OUTCOME in result:
                raise ConflictError(
                    f"the webhook outcome of run {run_id} was already reported",
                    detail={"run_id": run_id, "webhook": result[WEBHOOK_OUTCOME]})
            result[WEBHOOK_OUTCOME] = outcome
            await conn.execute(sa.update(runs_table).where(_t.id == run_id)
                               .values(result=result))
        return await self.get(run_id)


def _inserting(
    row: dict[str, Any], background: Background | None = None, index: RecordIndex = NOT_INDEXED,
) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def insert(conn: AsyncConnection) -> None:
        await conn.execute(_INSERT, row)
        await index.write(conn, row["id"], row["collection"])
        if background is not None:
            await background.enqueue(conn, row["id"])

    return insert


def _handing_over(
    row: dict[str, Any], handover: Handover, index: RecordIndex
) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def hand_over(conn: AsyncConnection) -> None:
        # The row goes first: a concurrent request with the same key waits on it (or, on
        # SQLite, on the write lock) and then finds this run instead of handing over twice.
        await conn.execute(_INSERT, row)
        await index.write(conn, row["id"], row["collection"])
        answer = await handover(conn, row["id"])
        finished_at = utcnow()
        await conn.execute(sa.update(runs_table).where(_t.id == row["id"]).values(
            status=answer.status, status_code=answer.status_code,
            result_kind=answer.result_kind, message=_text(answer.message, MAX_MESSAGE),
            result=answer.result, finished_at=finished_at,
            duration_ms=_duration_ms(row["started_at"], finished_at),
        ))

    return hand_over

