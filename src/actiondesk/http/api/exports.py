"""Routes that download a list as CSV or JSON lines (the list's filter, search, sort and
columns), streamed; checked, and the run begun, before the first byte."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from actiondesk.actions.results import content_disposition
from actiondesk.exports.service import ExportQuery, ExportService
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.api.records import FilterParam, SearchParam, SortParam
from actiondesk.http.dependencies import CurrentAccess, ExportsDep
from actiondesk.permissions.access import Access

router = APIRouter(tags=["records"])

ColumnsParam = Annotated[
    str | None,
    Query(description="Comma-separated field names, in order; every field when omitted.",
          max_length=10_000),
]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad filter, search, sort or columns (named)."},
    403: {"model": ErrorOut, "description": "The role may not read or export the collection."},
    404: {"model": ErrorOut, "description": "Unknown collection."},
}


async def export_query(filter: FilterParam = None, search: SearchParam = None,
                       sort: SortParam = None, columns: ColumnsParam = None) -> ExportQuery:
    return ExportQuery(filter=filter, search=search, sort=sort, columns=columns)


Exported = Annotated[ExportQuery, Depends(export_query)]


async def _download(collection: str, query: ExportQuery, format: str,
                    exports: ExportService, access: Access) -> StreamingResponse:
    export = await exports.start(collection, query, format, access)
    return StreamingResponse(
        export.chunks(), media_type=export.media_type,
        headers={"Content-Disposition": content_disposition(export.filename),
                 "Access-Control-Expose-Headers": "Content-Disposition, X-Actiondesk-Run-Id",
                 "X-Actiondesk-Run-Id": export.run_id, "Cache-Control": "no-store"},
    )


@router.get(
    "/collections/{collection}/records.csv", response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The records, streamed."},
               **_RESPONSES},
    summary="Export a list as CSV",
)
async def export_csv(collection: str, query: Exported, exports: ExportsDep,
                     access: CurrentAccess) -> StreamingResponse:
    return await _download(collection, query, "csv", exports, access)


@router.get(
    "/collections/{collection}/records.jsonl", response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}},
                     "description": "One JSON object per record, streamed."},
               **_RESPONSES},
    summary="Export a list as JSON lines",
)
async def export_jsonl(collection: str, query: Exported, exports: ExportsDep,
                       access: CurrentAccess) -> StreamingResponse:
    return await _download(collection, query, "jsonl", exports, access)
