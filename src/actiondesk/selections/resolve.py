"""A request's selection, validated on the server: the records an action will run on.

Ids are decoded and must all exist; a select-all becomes one WHERE clause (filter, search,
excluded ids); either may be restricted to a parent record's relationship. Nothing is
materialised: the selection is counted, and read later in keyset batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from actiondesk.actions.caller import ParentContext
from actiondesk.actions.document import ActionRequest
from actiondesk.actions.selection import Selection, pk_in, related_scope
from actiondesk.actions.spec import Action, Scope
from actiondesk.data.filters import compile_filter, search_clause
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.schema import Collection
from actiondesk.errors import BadRequestError, FilterError, NotFoundError

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.permissions.access import Access


class SelectionResolver:
    """Turns the selection part of an action request into a counted ``Selection``."""

    def __init__(self, datasource: Datasource) -> None:
        self.datasource = datasource

    def collection_of(self, action: Action) -> Collection | None:
        if action.collection is None:
            return None
        return self.datasource.collection(action.collection)

    async def resolve(
        self, action: Action, request: ActionRequest, access: Access | None = None
    ) -> tuple[Selection | None, int]:
        """The validated selection of a request, and how many records it holds. With an
        access, the parent record's collection must be readable too."""
        if action.collection is None:
            return None, 0
        collection = self.datasource.collection(action.collection)
        if request.collection_name and request.collection_name != collection.name:
            raise BadRequestError(
                f"collection_name {request.collection_name!r} does not match the action's "
                f"collection {collection.name!r}",
                fields={"data.attributes.collection_name": "does not match the URL"},
            )
        if request.parent is not None and access is not None:
            # Checked before the parent is looked up, so a refusal reveals nothing about it.
            access.require_read(request.parent.collection)
        scope_clause, parent_json = await self.parent_scope(collection, request.parent)
        if action.scope is Scope.GLOBAL:
            return None, 0
        if request.all_records:
            return await self._all_records(action, collection, request, scope_clause,
                                           parent_json)
        return await self._listed(action, collection, request, scope_clause, parent_json)

    async def parent_scope(
        self, collection: Collection, parent: ParentContext | None
    ) -> tuple[sa.ColumnElement[bool] | None, dict[str, Any] | None]:
        """The clause keeping the records related to ``parent``, and its description."""
        if parent is None:
            return None, None
        parent_collection = self.datasource.collection(parent.collection)
        rel = parent_collection.relationships.get(parent.association)
        if rel is None or rel.target != collection.name:
            raise BadRequestError(
                f"{parent.association!r} is not a relationship from {parent.collection} "
                f"to {collection.name}",
                fields={"data.attributes.parent_association_name": "unknown relationship"},
            )
        row = await self.datasource.get_row(
            parent_collection, decode_id(parent_collection, parent.id)
        )
        if row is None:
            raise NotFoundError(f"no record {parent.id!r} in {parent.collection}")
        values = [row._mapping[name] for name in rel.fields]
        parent_json = {
            "collection": parent.collection, "id": parent.id, "association": parent.association,
        }
        return related_scope(collection, rel.target_fields, values), parent_json

    async def _all_records(
        self,
        action: Action,
        collection: Collection,
        request: ActionRequest,
        scope_clause: sa.ColumnElement[bool] | None,
        parent_json: dict[str, Any] | None,
    ) -> tuple[Selection, int]:
        if action.scope is Scope.SINGLE:
            raise BadRequestError(
                f"{action.name} applies to exactly one record; all_records is not allowed",
                fields={"data.attributes.all_records": "not allowed for a single action"},
            )
        clauses: list[sa.ColumnElement[bool]] = []
        try:
            if request.subset_filter is not None:
                clauses.append(compile_filter(collection, request.subset_filter))
            if request.search:
                found = search_clause(collection, request.search)
                if found is not None:
                    clauses.append(found)
        except FilterError as exc:
            path = "data.attributes.all_records_subset_query"
            raise BadRequestError(f"{path}: {exc.message}", detail=exc.detail,
                                  fields={path: exc.message}) from None
        excluded = decode_ids(collection, request.excluded_ids,
                              "data.attributes.all_records_ids_excluded")
        if excluded:
            clauses.append(sa.not_(pk_in(collection, excluded)))
        if scope_clause is not None:
            clauses.append(scope_clause)
        where = sa.and_(sa.true(), *clauses)
        description = {
            "all_records": True,
            "filter": request.subset_filter.to_json() if request.subset_filter else None,
            "search": request.search,
            "excluded_ids": list(request.excluded_ids),
            "parent": parent_json,
        }
        selection = Selection(self.datasource, collection, where, description=description)
        total = await selection.count()
        if total == 0:
            raise BadRequestError(
                "no record matches the selection", fields={"data.attributes.all_records":
                                                           "the selection is empty"},
            )
        selection.description["count"] = total
        return selection, total

    async def _listed(
        self,
        action: Action,
        collection: Collection,
        request: ActionRequest,
        scope_clause: sa.ColumnElement[bool] | None,
        parent_json: dict[str, Any] | None,
    ) -> tuple[Selection, int]:
        path = "data.attributes.ids"
        if action.scope is Scope.SINGLE and len(request.ids) != 1:
            raise BadRequestError(
                f"{action.name} applies to exactly one record; {len(request.ids)} selected",
                fields={path: "select exactly one record"},
            )
        if not request.ids:
            raise BadRequestError(
                f"{action.name} applies to at least one record; none selected",
                fields={path: "select at least one record"},
            )
        keys = decode_ids(collection, request.ids, path)
        where = pk_in(collection, keys)
        if scope_clause is not None:
            where = sa.and_(where, scope_clause)
        description = {"ids": list(request.ids), "parent": parent_json}
        selection = Selection(self.datasource, collection, where, description=description,
                              id_count=len(keys))
        if len(keys) == 1 and scope_clause is None:
            found = int(await self.datasource.has_row(collection, keys[0]))
        else:
            found = await selection.count()
        if found != len(keys):
            missing = await _missing(selection, request.ids)
            where_text = f" related to {parent_json['id']}" if parent_json else ""
            raise NotFoundError(
                f"{len(keys) - found} of the selected records do not exist in "
                f"{collection.name}{where_text}",
                detail={"missing_ids": missing[:20]},
                fields={path: "unknown id(s): " + ", ".join(missing[:5])},
            )
        return selection, found


def decode_ids(collection: Collection, ids: Sequence[str], path: str) -> list[tuple[Any, ...]]:
    """The primary keys of ``ids``; NotFoundError naming ``path`` for one that is no id."""
    keys = []
    for text in ids:
        try:
            keys.append(decode_id(collection, text))
        except NotFoundError:
            raise NotFoundError(
                f"no record {text!r} in {collection.name}",
                fields={path: f"{text!r} is not an id of {collection.name}"},
            ) from None
    return keys


async def _missing(selection: Selection, ids: Sequence[str]) -> list[str]:
    present: set[str] = set()
    collection = selection.collection
    async for batch in selection.batches():
        present.update(
            encode_id(collection, [row[n] for n in collection.primary_key]) for row in batch
        )
    return [i for i in ids if i not in present]
