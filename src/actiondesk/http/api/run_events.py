"""Routes that follow and steer one run: its server-sent events, and cancel.

``GET /api/runs/{id}/events`` is a ``text/event-stream``: an ``event: run`` with the run's
JSON (the shape of ``GET /api/runs/{id}``) at once and whenever its status or progress
changes, then ``event: end`` with the finished run, and the stream closes. A comment line is
sent every 15 s so proxies keep the connection open. Browsers use ``EventSource`` (the
session cookie is sent; a GET needs no CSRF token); polling ``GET /api/runs/{id}`` remains
the fallback.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from actiondesk.http.api.models import ErrorOut
from actiondesk.http.api.runs import require_own
from actiondesk.http.api.runs_models import RunOut
from actiondesk.http.dependencies import BackgroundDep, CurrentAccess, RunsDep
from actiondesk.runs.records import RunRecord
from actiondesk.runs.store import RunsService

router = APIRouter(tags=["runs"])

POLL_SECONDS = 0.5
KEEP_ALIVE_SECONDS = 15.0
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "Another caller's run (admins may)."},
    404: {"model": ErrorOut, "description": "Unknown run."},
}


def _event(kind: str, number: int, run: RunRecord) -> str:
    data = json.dumps(run.to_json(), separators=(",", ":"), default=str)
    return f"event: {kind}\nid: {number}\ndata: {data}\n\n"


def _state(run: RunRecord) -> tuple[Any, ...]:
    return (run.status, run.done_count, run.record_count, run.progress_at,
            run.cancel_requested_at, run.attempts)


async def _stream(request: Request, runs: RunsService, run: RunRecord) -> AsyncIterator[str]:
    number = 1
    yield "retry: 2000\n" + _event("run", number, run)
    last = _state(run)
    quiet_since = time.monotonic()
    while not run.finished:
        await asyncio.sleep(POLL_SECONDS)
        if await request.is_disconnected():
            return
        run = await runs.get(run.id)
        if _state(run) != last:
            last = _state(run)
            number += 1
            quiet_since = time.monotonic()
            yield _event("end" if run.finished else "run", number, run)
        elif time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
    if number == 1:
        yield _event("end", number + 1, run)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "event: run (progress), then event: end."}, **_ERRORS},
    summary="Follow a run: server-sent events until it ends",
)
async def run_events(request: Request, run_id: str, runs: RunsDep,
                     access: CurrentAccess) -> StreamingResponse:
    run = await runs.get(run_id)
    require_own(access, run.caller)
    return StreamingResponse(
        _stream(request, runs, run), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/runs/{run_id}/cancel", response_model=RunOut,
    responses={**_ERRORS, 409: {"model": ErrorOut, "description": "The run is not queued or "
                                "running, or ran during its request; detail.status."}},
    summary="Cancel a background run (a running one stops after its current batch)",
)
async def cancel_run(run_id: str, background: BackgroundDep,
                     access: CurrentAccess) -> dict[str, Any]:
    run = await background.cancel(run_id, access)
    return run.to_json()
