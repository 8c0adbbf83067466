"""Request and response models of the JSON API, which also document it in OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# A file answer: whatever media type the handler gave (an invoice is application/pdf).
FILE_CONTENT: dict[str, Any] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, for a person to read.")
    detail: Any = Field(default=None, description="More about the error, when there is more.")
    fields: dict[str, str] | None = Field(
        default=None, description="A message per offending field or query parameter."
    )


class FieldOut(BaseModel):
    name: str
    type: str = Field(description="string, text, integer, number, decimal, boolean, date, "
                      "datetime, time, enum, json, uuid, binary or unknown")
    nullable: bool
    primary_key: bool
    enum_values: list[str] | None = None
    label: str | None = Field(default=None, description="The field's name as people read it.")
    description: str | None = None
    format: str | None = Field(default=None, description="How to show values: text, number, "
                               "money, percent, date, datetime, relative, boolean, email, url "
                               "or image_url.")
    currency: str | None = Field(default=None, description="For money: the ISO 4217 code.")
    currency_field: str | None = Field(default=None, description="For money: the field "
                                       "holding each record's currency code.")
    decimals: int | None = None
    enum_labels: dict[str, str] | None = Field(default=None, description="Stored value -> label.")


class RelationshipOut(BaseModel):
    name: str
    kind: str = Field(description="many_to_one or one_to_many")
    target: str = Field(description="The related collection.")
    fields: list[str] = Field(description="This collection's fields the link is made from.")
    target_fields: list[str] = Field(description="The target's fields they match, pairwise.")


class CollectionOut(BaseModel):
    name: str
    label: str | None = Field(default=None, description="The collection's name as people "
                              "read it.")
    description: str | None = None
    record_label: str | None = Field(default=None, description="The field or template "
                                     "('{firstname} {lastname}') records are known by; none: "
                                     "'#id'.")
    count: int | None = Field(default=None, description="With counts=true: how many records.")
    count_estimated: bool | None = Field(default=None, description="With counts=true: whether "
                                         "the count is the database's estimate.")
    primary_key: list[str]
    fields: list[FieldOut]
    relationships: list[RelationshipOut]


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class RecordOut(BaseModel):
    id: str = Field(
        description="The record id: primary-key values as text, '%' written '%25' and '|' "
        "written '%7C', parts of a composite key joined by '|'."
    )
    label: str | None = Field(default=None, description="The text the record is known by.")
    values: dict[str, Any] = Field(
        description="Field values; decimals as strings, dates in ISO 8601, binary in base64."
    )


class RecordDetail(RecordOut):
    references: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per referenced collection (that the caller may "
        "read), the labels of the records this one refers to, by id.")


class RecordLabels(BaseModel):
    collection: str
    labels: dict[str, str] = Field(description="Record id -> label; ids of no record are "
                                   "left out.")


class RecordPage(BaseModel):
    collection: str
    records: list[RecordOut]
    count: int = Field(description="How many records match the filter and search in all.")
    page: int
    page_size: int = Field(description="The page size used (a larger request is capped).")
    references: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per referenced collection (that the caller may "
        "read), the labels of the records these refer to, by id: one query per collection.")


class ActionOut(BaseModel):
    slug: str
    name: str
    collection: str | None
    scope: str = Field(description="single, bulk or global")
    description: str | None
    submit_label: str
    download: bool = Field(description="The action answers with a file.")
    has_form: bool
    rule: str | None = Field(default=None, description="For this caller: trigger, or approval "
                             "(running it creates an approval request).")
    enabled: bool | None = Field(default=None, description="Can it run on the given ids?")
    disabled_reason: str | None = None
    approval_condition: str | None = Field(
        default=None, description="For rule approval with a condition: when approval is "
        "needed, in words (e.g. 'only when amount is greater than 1,000').")
    approval_applies: bool | None = Field(
        default=None, description="For rule approval: whether running it on this selection "
        "creates an approval request; null while that depends on form values (or on records "
        "not selected yet).")
    remote: dict[str, Any] | None = Field(
        default=None, description="For an action run by another service: its provider, and "
        "whether the provider's action list is stale (its last refresh failed).")
    builtin: str | None = Field(default=None, description="For a built-in record action: "
                                "edit, bulk-edit, create or delete.")


class ActionList(BaseModel):
    actions: list[ActionOut]


class FormFieldOut(BaseModel):
    name: str
    type: str
    label: str
    description: str | None
    required: bool
    value: Any = Field(description="The default on load; the current value on change.")
    read_only: bool
    enum_values: list[str] | None
    placeholder: str | None
    constraints: dict[str, Any]
    visible: bool
    reference: str | None = Field(description="The referenced collection, for references.")
    max_file_bytes: int | None


class FormOut(BaseModel):
    action: ActionOut
    fields: list[FormFieldOut]
    changed_field: str | None


class WebhookOut(BaseModel):
    url: str = Field(description="An http(s) URL for the browser to call.")
    method: str
    headers: dict[str, str]
    body: Any


class RefreshOut(BaseModel):
    relationships: list[str]


class ResultOut(BaseModel):
    """What a handler answered, in Forest's shapes: {success, html?, refresh?}, {html},
    {refresh}, {webhook} or {redirectTo}."""

    success: str | None = None
    html: str | None = Field(default=None, description="Sanitised HTML.")
    refresh: RefreshOut | None = None
    webhook: WebhookOut | None = None
    redirectTo: str | None = Field(default=None, description="An internal path, or an "
                                   "http(s) URL to open in a new tab.")


class ApprovalSummaryOut(BaseModel):
    id: str
    status: str
    action: dict[str, Any]
    record_count: int | None
    values: dict[str, Any] = Field(description="The form values, secrets redacted.")
    approvals_required: int
    created_at: str
    expires_at: str


class ApprovalRequestedOut(BaseModel):
    approval: ApprovalSummaryOut
