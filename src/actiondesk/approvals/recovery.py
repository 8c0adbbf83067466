"""Crash recovery of approved requests: a request left ``executing`` by a process that
stopped ends ``failed`` and never runs again.

An inline execution attaches its run to the request and leases it before the handler
starts, and renews the lease while the handler runs. So a request with no run attached never
started its handler ("interrupted before it ran"); one whose run's lease expired may have
done part of its work ("interrupted while it ran"); one whose run finished is finished from
that run. Runs in the background belong to their runner, which resumes them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from actiondesk.approvals.model import INTERRUPTED, NOT_STARTED
from actiondesk.approvals.store import ApprovalStore
from actiondesk.data.state import utcnow
from actiondesk.runs.records import RunRecord
from actiondesk.runs.store import ABANDONED, RunsService


class Recovery:
    """Finishes the requests that processes left ``executing``."""

    def __init__(
        self,
        approvals: ApprovalStore,
        runs: RunsService,
        *,
        lease: Callable[[], dt.timedelta],
        finish_run: Callable[[str, RunRecord], Awaitable[None]],
        in_process: Collection[str],
    ) -> None:
        self.approvals = approvals
        self.runs = runs
        self.lease = lease  # how long a live process may take to begin and attach its run
        self.finish_run = finish_run  # finishes a request from the run it executed
        self.in_process = in_process  # requests this process executes right now

    async def recover_interrupted(self) -> list[str]:
        """Finish the requests left ``executing`` by a process that stopped (a bounded number
        per call); return their ids. Never runs an action: a request whose handler may have
        started is ``failed`` as interrupted, so it cannot run twice."""
        now = utcnow()
        rows = await self.approvals.executing()
        recovered = []
        for row in rows:
            if row.id in self.in_process:
                continue
            run_id = row.run_id or await self._unattached_run(row)
            if run_id is None:
                # The grace lets a live process that just claimed the request begin its run.
                if row.decided_at is None or row.decided_at + self.lease() < now:
                    await self.approvals.finish(row.id, "failed", reason=NOT_STARTED)
                    recovered.append(row.id)
                continue
            if await self._recover_run(row.id, run_id, attached=row.run_id is not None):
                recovered.append(row.id)
        return recovered

    async def _recover_run(self, approval_id: str, run_id: str, *, attached: bool) -> bool:
        run = await self.approvals.run_lease(run_id)
        if run is None:
            await self.approvals.finish(approval_id, "failed", reason=INTERRUPTED)
            return True
        if run.status in ("queued", "running"):
            if run.runner is not None:
                if not attached:
                    await self.approvals.attach_run(approval_id, run_id)
                return False  # its runner resumes it and finishes the request
            if not attached:
                # Begun but never attached: the handler did not start (it starts after).
                with contextlib.suppress(ValueError):
                    await self.runs.finish(run_id, status="failed", status_code=409,
                                           result_kind=None, message=NOT_STARTED)
                await self.approvals.finish(approval_id, "failed", run_id=run_id,
                                            reason=NOT_STARTED)
                return True
            if run.lease_expires_at is None or run.lease_expires_at >= utcnow():
                return False  # its process still renews the lease
            with contextlib.suppress(ValueError):
                await self.runs.finish(run_id, status="failed", status_code=500,
                                       result_kind=None, message=INTERRUPTED)
        finished = await self.runs.get(run_id)
        if finished.status == "failed" and (finished.message == INTERRUPTED
                                             or finished.result_kind == ABANDONED):
            await self.approvals.finish(approval_id, "failed", run_id=run_id,
                                        reason=INTERRUPTED)
        else:
            await self.finish_run(approval_id, finished)
        return True

    async def _unattached_run(self, row: Any) -> str | None:
        """The run a request began or queued before its process stopped, if any (the run's
        selection names the request)."""
        if row.decided_at is None:
            return None
        for candidate in await self.approvals.runs_begun_for(row):
            approval = (candidate.selection or {}).get("approval")
            if isinstance(approval, Mapping) and approval.get("id") == row.id:
                return str(candidate.id)
        return None
