"""Does a select-all run include a record? Its selection evaluated on that record.

A select-all run recorded its selection as a description (filter, search, excluded ids, and
the parent record whose relationship it was run in), never as ids. The record is included
when it is not excluded and meets the filter, the search and the parent scope. All the runs
of one page are evaluated in one query on the data database: one CASE column per run, on the
one row of the record (``SELECT CASE WHEN <run 1> ... , CASE WHEN <run 2> ... WHERE pk = id``).

The evaluation is on the record as it is *now*. A run whose handler changed the very fields
its filter tests (a "mark as live" run over ``status = to_validate``) no longer matches the
record it acted on; such runs are found if their request was frozen for approval (exact ids),
or by the ids the caller selected. The activity says how each run was matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from actiondesk.actions.caller import ParentContext
from actiondesk.actions.selection import pk_in
from actiondesk.data.filters import compile_filter, parse_filter, search_clause
from actiondesk.data.record_ids import decode_id
from actiondesk.data.schema import Collection
from actiondesk.data.state import canonical_json
from actiondesk.errors import ClientError
from actiondesk.selections.resolve import SelectionResolver

_SELECTION_KEYS = ("filter", "search", "excluded_ids", "parent")


async def selection_clause(
    resolver: SelectionResolver, collection: Collection, described: Mapping[str, Any],
    record_id: str,
) -> sa.ColumnElement[bool] | None:
    """The WHERE clause of a select-all description; None when it cannot include the record
    (excluded, its parent gone, or a filter that no longer fits the collection)."""
    excluded = described.get("excluded_ids") or []
    if record_id in excluded:
        return None
    clauses: list[sa.ColumnElement[bool]] = []
    try:
        if excluded:
            keys = [decode_id(collection, str(i)) for i in excluded]
            clauses.append(sa.not_(pk_in(collection, keys)))
        parent = described.get("parent")
        if parent:
            scope, _ = await resolver.parent_scope(collection, ParentContext(**parent))
            if scope is not None:
                clauses.append(scope)
        if described.get("filter") is not None:
            clauses.append(compile_filter(collection, parse_filter(described["filter"])))
        if described.get("search"):
            found = search_clause(collection, str(described["search"]))
            if found is not None:
                clauses.append(found)
    except (ClientError, TypeError, KeyError):
        # The description no longer fits the collection (a field or relationship is gone):
        # it cannot be evaluated, so the run is not claimed to include the record.
        return None
    return sa.and_(sa.true(), *clauses)


async def matching(
    resolver: SelectionResolver, collection: Collection, record_id: str,
    described: Sequence[tuple[str, Mapping[str, Any]]],
) -> set[str]:
    """Which of the runs ``described`` (run id, selection description) include the record."""
    # Runs of the same selection (an operator re-running "all to validate") share a column.
    runs_of: dict[str, list[str]] = {}
    descriptions: dict[str, Mapping[str, Any]] = {}
    for run_id, description in described:
        key = canonical_json({k: description.get(k) for k in _SELECTION_KEYS})
        runs_of.setdefault(key, []).append(run_id)
        descriptions[key] = description
    columns: list[sa.Label[int]] = []
    keys: list[str] = []
    for key, description in descriptions.items():
        clause = await selection_clause(resolver, collection, description, record_id)
        if clause is not None:
            # Labelled by position, not run id: runs with filters of the same shape then make
            # the same statement, compiled once (SQLAlchemy's statement cache).
            columns.append(sa.case((clause, 1), else_=0).label(f"m{len(columns)}"))
            keys.append(key)
    if not columns:
        return set()
    primary_key = decode_id(collection, record_id)
    query = sa.select(*columns).select_from(collection.table).where(
        pk_in(collection, [primary_key]))
    async with resolver.datasource.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return set()
    return {run_id for shared, value in zip(keys, row, strict=True) if value
            for run_id in runs_of[shared]}
