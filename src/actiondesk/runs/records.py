"""Reading the runs audit: one run, its file, and the filtered, paged list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from actiondesk.data.state import StateStore, canonical_json, runs_table
from actiondesk.data.state_schema import run_partitions_table
from actiondesk.errors import BadRequestError, ConflictError, NotFoundError

# approval_requested: the request was frozen for approval instead of run (the approval's
# execution is a run of its own).
RunStatus = Literal["queued", "running", "succeeded", "failed", "error", "refused", "cancelled",
                    "approval_requested"]
UNFINISHED = ("queued", "running")
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
MAX_PAGE_SIZE = 200
# Global actions are stored with collection "" rather than NULL: NULLs never collide in a
# UNIQUE constraint, and a global action's idempotency key must.
NO_COLLECTION = ""
# What the browser reported about a webhook result is kept in the run's result JSON under this
# key (a webhook answer has only "webhook"); it is split off when read, so a replay answers
# exactly what the handler did.
WEBHOOK_OUTCOME = "webhook_outcome"

_t = runs_table.c
# The file is read on demand; the typed values of a background run may hold secrets.
RECORD_COLUMNS = [c for c in runs_table.c if c.name not in ("result_file", "request_values")]
HAS_FILE = _t.result_file.is_not(None).label("has_file")


@dataclass(frozen=True)
class RunRecord:
    """One recorded run of an action."""

    id: str
    action_slug: str
    action_name: str
    collection: str | None
    scope: str
    caller: dict[str, Any]
    selection: dict[str, Any]
    values: dict[str, Any]
    status: str
    status_code: int | None
    result_kind: str | None
    message: str | None
    result: Any
    result_filename: str | None
    result_mime: str | None
    idempotency_key: str | None
    record_count: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: int | None
    has_file: bool = False
    runner: str | None = None
    done_count: int | None = None
    rate: float | None = None
    progress_at: dt.datetime | None = None
    attempts: int | None = None
    cancel_requested_at: dt.datetime | None = None
    checkpoint: str | None = None
    webhook: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def background(self) -> bool:
        return self.runner is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action_slug": self.action_slug,
            "action_name": self.action_name,
            "collection": self.collection,
            "scope": self.scope,
            "caller": self.caller,
            "selection": self.selection,
            "values": self.values,
            "status": self.status,
            "status_code": self.status_code,
            "result_kind": self.result_kind,
            "message": self.message,
            "result": self.result,
            "has_file": self.has_file,
            "result_filename": self.result_filename,
            "result_mime": self.result_mime,
            "idempotency_key": self.idempotency_key,
            "record_count": self.record_count,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_ms": self.duration_ms,
            "background": self.background,
            "runner": self.runner,
            "attempts": self.attempts,
            "cancel_requested": self.cancel_requested_at is not None,
            "progress": progress_json(self),
            "webhook": self.webhook,
        }


def progress_json(run: RunRecord) -> dict[str, Any] | None:
    """How far a run got: done / total, percent, records per second and time left."""
    if run.done_count is None and not run.background:
        return None
    done = run.done_count or 0
    total = run.record_count
    rate = run.rate if run.rate and run.rate > 0 else None
    eta = None
    if rate is not None and total is not None and not run.finished:
        eta = round(max(total - done, 0) / rate, 1)
    return {
        "done": done,
        "total": total,
        "percent": round(min(done / total, 1.0) * 100, 1) if total else None,
        "rate": round(rate, 1) if rate is not None else None,
        "eta_seconds": eta,
        "updated_at": run.progress_at.isoformat() if run.progress_at else None,
    }


class RunReads:
    """The reading side of ``RunsService``."""

    store: StateStore

    async def get(self, run_id: str) -> RunRecord:
        """The run with this id; NotFoundError if there is none."""
        check_run_id(run_id)
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(*RECORD_COLUMNS, HAS_FILE).where(_t.id == run_id)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r}")
        return run_record(row._mapping)

    async def partitions(self, run_id: str) -> list[dict[str, Any]] | None:
        """The partitions of a partitioned run, in order (None for a run not split)."""
        check_run_id(run_id)
        _p = run_partitions_table.c
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(_p.number, _p.status, _p.record_count, _p.done_count, _p.attempts,
                          _p.message, _p.started_at, _p.finished_at)
                .where(_p.run_id == run_id).order_by(_p.number))).all()
        if not rows:
            return None
        return [{"number": r.number, "status": r.status, "total": r.record_count,
                 "done": r.done_count, "attempts": r.attempts, "message": r.message,
                 "started_at": r.started_at.isoformat() if r.started_at else None,
                 "finished_at": r.finished_at.isoformat() if r.finished_at else None}
                for r in rows]

    async def get_file(self, run_id: str) -> tuple[bytes, str, str] | None:
        """The file a run returned as ``(content, filename, mime)``; None if it returned none.

        Raises NotFoundError for an unknown run.
        """
        check_run_id(run_id)
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(_t.result_file, _t.result_filename, _t.result_mime).where(
                        _t.id == run_id
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r}")
        content, filename, mime = row
        if content is None:
            return None
        return bytes(content), filename or "download", mime or "application/octet-stream"

    async def list(
        self,
        *,
        action: str | None = None,
        collection: str | None = None,
        caller: str | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[list[RunRecord], int]:
        """Runs matching every filter given, newest first, and how many match in all.

        ``caller`` matches the caller's id or email exactly; ``since`` is inclusive and
        ``until`` exclusive (both on the start time). ``page_size`` is capped at 200.
        """
        for name, value in (("action", action), ("collection", collection), ("caller", caller)):
            check_no_nul(name, value)
        if status is not None and status not in RUN_STATUSES:
            raise BadRequestError(
                f"unknown run status {status!r}",
                fields={"status": f"must be one of {', '.join(RUN_STATUSES)}"},
            )
        if page < 1:
            raise BadRequestError("page must be at least 1", fields={"page": "must be >= 1"})
        if page_size < 1:
            raise BadRequestError(
                "page_size must be at least 1", fields={"page_size": "must be >= 1"}
            )
        page_size = min(page_size, MAX_PAGE_SIZE)
        conditions: list[sa.ColumnElement[bool]] = []
        if action is not None:
            conditions.append(_t.action_slug == action)
        if collection is not None:
            conditions.append(_t.collection == collection)
        if caller is not None:
            conditions.append(sa.or_(_t.caller_id == caller, _t.caller_email == caller))
        if status is not None:
            conditions.append(_t.status == status)
        if since is not None:
            conditions.append(_t.started_at >= since)
        if until is not None:
            conditions.append(_t.started_at < until)
        query = (
            sa.select(*RECORD_COLUMNS, HAS_FILE)
            .where(*conditions)
            .order_by(_t.started_at.desc(), _t.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
        count_query = sa.select(sa.func.count()).select_from(runs_table).where(*conditions)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            count = await conn.scalar(count_query)
        return [run_record(row._mapping) for row in rows], int(count or 0)

    async def _by_key(
        self, caller_id: str, action_slug: str, collection: str | None, key: str
    ) -> RunRecord | None:
        query = sa.select(*RECORD_COLUMNS, HAS_FILE).where(
            _t.caller_id == caller_id,
            _t.action_slug == action_slug,
            _t.collection == (NO_COLLECTION if collection is None else collection),
            _t.idempotency_key == key,
        )
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else run_record(row._mapping)


def run_record(m: RowMapping) -> RunRecord:
    result, webhook = m["result"], None
    if m["result_kind"] == "webhook" and isinstance(result, dict) and WEBHOOK_OUTCOME in result:
        result = dict(result)
        webhook = result.pop(WEBHOOK_OUTCOME)
    return RunRecord(
        id=m["id"],
        action_slug=m["action_slug"],
        action_name=m["action_name"],
        collection=m["collection"] or None,
        scope=m["scope"],
        caller=m["caller"] or {},
        selection=m["selection"] or {},
        values=m["values"] or {},
        status=m["status"],
        status_code=m["status_code"],
        result_kind=m["result_kind"],
        message=m["message"],
        result=result,
        result_filename=m["result_filename"],
        result_mime=m["result_mime"],
        idempotency_key=m["idempotency_key"],
        record_count=m["record_count"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        duration_ms=m["duration_ms"],
        has_file=bool(m["has_file"]),
        runner=m["runner"],
        done_count=m["done_count"],
        rate=m["rate"],
        progress_at=m["progress_at"],
        attempts=m["attempts"],
        cancel_requested_at=m["cancel_requested_at"],
        checkpoint=m["checkpoint"],
        webhook=webhook,
    )


def check_run_id(run_id: str) -> None:
    # Run ids are 32 hex digits; anything else names no run, and must not reach the database
    # (PostgreSQL rejects NUL characters with an error).
    if len(run_id) != 32 or not run_id.isalnum() or not run_id.isascii():
        raise NotFoundError(f"no run {run_id!r}")


def check_no_nul(name: str, value: str | None) -> None:
    if value is not None and "\x00" in value:
        raise BadRequestError(
            f"{name} must not contain NUL characters", fields={name: "contains a NUL character"}
        )


def check_same_request(
    run: RunRecord, selection: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    """ConflictError (409) when ``run``, found by an idempotency key, was asked for other
    records or values than this request (``values`` as audited: secrets redacted)."""
    asked = {"selection": dict(selection), "values": dict(values)}
    if canonical_json(asked) != canonical_json({"selection": run.selection, "values": run.values}):
        raise ConflictError(
            "this Idempotency-Key was used for a different request (other records or "
            "values); use a new key",
            detail={"run_id": run.id},
        )


def duration_ms(started: dt.datetime, finished: dt.datetime) -> int:
    return max(0, round((finished - started).total_seconds() * 1000))


def fit_text(text: str | None, length: int) -> str | None:
    """Text fit for a column of ``length``: clipped, without NUL (PostgreSQL refuses it)."""
    if text is None:
        return None
    return text.replace("\x00", "")[:length]
