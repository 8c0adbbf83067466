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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actiondesk.actions.context import ParentContext
from actiondesk.data.filters import Filter, parse_filter
from actiondesk.errors import BadRequestError, FilterError

MAX_IDS = 10_000
# Keys Forest's clients send in all_records_subset_query besides fields[...] and page[...].
_SUBSET_KEYS = frozenset({"filters", "filter", "search", "searchExtended", "sort", "timezone"})
_ATTRIBUTES = frozenset({
    "collection_name", "ids", "values", "all_records", "all_records_subset_query",
    "all_records_ids_excluded", "parent_collection_name", "parent_collection_id",
    "parent_association_name", "smart_action_id", "changed_field", "signed_approval_request",
    "requester_id",
})


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


def _bad(path: str, message: str) -> BadRequestError:
    return BadRequestError(
        f"malformed JSON:API document: {path} {message}", fields={path: message}
    )


def _id_list(attributes: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = attributes.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _bad(f"data.attributes.{key}", "must be a list of record ids")
    if len(raw) > MAX_IDS:
        raise _bad(
            f"data.attributes.{key}",
            f"holds more than {MAX_IDS:,} ids; use all_records with a filter instead",
        )
    result = []
    for item in raw:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise _bad(f"data.attributes.{key}", "must hold record ids (text)")
        result.append(str(item))
    return tuple(dict.fromkeys(result))


def _optional_text(attributes: Mapping[str, Any], key: str) -> str | None:
    value = attributes.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _bad(f"data.attributes.{key}", "must be text")
    return value


def parse_action_request(document: Any) -> ActionRequest:
    """Validate a request document; BadRequestError names the offending path."""
    if document is None:
        return ActionRequest()
    if not isinstance(document, Mapping):
        raise _bad("body", "must be a JSON object")
    data = document.get("data")
    if data is None:
        return ActionRequest()
    if not isinstance(data, Mapping):
        raise _bad("data", "must be an object")
    kind = data.get("type")
    if kind is not None and kind != "custom-action-requests":
        raise _bad("data.type", "must be 'custom-action-requests'")
    attributes = data.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise _bad("data.attributes", "must be an object")
    unknown = set(attributes) - _ATTRIBUTES
    if unknown:
        raise _bad("data.attributes", f"has unknown key(s): {', '.join(sorted(unknown))}")
    values = attributes.get("values")
    if values is not None and not isinstance(values, Mapping):
        raise _bad("data.attributes.values", "must be an object")
    all_records = attributes.get("all_records", False)
    if not isinstance(all_records, bool):
        raise _bad("data.attributes.all_records", "must be true or false")
    subset_filter, search = _subset(attributes.get("all_records_subset_query"))
    parent = _parent(attributes)
    return ActionRequest(
        collection_name=_optional_text(attributes, "collection_name"),
        ids=_id_list(attributes, "ids"),
        values=values,
        all_records=all_records,
        subset_filter=subset_filter,
        search=search,
        excluded_ids=_id_list(attributes, "all_records_ids_excluded"),
        parent=parent,
        smart_action_id=_optional_text(attributes, "smart_action_id"),
        changed_field=_optional_text(attributes, "changed_field"),
    )


def _subset(query: Any) -> tuple[Filter | None, str | None]:
    path = "data.attributes.all_records_subset_query"
    if query is None:
        return None, None
    if not isinstance(query, Mapping):
        raise _bad(path, "must be an object")
    if set(query) & {"field", "operator", "aggregator", "conditions"}:
        raise _bad(path, "holds a bare filter; put it under 'filters'")
    unknown = [k for k in query if k not in _SUBSET_KEYS and not k.startswith(("fields[",
                                                                              "page["))]
    if unknown:
        # A key we do not understand could be a condition we would silently ignore,
        # widening the selection: refuse it.
        raise _bad(path, f"has unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    raw = query.get("filters", query.get("filter"))
    search = query.get("search")
    if search is not None and not isinstance(search, str):
        raise _bad(f"{path}.search", "must be text")
    if raw is None or raw == "":
        return None, search or None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise _bad(f"{path}.filters", "is not valid JSON") from None
    try:
        return parse_filter(raw), search or None
    except FilterError as exc:
        raise BadRequestError(
            f"{path}.filters: {exc.message}", detail=exc.detail,
            fields={f"{path}.filters": exc.message},
        ) from None


def _parent(attributes: Mapping[str, Any]) -> ParentContext | None:
    names = ("parent_collection_name", "parent_collection_id", "parent_association_name")
    given = {n: _optional_text(attributes, n) for n in names}
    if not any(given.values()):
        return None
    missing = [n for n, v in given.items() if not v]
    if missing:
        raise _bad(
            "data.attributes." + missing[0],
            "is required with the other parent_* attributes",
        )
    return ParentContext(
        collection=str(given["parent_collection_name"]),
        id=str(given["parent_collection_id"]),
        association=str(given["parent_association_name"]),
    )
