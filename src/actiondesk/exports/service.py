"""An export of a list, checked and audited before its first byte: the caller's role may
export the collection, the filter, search, sort and columns are valid (a clean 4xx JSON
otherwise), and the export is recorded as a run — who, what list, and, once streamed, how
many rows, or that it stopped early."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from actiondesk.actions.filenames import safe_filename
from actiondesk.data.schema import Collection, Field
from actiondesk.errors import BadRequestError, lost_database
from actiondesk.exports.formats import FORMATS, ExportFormat, RowWriter
from actiondesk.exports.keyset import DEFAULT_BATCH, ordered_batches
from actiondesk.services.records import ListQuery, RecordsService, parse_filter_text, parse_sort

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access
    from actiondesk.runs.store import RunsService

log = logging.getLogger("actiondesk.exports")

MAX_COLUMNS = 200
# An export's run: a slug with a dot, which no declared action's slug can hold.
EXPORT_SLUG = "export.{format}"
_NAMES = {"csv": "Export as CSV", "jsonl": "Export as JSON lines"}


@dataclass(frozen=True)
class ExportQuery:
    """What to export, as the client sent it: the list's state, and the columns
    (comma-separated field names; all fields when empty)."""

    filter: str | None = None
    search: str | None = None
    sort: str | None = None
    columns: str | None = None


@dataclass
class Export:
    """A validated export whose run has begun: iterate ``chunks()`` once to stream it."""

    run_id: str
    filename: str
    media_type: str
    rows: int = 0
    _first: str = ""
    _rest: AsyncGenerator[str, None] | None = None

    async def chunks(self) -> AsyncIterator[str]:
        assert self._rest is not None  # noqa: S101 - set by ExportService.start
        try:
            if self._first:
                yield self._first
            async for chunk in self._rest:
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await self._rest.aclose()


class ExportService:
    def __init__(self, records: RecordsService, runs: RunsService, *,
                 batch_size: int = DEFAULT_BATCH) -> None:
        self.records = records
        self.runs = runs
        self.batch_size = batch_size

    def columns(self, collection: Collection, text: str | None) -> list[Field]:
        """The fields named by ``text`` in its order; every field when it names none."""
        names = [n.strip() for n in (text or "").split(",") if n.strip()]
        if not names:
            return list(collection.fields.values())
        if len(names) > MAX_COLUMNS:
            raise BadRequestError(f"export at most {MAX_COLUMNS} columns",
                                  fields={"columns": "too many columns"})
        unknown = [n for n in names if n not in collection.fields]
        if unknown:
            raise BadRequestError(
                f"{collection.name} has no field {unknown[0]!r}",
                fields={"columns": "unknown field(s): " + ", ".join(unknown[:5])},
            )
        return [collection.fields[n] for n in dict.fromkeys(names)]

    async def start(self, collection_name: str, query: ExportQuery, format: str,
                    access: Access) -> Export:
        if format not in FORMATS:
            raise BadRequestError(f"no export format {format!r}",
                                  fields={"format": "one of " + ", ".join(FORMATS)})
        fmt: ExportFormat = "csv" if format == "csv" else "jsonl"
        collection = self.records.collection(collection_name, access)
        access.require_export(collection.name)
        where = self.records.where(collection, ListQuery(filter=query.filter,
                                                         search=query.search))
        sort = parse_sort(query.sort)
        self.records.datasource.order_by(collection, sort)  # a bad sort is a 400 now
        fields = self.columns(collection, query.columns)
        parsed = parse_filter_text(query.filter)
        described = {
            "export": fmt,
            "all_records": True,  # shown as a select-all of the list's filter by the run page
            "filter": parsed.to_json() if parsed is not None else None,
            "search": query.search or None,
            "sort": query.sort or None,
            "columns": [f.name for f in fields],
        }
        begun = await self.runs.begin(
            action_slug=EXPORT_SLUG.format(format=fmt), action_name=_NAMES[fmt],
            collection=collection.name, scope="bulk", caller=access.caller.to_json(),
            selection=described, values={},
        )
        assert isinstance(begun, str)  # noqa: S101 - no idempotency key, so always a new run
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        export = Export(
            run_id=begun,
            filename=safe_filename(f"{collection.name}-{stamp}.{FORMATS[fmt].extension}",
                                   f"export.{FORMATS[fmt].extension}"),
            media_type=FORMATS[fmt].media_type,
        )
        export._rest = self._stream(export, collection, where, sort,
                                    RowWriter(collection, fields, fmt))
        # Started here, so the run is finished (and its lease let go) however the download
        # ends, even if the client leaves before the body starts.
        export._first = await anext(export._rest)
        return export

    async def _stream(self, export: Export, collection: Collection, where: Any,
                      sort: Sequence[Any], writer: RowWriter) -> AsyncGenerator[str, None]:
        datasource = self.records.datasource
        outcome: tuple[str, int, str] = ("cancelled", 499, "the download stopped after "
                                         "{rows} row(s): the client went away")
        try:
            yield writer.header()  # "" for JSON lines: the first step only starts the run
            async for rows in ordered_batches(datasource, collection, fields=writer.needed,
                                              where=where, sort=sort, size=self.batch_size):
                chunk = writer.lines(rows)
                export.rows += len(rows)
                yield chunk
            outcome = ("succeeded", 200, "exported {rows} row(s)")
        except Exception as exc:
            code = 503 if lost_database(exc) else 500
            log.exception("export run %s failed after %d row(s)", export.run_id, export.rows)
            outcome = ("error", code, f"the export failed after {{rows}} row(s): "
                       f"{type(exc).__name__}")
            raise
        finally:
            status, code, message = outcome
            # Shielded: a client that goes away cancels the stream, and the audit must
            # still say how far it got.
            with anyio.CancelScope(shield=True):
                await self.runs.finish(
                    export.run_id, status=status, status_code=code,  # type: ignore[arg-type]
                    result_kind="export" if status == "succeeded" else "error",
                    message=message.format(rows=export.rows),
                    result={"rows": export.rows, "format": writer.format},
                    record_count=export.rows,
                )
