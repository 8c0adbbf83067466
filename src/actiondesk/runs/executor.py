"""The executor: the one place a handler runs and its run is recorded.

Every execution goes through here — inline during a request, after an approval, in the
background, remote and endpoint actions alike: ``begin`` records the run before anything
runs (or finds the run of a repeated idempotency key), ``run`` builds the handler's context,
calls the handler, renders its result and finishes the run. Callers above (the execution
pipeline, approvals, background runs) decide *whether* and *when* to run; never *how*.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actiondesk.actions.batches import LeaseLost, RunCancelled, RunControl
from actiondesk.actions.caller import Caller, ParentContext
from actiondesk.actions.context import ActionContext
from actiondesk.actions.form_values import FormValidationError, json_value
from actiondesk.actions.results import (
    ActionError,
    Error,
    File,
    Rendered,
    Result,
    UnsafeResultError,
    iterate_file,
    render,
)
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action
from actiondesk.errors import (
    ActionFailedError,
    ClientError,
    ConflictError,
    UnavailableError,
    UpstreamError,
    lost_database,
)
from actiondesk.runs.records import RunRecord, RunStatus
from actiondesk.runs.store import Background, Handover, RunsService

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.runs.control import LeasedRunControl

log = logging.getLogger("actiondesk.runs")

REDACTED = "[redacted]"
MAX_REPLAYABLE_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Job:
    """A request that passed every check: the action, who runs it, on what, with what."""

    action: Action
    caller: Caller
    selection: Selection | None
    values: Mapping[str, Any]
    parent: ParentContext | None = None


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its rendered answer and the run's id and status."""

    rendered: Rendered
    run_id: str
    replayed: bool = False
    status: str = "succeeded"


class Executor:
    """Records runs and runs handlers: ``begin`` then ``run``."""

    def __init__(self, datasource: Datasource, runs: RunsService) -> None:
        self.datasource = datasource
        self.runs = runs

    async def begin(
        self,
        action: Action,
        *,
        caller: Mapping[str, Any],
        selection: Mapping[str, Any],
        values: Mapping[str, Any],
        record_count: int | None,
        idempotency_key: str | None = None,
        background: Background | None = None,
        handover: Handover | None = None,
    ) -> str | RunRecord:
        """Record the run before anything runs (without the audit, nothing runs): its id, or
        the earlier run of the same idempotency key. ``values`` are already redacted."""
        try:
            return await self.runs.begin(
                action_slug=action.slug, action_name=action.name,
                collection=action.collection, scope=action.scope.value, caller=caller,
                selection=selection, values=values,
                record_count=record_count if action.collection else None,
                idempotency_key=idempotency_key, background=background, handover=handover,
            )
        except Exception as exc:
            if not lost_database(exc):
                raise
            raise UnavailableError(
                "the state database is unavailable, so the action cannot be audited and did "
                "not run; retry in a moment"
            ) from exc

    async def run(
        self,
        run_id: str,
        job: Job,
        *,
        keep_file: bool,
        control: LeasedRunControl | None = None,
    ) -> Outcome:
        """Run the handler of a begun run and finish the run.

        A handler's ActionError is an ``error`` run answered 400; an unexpected exception
        finishes the run ``failed`` and is raised again as ActionFailedError (503
        UnavailableError when the database was lost, the remote's UpstreamError as is).
        ``keep_file`` reads a file result into memory so it can be replayed. With a
        background run's ``control``: cancellation ends the run ``cancelled``, and a lost
        lease raises LeaseLost without writing anything.
        """
        action = job.action
        context = self.context(run_id, job, control)
        try:
            rendered = render(await context.run_handler())
            if keep_file and rendered.file is not None:
                rendered = await _materialise(rendered)
        except RunCancelled:
            assert control is not None  # noqa: S101 - only background runs are cancelled
            message = cancelled_message(control)
            await self.finish_early(run_id, "cancelled", message, control)
            return Outcome(Rendered(200, None, "none", message), run_id, status="cancelled")
        except ActionError as exc:
            rendered = render(Error(exc.message, exc.html))
        except (ConflictError, FormValidationError) as exc:
            # A built-in record action's refusal (the record moved on, a value the database
            # refused): an error run answered with its status and fields.
            rendered = Rendered(exc.status, exc.to_json(), "error", exc.message)
        except UnsafeResultError as exc:
            # The client is told no more than that; the run keeps what the handler tried.
            body = {"error": "the action's answer was refused: it would send you to an "
                    "address that is not an internal path or an http(s) URL"}
            rendered = Rendered(400, body, "error", f"refused an unsafe result: {exc}")
        except (LeaseLost, asyncio.CancelledError):
            raise
        except UpstreamError as exc:
            # A remote action whose service failed: its own status (502/504) and message.
            await self._finish(run_id, control, status="failed", status_code=exc.status,
                               result_kind=None, message=exc.message)
            exc.detail = {**(exc.detail or {}), "run_id": run_id}
            raise
        except Exception as exc:
            log.exception("action %s failed (run %s)", action.slug, run_id)
            lost = lost_database(exc)
            await self._finish(
                run_id, control, status="failed", status_code=503 if lost else 500,
                result_kind=None, message=f"{type(exc).__name__}: {exc}"[:2000],
            )
            if lost:
                raise UnavailableError(
                    f"{action.name} failed: the connection to the database was lost while it "
                    "ran; the run is marked failed, and what it had not committed was rolled "
                    "back. Retry in a moment",
                    detail={"run_id": run_id},
                ) from exc
            raise ActionFailedError(
                f"{action.name} failed unexpectedly; the details are in the server log",
                detail={"run_id": run_id},
            ) from exc
        file = rendered.file
        status: RunStatus = "succeeded" if rendered.status < 400 else "error"
        await self._finish(
            run_id, control,
            status=status,
            status_code=rendered.status,
            result_kind=rendered.kind,
            message=rendered.message,
            result=rendered.body,
            result_file=file.content if file is not None and isinstance(file.content, bytes)
            and keep_file else None,
            result_filename=rendered.message if file is not None else None,
            result_mime=file.mime if file is not None else None,
        )
        return Outcome(rendered, run_id, status=status)

    def context(self, run_id: str, job: Job, control: RunControl | None) -> ActionContext:
        """The context a handler of ``job`` receives."""
        action = job.action
        return ActionContext(
            caller=job.caller, action=action,
            collection=self.datasource.collection(action.collection)
            if action.collection is not None else None,
            selection=job.selection, values=job.values, parent=job.parent,
            db=self.datasource.engine if action.is_async else self.datasource.sync_engine,
            run_id=run_id, control=control,
        )

    async def run_partition(self, run_id: str, job: Job, control: RunControl) -> Result:
        """Run the handler on one partition of a partitioned run (``job.selection`` is the
        partition) and return what it returned; the partitions' runner records the outcome
        and ends the run when every partition has ended."""
        return await self.context(run_id, job, control).run_handler()

    async def finish_early(
        self, run_id: str, status: RunStatus, message: str,
        control: LeasedRunControl | None = None,
    ) -> None:
        """End a begun run whose handler never ran (cancelled first, or nothing left to run
        on)."""
        await self._finish(run_id, control, status=status, status_code=200, result_kind=None,
                           message=message)

    async def _finish(
        self, run_id: str, control: LeasedRunControl | None, **outcome: Any
    ) -> None:
        if control is None:
            await self.runs.finish(run_id, **outcome)
            return
        try:
            await self.runs.finish(run_id, owner=control.owner, done_count=control.done,
                                   **outcome)
        except ValueError:
            raise LeaseLost(run_id) from None

    async def replay(self, run: RunRecord) -> Outcome:
        """The answer of the first run of a repeated idempotency key."""
        if run.status == "failed":
            raise ActionFailedError(
                f"{run.action_name} failed on the first request with this Idempotency-Key",
                detail={"run_id": run.id},
            )
        file = None
        if run.result_kind == "file":
            stored = await self.runs.get_file(run.id)
            if stored is None:
                raise ClientError(
                    "the first request's file result was not kept, so it cannot be replayed",
                    detail={"run_id": run.id},
                )
            content, filename, mime = stored
            file = File(filename=filename, content=content, mime=mime)
        return Outcome(stored_answer(run, file), run.id, replayed=True, status=run.status)


def stored_answer(run: RunRecord, file: File | None = None) -> Rendered:
    """The answer a finished run recorded."""
    body = run.result if isinstance(run.result, dict) else None
    return Rendered(run.status_code or 200, body, run.result_kind or "none", run.message,
                    file=file)


def redact(action: Action, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for the audit: secret fields hidden, files reduced to name, type and size."""
    result = {}
    for name, value in values.items():
        spec = action.form_field(name)
        result[name] = REDACTED if spec is not None and spec.secret and value is not None else (
            json_value(value)
        )
    return result


def cancelled_message(control: LeasedRunControl) -> str:
    total = f" of {control.total:,}" if control.total is not None else ""
    return f"cancelled after {control.done:,}{total} records"


async def _materialise(rendered: Rendered) -> Rendered:
    """Read a file result into memory so it can be kept for an idempotent replay."""
    file = rendered.file
    assert file is not None  # noqa: S101 - only called for file results
    if isinstance(file.content, bytes):
        return rendered
    chunks: list[bytes] = []
    size = 0
    async for chunk in iterate_file(file):
        size += len(chunk)
        if size > MAX_REPLAYABLE_FILE_BYTES:
            raise ActionError("the file is too large to keep for an Idempotency-Key replay")
        chunks.append(chunk)
    kept = File(filename=file.filename, content=b"".join(chunks), mime=file.mime)
    return Rendered(rendered.status, rendered.body, rendered.kind, rendered.message, file=kept)
