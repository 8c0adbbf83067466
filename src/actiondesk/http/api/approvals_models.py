"""Request and response models of the approvals API, which also document it in OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DecisionIn(BaseModel):
    """The body of approve, reject and cancel: an optional message, nothing else. Ids and
    values were frozen with the request; a body trying to change them is refused (400)."""

    model_config = ConfigDict(extra="forbid")
    message: str | None = Field(default=None, max_length=2000)


class ApprovalActionOut(BaseModel):
    slug: str
    name: str
    collection: str | None
    scope: str


class ApprovalOut(BaseModel):
    id: str
    status: str = Field(description="pending, executing, executed, failed, rejected, "
                        "cancelled or expired")
    action: ApprovalActionOut
    record_count: int | None = Field(description="How many records were frozen; None for a "
                                     "global action.")
    values: dict[str, Any] = Field(description="The form values, secrets redacted.")
    approvals_required: int
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    expires_at: str = Field(json_schema_extra={"format": "date-time"})
    requester: dict[str, Any]
    parent: dict[str, Any] | None
    selection: dict[str, Any]
    approvals: int = Field(description="Distinct approvals given so far.")
    approvers: list[dict[str, str]]
    decided_at: str | None = Field(description="When the review ended (UTC): the last "
                                   "approval, the rejection, the cancellation or the expiry.")
    decision: str | None = Field(description="approved, rejected, cancelled or expired; None "
                                 "while pending.")
    reviewer: dict[str, str] | None = Field(description="Who decided ({id, email}): the "
                                            "approver whose approval made it run, the rejecter, "
                                            "or the requester who cancelled; None if it expired.")
    decision_message: str | None = Field(description="The message given with the decision.")
    run_id: str | None = Field(description="The audited run, once executed.")
    result: Any = Field(description="The action's answer ({success}, {html}, {redirectTo}...).")
    result_kind: str | None
    result_status_code: int | None
    result_filename: str | None
    result_mime: str | None
    has_file: bool = Field(description="GET /api/approvals/{id}/file returns it.")
    reason: str | None = Field(description="Why it failed, or the reviewer's message.")


class TimelineEntry(BaseModel):
    at: str
    actor: dict[str, str] | None = Field(description="None for what the system did.")
    kind: str
    message: str | None


class RecordPage(BaseModel):
    ids: list[str] = Field(description="Record ids in their documented text form.")
    count: int
    page: int
    page_size: int


class ApprovalDetail(ApprovalOut):
    timeline: list[TimelineEntry]
    records: RecordPage = Field(description="The first page of the frozen records.")
    can_decide: bool
    can_cancel: bool


class ApprovalResult(BaseModel):
    approval: ApprovalOut


class ApprovalPage(BaseModel):
    approvals: list[ApprovalOut] = Field(description="Newest first.")
    count: int
    page: int
    page_size: int


class BadgeOut(BaseModel):
    to_review: int = Field(description="Requests waiting for the caller's review.")
