"""Request and response models of the JSON API, which also document it in OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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


class RelationshipOut(BaseModel):
    name: str
    kind: str = Field(description="many_to_one or one_to_many")
    target: str = Field(description="The related collection.")
    fields: list[str] = Field(description="This collection's fields the link is made from.")
    target_fields: list[str] = Field(description="The target's fields they match, pairwise.")


class CollectionOut(BaseModel):
    name: str
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
    values: dict[str, Any] = Field(
        description="Field values; decimals as strings, dates in ISO 8601, binary in base64."
    )


class RecordPage(BaseModel):
    collection: str
    records: list[RecordOut]
    count: int = Field(description="How many records match the filter and search in all.")
    page: int
    page_size: int = Field(description="The page size used (a larger request is capped).")
