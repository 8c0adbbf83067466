"""Browsing records: listing with filter, search, sort and paging; one record; related."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.actions.selection import related_scope
from actiondesk.data.datasource import Datasource, Page, SortKey
from actiondesk.data.filters import compile_filter, parse_filter, search_clause
from actiondesk.data.record_ids import decode_id
from actiondesk.data.schema import Collection
from actiondesk.errors import BadRequestError, FilterError, NotFoundError

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access

MAX_FILTER_LENGTH = 20_000
MAX_LABEL_IDS = 200


@dataclass(frozen=True)
class ListQuery:
    """A listing request as the client sent it (text), before validation."""

    filter: str | None = None
    search: str | None = None
    sort: str | None = None
    page: int = 1
    page_size: int | None = None


def parse_sort(text: str | None) -> list[SortKey]:
    """``"name,-created_at"`` → ascending name, then descending created_at."""
    if not text:
        return []
    keys = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part[1:] if descending or part.startswith("+") else part
        if not name:
            raise BadRequestError("sort needs field names", fields={"sort": "empty field name"})
        keys.append(SortKey(name, descending))
    if len(keys) > 5:
        raise BadRequestError("sort by at most 5 fields", fields={"sort": "too many fields"})
    return keys


def parse_filter_text(text: str | None) -> Any:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"filter is longer than {MAX_FILTER_LENGTH} characters",
            fields={"filter": "too long"},
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FilterError(
            f"filter is not valid JSON: {exc.msg} at character {exc.pos}",
            fields={"filter": "not valid JSON"},
        ) from None
    return parse_filter(data)


class RecordsService:
    def __init__(self, datasource: Datasource, *, default_page_size: int, max_page_size: int):
        self.datasource = datasource
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size

    def collections(self, access: Access) -> list[Collection]:
        """The collections this caller may read."""
        return [c for c in self.datasource.collections.values() if access.can_read(c.name)]

    def labels(self, access: Access) -> dict[str, str]:
        """The label of each collection the caller may read, by name."""
        return {c.name: self.datasource.presentation(c.name).label
                for c in self.collections(access)}

    def schema(self, collection: Collection) -> dict[str, Any]:
        """The collection's schema as clients see it, with how it reads (labels, formats)."""
        return self.datasource.presentation(collection.name).collection_json(collection)

    async def schemas(self, access: Access, *, counts: bool = False) -> list[dict[str, Any]]:
        """The schemas of the collections the caller may read; with ``counts``, how many
        records each holds (``count_estimated`` when taken from the database's statistics)."""
        readable = self.collections(access)
        found = await self.datasource.counts(readable) if counts else {}
        schemas = []
        for collection in readable:
            schema = self.schema(collection)
            if counts:
                schema.update(count=found[collection.name].count,
                              count_estimated=found[collection.name].estimated)
            schemas.append(schema)
        return schemas

    def collection(self, name: str, access: Access) -> Collection:
        found = self.datasource.collection(name)
        access.require_read(name)
        return found

    def where(
        self, collection: Collection, query: ListQuery
    ) -> ColumnElement[bool] | None:
        clauses: list[ColumnElement[bool]] = []
        parsed = parse_filter_text(query.filter)
        if parsed is not None:
            clauses.append(compile_filter(collection, parsed))
        if query.search:
            found = search_clause(collection, query.search)
            if found is not None:
                clauses.append(found)
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else sa.and_(*clauses)

    def _page_size(self, requested: int | None) -> int:
        if requested is None:
            return self.default_page_size
        if requested < 1:
            raise BadRequestError(
                "page_size must be at least 1", fields={"page_size": "must be at least 1"}
            )
        # A huge page size is capped rather than refused: the response says what was used.
        return min(requested, self.max_page_size)

    async def list(self, collection_name: str, query: ListQuery, access: Access) -> Page:
        collection = self.collection(collection_name, access)
        return await self._list(collection, query, extra=None, access=access)

    def readable_targets(self, collection: Collection, access: Access) -> set[str]:
        """The collections this one refers to whose record labels the caller may read."""
        return {rel.target for rel in collection.relationships.values()
                if access.can_read(rel.target)}

    async def _list(
        self,
        collection: Collection,
        query: ListQuery,
        extra: ColumnElement[bool] | None,
        access: Access,
    ) -> Page:
        if query.page < 1:
            raise BadRequestError("page must be at least 1", fields={"page": "must be >= 1"})
        where = self.where(collection, query)
        if extra is not None:
            where = extra if where is None else sa.and_(extra, where)
        return await self.datasource.list_records(
            collection,
            where=where,
            sort=parse_sort(query.sort),
            page=query.page,
            page_size=self._page_size(query.page_size),
            references=self.readable_targets(collection, access),
        )

    async def record_labels(self, collection_name: str, ids: Sequence[str],
                            access: Access) -> dict[str, str]:
        """The labels of these records (at most MAX_LABEL_IDS), by id, in one query; ids of
        no record are left out."""
        collection = self.collection(collection_name, access)
        if len(ids) > MAX_LABEL_IDS:
            raise BadRequestError(f"ask for at most {MAX_LABEL_IDS} ids at a time",
                                  fields={"ids": f"more than {MAX_LABEL_IDS}"})
        keys = []
        for record_id in dict.fromkeys(ids):
            try:
                keys.append(decode_id(collection, record_id))
            except NotFoundError:
                continue  # cannot be an id of this collection: no record has it
        return await self.datasource.labels(collection, keys)

    async def _row(self, collection: Collection, record_id: str) -> sa.Row[Any]:
        pk = decode_id(collection, record_id)
        row = await self.datasource.get_row(collection, pk)
        if row is None:
            raise NotFoundError(f"no record {record_id!r} in {collection.name}")
        return row

    async def get(
        self, collection_name: str, record_id: str, access: Access
    ) -> dict[str, Any]:
        collection = self.collection(collection_name, access)
        row = await self._row(collection, record_id)
        record = self.datasource.serialize(collection, row)
        record["references"] = await self.datasource.references(
            collection, [row], self.readable_targets(collection, access))
        return record

    async def related(
        self,
        collection_name: str,
        record_id: str,
        relationship: str,
        query: ListQuery,
        access: Access,
    ) -> tuple[Collection, Page]:
        collection = self.collection(collection_name, access)
        rel = collection.relationships.get(relationship)
        if rel is None:
            raise NotFoundError(
                f"{collection.name} has no relationship {relationship!r}",
                detail="relationships: " + (", ".join(collection.relationships) or "none"),
            )
        target = self.collection(rel.target, access)
        row = await self._row(collection, record_id)
        values = [row._mapping[name] for name in rel.fields]
        scope = related_scope(target, rel.target_fields, values)
        return target, await self._list(target, query, extra=scope, access=access)
