"""The selection of a queued run, rebuilt by the runner from what the run recorded.

A live selection is rebuilt from its description (ids, or filter, search and excluded ids,
and the parent record): nothing is counted or checked again, since the run may have changed
the records already (a resumed run continues after its checkpoint). The selection of an
approved request is its frozen record ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from actiondesk.actions.caller import ParentContext
from actiondesk.actions.selection import Selection, pk_in
from actiondesk.actions.spec import Action, Scope
from actiondesk.data.filters import compile_filter, parse_filter, search_clause
from actiondesk.data.record_ids import decode_id
from actiondesk.errors import NotFoundError
from actiondesk.selections.frozen import FrozenSelection

if TYPE_CHECKING:
    from actiondesk.data.state import StateStore
    from actiondesk.selections.resolve import SelectionResolver


async def rebuild_selection(
    resolver: SelectionResolver, store: StateStore, action: Action,
    described: Mapping[str, Any], record_count: int | None,
) -> Selection | None:
    """The selection a run recorded (``described``: its selection description);
    NotFoundError when its collection or parent record is gone."""
    if action.collection is None or action.scope is Scope.GLOBAL:
        return None
    datasource = resolver.datasource
    collection = datasource.collection(action.collection)
    described = dict(described)
    approval = described.get("approval")
    if isinstance(approval, dict):
        return await FrozenSelection(
            datasource, collection, store, str(approval["id"]), record_count or 0,
            description=described,
        ).load()
    clauses: list[sa.ColumnElement[bool]] = []
    parent = described.get("parent")
    if parent:
        scope, _ = await resolver.parent_scope(collection, ParentContext(**parent))
        if scope is not None:
            clauses.append(scope)
    if described.get("all_records"):
        if described.get("filter") is not None:
            clauses.append(compile_filter(collection, parse_filter(described["filter"])))
        if described.get("search"):
            found = search_clause(collection, described["search"])
            if found is not None:
                clauses.append(found)
        excluded = [_key(collection, i) for i in described.get("excluded_ids") or []]
        if excluded:
            clauses.append(sa.not_(pk_in(collection, excluded)))
        return Selection(datasource, collection, sa.and_(sa.true(), *clauses),
                         description=described)
    keys = [_key(collection, i) for i in described.get("ids") or []]
    return Selection(datasource, collection, sa.and_(pk_in(collection, keys), *clauses),
                     description=described, id_count=len(keys))


def _key(collection: Any, text: str) -> tuple[Any, ...]:
    try:
        return decode_id(collection, text)
    except NotFoundError:
        raise NotFoundError(f"the record id {text!r} no longer fits {collection.name}") from None
