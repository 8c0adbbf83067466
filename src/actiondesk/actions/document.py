"""The execute and form request body: Forest's JSON:API ``custom-action-requests`` document.

::

    {"data": {"type": "custom-action-requests", "attributes": {
        "collection_name": "companies",
        "ids": ["1", "2"],
        "values": {"amount": "12.50"},
        "all_records": false,
        "all_records_subset_query": {"filters": "<filter JSON>", "search": "text"},
        "all_records_ids_excluded": ["3"],
        "parent_collection_name": "companies",
        "parent_collection_id": "7",
        "parent_association_name": "emitted_transactions",
        "smart_action_id": "companies-mark-as-live",
        "changed_field": "amount"}}}

Ids are record ids in their documented text form. ``filters`` may be a JSON string (as
Forest sends it) or an object; ``filter`` is accepted as a synonym.

``ExecuteBody`` both parses the document and is what OpenAPI shows for it. Every check raises
a ``PydanticCustomError``; ``parse_action_request`` turns the first one into the
``BadRequestError`` a client receives, naming the offending path (``data.attributes.ids``).
The rest of the code works with the typed ``ActionRequest`` it returns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from actiondesk.actions.caller import ParentContext
from actiondesk.data.filters import Filter, parse_filter
from actiondesk.errors import BadRequestError, FilterError

MAX_IDS = 10_000
REQUEST_TYPE: Final = "custom-action-requests"


@dataclass(frozen=True)
class ActionRequest:
    collection_name: str | None = None
    ids: tuple[str, ...] = ()
    values: Mapping[str, Any] | None = None
    all_records: bool = False
    subset_filter: Filter | None = None
    search: str | None = None
    excluded_ids: tuple[str, ...] = ()
    parent: ParentContext | None = None
    smart_action_id: str | None = None
    changed_field: str | None = None


def _refuse(message: str, at: str | None = None) -> PydanticCustomError:
    """A refusal of the value being validated (or of its sibling ``at``)."""
    return PydanticCustomError("jsonapi", "{message}", {"message": message, "at": at})


def _object(value: Any, what: str = "an object") -> Any:
    if not isinstance(value, Mapping):
        raise _refuse(f"must be {what}")
    return value


def _optional_object(value: Any) -> Any:
    return None if value is None else _object(value)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _refuse("must be text")


def _record_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _refuse("must be a list of record ids")
    if len(value) > MAX_IDS:
        raise _refuse(f"holds more than {MAX_IDS:,} ids; use all_records with a filter instead")
    if any(isinstance(item, bool) or not isinstance(item, str | int) for item in value):
        raise _refuse("must hold record ids (text)")
    return list(dict.fromkeys(map(str, value)))


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _refuse("must be true or false")
    return value


def _search(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _refuse("must be text")
    return value or None


def _filters(value: Any) -> Filter | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _refuse("is not valid JSON") from None
    try:
        return parse_filter(value)
    except FilterError as exc:
        raise PydanticCustomError(
            "filter", "{message}", {"message": exc.message, "detail": exc.detail}
        ) from None


def _request_type(value: Any) -> Any:
    if value is not None and value != REQUEST_TYPE:
        raise _refuse(f"must be '{REQUEST_TYPE}'")
    return REQUEST_TYPE


def _unknown_keys(keys: list[str]) -> PydanticCustomError:
    return _refuse(f"has unknown key(s): {', '.join(sorted(keys))}")


Text = Annotated[str | None, BeforeValidator(_text)]
RecordIds = Annotated[list[str], BeforeValidator(_record_ids)]


class SubsetQuery(BaseModel):
    """Which records ``all_records`` selects, with Forest's other list parameters."""

    # fields[...] and page[...] are Forest's too; any other key is refused (see below).
    model_config = ConfigDict(json_schema_extra={
        "patternProperties": {r"^(fields|page)\[": {}}, "additionalProperties": False})

    # Declared in the order they are checked: the first refusal is the one reported.
    search: Annotated[str | None, BeforeValidator(_search)] = None
    filters: Annotated[
        Filter | None,
        PlainValidator(_filters, json_schema_input_type=str | dict[str, Any] | None),
    ] = Field(default=None, description="A filter (JSON text or object).")
    filter: Any = Field(default=None, description="A synonym of filters, read when filters "
                        "is absent.")
    search_extended: Any = Field(default=None, alias="searchExtended")
    sort: Any = None
    timezone: Any = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, query: Any) -> Any:
        query = _object(query)
        if set(query) & {"field", "operator", "aggregator", "conditions"}:
            raise _refuse("holds a bare filter; put it under 'filters'")
        known = {field.alias or name for name, field in cls.model_fields.items()}
        unknown = [k for k in query if k not in known and not str(k).startswith(("fields[",
                                                                                   "page["))]
        if unknown:
            # A key we do not understand could be a condition we would silently ignore,
            # widening the selection: refuse it.
            raise _unknown_keys(list(map(str, unknown)))
        if "filters" not in query and "filter" in query:
            return {**query, "filters": query["filter"]}
        return query


class ExecuteAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Declared in the order they are checked: the first refusal is the one reported.
    values: Annotated[dict[str, Any] | None, BeforeValidator(_optional_object)] = Field(
        default=None, description="Form values by name.")
    all_records: Annotated[bool, BeforeValidator(_flag)] = Field(
        default=False, description="Select every record matching all_records_subset_query, "
        "minus all_records_ids_excluded.")
    all_records_subset_query: SubsetQuery | None = None
    parent_collection_name: Text = None
    parent_collection_id: Text = None
    parent_association_name: Text = Field(default=None, validate_default=True)
    collection_name: Text = None
    ids: RecordIds = Field(default_factory=list, description="Selected record ids.")
    all_records_ids_excluded: RecordIds = Field(default_factory=list)
    smart_action_id: Text = None
    changed_field: Text = Field(default=None, description="Form change: the field that "
                                "changed.")
    signed_approval_request: Any = Field(default=None, description="Sent by Forest's "
                                         "clients; ignored.")
    requester_id: Any = Field(default=None, description="Sent by Forest's clients; ignored.")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, attributes: Any) -> Any:
        unknown = set(_object(attributes)) - set(cls.model_fields)
        if unknown:
            raise _unknown_keys(list(unknown))
        return attributes

    @field_validator("parent_association_name")
    @classmethod
    def _whole_parent(cls, association: str | None, info: ValidationInfo) -> str | None:
        given = {"parent_collection_name": info.data.get("parent_collection_name"),
                 "parent_collection_id": info.data.get("parent_collection_id"),
                 "parent_association_name": association}
        missing = [name for name, value in given.items() if not value]
        if missing and len(missing) < len(given):
            raise _refuse("is required with the other parent_* attributes", at=missing[0])
        return association

    def parent(self) -> ParentContext | None:
        if not self.parent_association_name:
            return None
        return ParentContext(
            collection=str(self.parent_collection_name),
            id=str(self.parent_collection_id),
            association=self.parent_association_name,
        )


class ExecuteData(BaseModel):
    type: Annotated[Literal["custom-action-requests"], BeforeValidator(_request_type)] = (
        REQUEST_TYPE)
    attributes: ExecuteAttributes = Field(default_factory=ExecuteAttributes)

    @model_validator(mode="before")
    @classmethod
    def _is_object(cls, data: Any) -> Any:
        return _object(data)


class ExecuteBody(BaseModel):
    """Forest's JSON:API ``custom-action-requests`` document."""

    data: ExecuteData | None = None

    @model_validator(mode="before")
    @classmethod
    def _is_object(cls, document: Any) -> Any:
        return {} if document is None else _object(document, "a JSON object")

    def request(self) -> ActionRequest:
        if self.data is None:
            return ActionRequest()
        attributes = self.data.attributes
        query = attributes.all_records_subset_query
        return ActionRequest(
            collection_name=attributes.collection_name,
            ids=tuple(attributes.ids),
            values=attributes.values,
            all_records=attributes.all_records,
            subset_filter=query.filters if query else None,
            search=query.search if query else None,
            excluded_ids=tuple(attributes.all_records_ids_excluded),
            parent=attributes.parent(),
            smart_action_id=attributes.smart_action_id,
            changed_field=attributes.changed_field,
        )


def parse_action_request(document: Any) -> ActionRequest:
    """Validate a request document; BadRequestError names the offending path."""
    try:
        return ExecuteBody.model_validate(document).request()
    except ValidationError as exc:
        raise _bad_request(exc) from None


def _bad_request(exc: ValidationError) -> BadRequestError:
    first = exc.errors(include_url=False)[0]
    context = first.get("ctx") or {}
    loc = [str(part) for part in first["loc"]]
    if context.get("at"):
        loc[-1] = context["at"]
    path = ".".join(loc) or "body"
    message = context.get("message", first["msg"])
    if first["type"] == "filter":
        return BadRequestError(f"{path}: {message}", detail=context.get("detail"),
                               fields={path: message})
    return BadRequestError(
        f"malformed JSON:API document: {path} {message}", fields={path: message}
    )
