"""Routes for collections and records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from actiondesk.data.datasource import Page
from actiondesk.http.api.models import (
    CollectionList,
    CollectionOut,
    ErrorOut,
    RecordDetail,
    RecordLabels,
    RecordPage,
)
from actiondesk.http.dependencies import CurrentAccess, RecordsDep
from actiondesk.services.records import MAX_LABEL_IDS, ListQuery

router = APIRouter(tags=["records"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad query parameters (the field is named)."},
    404: {"model": ErrorOut, "description": "Unknown collection, record or relationship."},
}

FilterParam = Annotated[
    str | None,
    Query(
        description='A filter in JSON, e.g. {"field":"status","operator":"equal",'
        '"value":"live"} or {"aggregator":"and","conditions":[...]}.',
        max_length=20_000,
    ),
]
SearchParam = Annotated[
    str | None,
    Query(description="Text searched in every string field (case-insensitive).", max_length=200),
]
SortParam = Annotated[
    str | None,
    Query(description="Comma-separated field names; '-' before a name sorts descending.",
          max_length=500),
]
PageParam = Annotated[int, Query(ge=1, le=10_000_000, description="1-based page number.")]
PageSizeParam = Annotated[
    int | None, Query(ge=1, description="Records per page; larger than the maximum is capped.")
]


async def list_query(filter: FilterParam = None, search: SearchParam = None,
                     sort: SortParam = None, page: PageParam = 1,
                     page_size: PageSizeParam = None) -> ListQuery:
    """The query parameters of a list of records."""
    return ListQuery(filter=filter, search=search, sort=sort, page=page, page_size=page_size)


Listing = Annotated[ListQuery, Depends(list_query)]


def _page_out(collection: str, page: Page) -> dict[str, Any]:
    return {
        "collection": collection,
        "records": page.records,
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
        "references": page.references,
    }


CountsParam = Annotated[bool, Query(description="Also say how many records each holds "
                                    "(estimated from the database's statistics for large "
                                    "tables).")]


@router.get("/collections", response_model=CollectionList, summary="Collections and schemas")
async def list_collections(records: RecordsDep, access: CurrentAccess,
                           counts: CountsParam = False) -> dict[str, Any]:
    return {"collections": await records.schemas(access, counts=counts)}


@router.get(
    "/collections/{collection}",
    response_model=CollectionOut,
    responses=_ERRORS,
    summary="One collection's schema",
)
async def get_collection(collection: str, records: RecordsDep,
                         access: CurrentAccess) -> dict[str, Any]:
    return records.schema(records.collection(collection, access))


@router.get(
    "/collections/{collection}/labels",
    response_model=RecordLabels,
    responses=_ERRORS,
    summary="The labels of some records",
)
async def record_labels(
    collection: str, records: RecordsDep, access: CurrentAccess,
    ids: Annotated[list[str], Query(description="Record ids (repeat the parameter), at most "
                                    f"{MAX_LABEL_IDS}.", max_length=MAX_LABEL_IDS)],
) -> dict[str, Any]:
    """What a client showing ids it holds (a run's, an approval request's) needs to name
    them: the label of each, by id, in one query. Ids of no record are left out."""
    return {"collection": collection,
            "labels": await records.record_labels(collection, ids, access)}


@router.get(
    "/collections/{collection}/records",
    response_model=RecordPage,
    responses=_ERRORS,
    summary="List records",
)
async def list_records(
    collection: str, query: Listing, records: RecordsDep, access: CurrentAccess
) -> dict[str, Any]:
    result = await records.list(collection, query, access)
    return _page_out(collection, result)


@router.get(
    "/collections/{collection}/records/{record_id}",
    response_model=RecordDetail,
    responses=_ERRORS,
    summary="One record",
)
async def get_record(collection: str, record_id: str, records: RecordsDep,
                     access: CurrentAccess) -> dict[str, Any]:
    return await records.get(collection, record_id, access)


@router.get(
    "/collections/{collection}/records/{record_id}/relationships/{relationship}",
    response_model=RecordPage,
    responses=_ERRORS,
    summary="Related records of one record",
)
async def list_related(
    collection: str,
    record_id: str,
    relationship: str,
    query: Listing,
    records: RecordsDep,
    access: CurrentAccess,
) -> dict[str, Any]:
    target, result = await records.related(collection, record_id, relationship, query, access)
    return _page_out(target.name, result)
