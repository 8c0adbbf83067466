"""Response models of the runs audit API, which also document it in OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from actiondesk.runs.store import MAX_WEBHOOK_ERROR


class ProgressOut(BaseModel):
    done: int = Field(description="Records done (committed batches, or what the handler "
                      "reported).")
    total: int | None = Field(description="Records selected; None for a global action.")
    percent: float | None = Field(description="done / total, 0 to 100.")
    rate: float | None = Field(description="Records per second since this attempt started.")
    eta_seconds: float | None = Field(description="Estimated seconds left (while running).")
    updated_at: str | None = Field(description="When progress was last written (ISO 8601).")


class PartitionOut(BaseModel):
    number: int = Field(description="1 to the number of partitions, in key order.")
    status: str = Field(description="queued, running, succeeded, error, failed or cancelled")
    total: int | None = Field(description="Records planned in its key range.")
    done: int = Field(description="Records done (committed batches).")
    attempts: int = Field(description="How many times a runner took it (resumes + 1).")
    message: str | None = Field(description="Why it failed or answered an error.")
    started_at: str | None = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})


class WebhookOutcomeIn(BaseModel):
    """What the browser saw when it called the webhook a run answered with."""

    model_config = ConfigDict(extra="forbid")
    delivered: StrictBool = Field(description="Whether the webhook answered with a 2xx status.")
    status: StrictInt | None = Field(
        default=None, ge=100, le=599, description="The HTTP status the webhook answered with; "
        "none when it could not be reached.")
    error: str | None = Field(default=None, max_length=MAX_WEBHOOK_ERROR,
                              description="Why it was not delivered, as the browser saw it.")


class WebhookOutcomeOut(BaseModel):
    delivered: bool
    status: int | None
    error: str | None
    reported_at: str = Field(json_schema_extra={"format": "date-time"})


class RunOut(BaseModel):
    id: str
    action_slug: str
    action_name: str
    collection: str | None = Field(description="None for a global action.")
    scope: str = Field(description="single, bulk or global")
    caller: dict[str, Any] = Field(description="Who ran it: id, email, names, team, role, tags.")
    selection: dict[str, Any] = Field(
        description="What it applied to: ids, or all_records with filter, search, excluded "
        "ids and count; and the parent record when run from a relationship."
    )
    values: dict[str, Any] = Field(description="The form values, secrets redacted.")
    status: str = Field(
        description="queued, running, succeeded, failed, error, refused, cancelled, or "
        "approval_requested (frozen for approval; the approved request runs as another run)"
    )
    status_code: int | None = Field(description="The HTTP status the request was answered with.")
    result_kind: str | None = Field(
        description="none, success, html, error, webhook, file or redirect; abandoned when "
        "the process running it stopped before recording its outcome (status failed)"
    )
    message: str | None
    result: Any = Field(description="The response body, replayed for a repeated idempotency key.")
    has_file: bool = Field(description="Whether a file is stored: GET /api/runs/{id}/file.")
    result_filename: str | None
    result_mime: str | None
    idempotency_key: str | None
    record_count: int | None = Field(description="How many records the selection held.")
    started_at: str = Field(
        description="ISO 8601, UTC.", json_schema_extra={"format": "date-time"}
    )
    finished_at: str | None = Field(
        description="ISO 8601, UTC; None while running.", json_schema_extra={"format": "date-time"}
    )
    duration_ms: int | None
    background: bool = Field(description="Queued for a runner instead of run in its request.")
    runner: str | None = Field(description="inprocess or procrastinate; None when inline.")
    attempts: int | None = Field(description="How many times a runner took it (resumes + 1).")
    cancel_requested: bool
    progress: ProgressOut | None = Field(description="None for a run done during its request.")
    partitions: list[PartitionOut] | None = Field(
        default=None, description="GET /api/runs/{id} of a partitioned run: its partitions "
        "(None otherwise, and in lists).")
    webhook: WebhookOutcomeOut | None = Field(
        default=None, description="For a webhook result: whether the caller's browser "
        "delivered it (POST /api/runs/{id}/webhook); None until it reports.")



class RunQueuedOut(BaseModel):
    run: RunOut = Field(description="The queued background run; follow it at /api/runs/{id}.")


class RunPage(BaseModel):
    runs: list[RunOut] = Field(description="Newest first.")
    count: int = Field(description="How many runs match the filters in all.")
    page: int
    page_size: int = Field(description="The page size used (a larger request is capped).")
