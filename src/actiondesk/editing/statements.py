"""The handlers of the built-in record actions: set-based statements in one transaction.

*Edit* locks the record, compares it with the values the edit was made from (409 naming the
fields that changed meanwhile, never a silent overwrite) and writes only the changed fields.
*Set a field* and *Delete* are one statement per WHERE clause of the selection, so a
select-all of a million rows never comes into memory. *Delete* first counts the records that
refer to the selection (409 naming them: cascading is never implicit). Each run's result
keeps what changed (before and after, secrets redacted) or what was deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.context import ActionContext
from actiondesk.actions.results import Success
from actiondesk.actions.selection import Row, Selection, row_dicts
from actiondesk.data.schema import Collection, RelationshipKind
from actiondesk.data.values import ValueError_
from actiondesk.editing.columns import has_default, primary_key_of
from actiondesk.editing.forms import CHOSEN, ORIGINAL, Plan
from actiondesk.editing.options import InvalidValues
from actiondesk.errors import ConflictError

REDACTED = "[redacted]"
# How many deleted rows (or previous values of a bulk edit) a run keeps in its audit.
AUDIT_SAMPLE = 100


def _shown(plan: Plan, name: str, value: Any) -> Any:
    if plan.secret(name) and value is not None:
        return REDACTED
    column = plan.columns.get(name)
    return column.to_json(value) if column is not None else value


def _row_json(plan: Plan, row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _shown(plan, name, row.get(name)) for name in plan.collection.fields
            if name in plan.columns}


def _columns(plan: Plan, values: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Column values of the prepared form values (checked before: a failure is a bug)."""
    errors: dict[str, str] = {}
    typed = {}
    for name in names:
        if name in values:
            try:
                typed[name] = plan.columns[name].to_column(values[name])
            except ValueError_ as exc:
                errors[name] = str(exc)
    if errors:
        raise InvalidValues(errors)
    return typed


async def _locked(conn: AsyncConnection, selection: Selection) -> Row | None:
    """The selected record, locked until the transaction ends."""
    table = selection.collection.table
    query = sa.select(table).where(selection.where)
    if conn.dialect.name == "sqlite":
        # SQLite has no row locks: a write takes the database's write lock first, so a
        # concurrent edit waits, then reads this one's change.
        first = selection.collection.fields[selection.collection.primary_key[0]].column
        await conn.execute(sa.update(table).where(selection.where).values({first.name: first}))
    else:
        query = query.with_for_update()
    rows = row_dicts(await conn.execute(query))
    return rows[0] if rows else None


def edit_handler(plan: Plan) -> Any:
    collection = plan.collection

    async def edit(ctx: ActionContext) -> Success:
        selection = ctx.selection
        assert selection is not None  # noqa: S101 - a single action has its record
        new = _columns(plan, ctx.values, plan.writable)
        original: Mapping[str, Any] = ctx.values.get(ORIGINAL) or {}
        approved = "approval_id" in selection.description
        async with ctx.async_db.begin() as conn:
            row = await _locked(conn, selection)
            if row is None:
                raise ConflictError(f"{'no longer applicable: the' if approved else 'The'} record "
                                    f"no longer exists in {collection.name}")
            moved = [n for n, v in original.items()
                     if n in plan.columns and not plan.secret(n) and not plan.columns[n].same(
                         v, plan.columns[n].to_form(row.get(n)))]
            if moved:
                raise ConflictError(
                    f"{'no longer applicable: the' if approved else 'The'} record changed since "
                    f"the edit was made ({', '.join(moved)}); reload it and edit again",
                    detail={"changed": {n: {"yours": _shown(plan, n, original[n]),
                                            "now": _shown(plan, n, row.get(n))} for n in moved}},
                    fields={n: "changed since you opened the record" for n in moved},
                )
            changed = {n: v for n, v in new.items()
                       if not plan.columns[n].same(plan.columns[n].to_json(v),
                                                   plan.columns[n].to_json(row.get(n)))}
            if changed:
                await conn.execute(sa.update(collection.table).where(selection.where)
                                   .values(changed))
        record_id = primary_key_of(collection, row)
        changes = {n: {"before": _shown(plan, n, row.get(n)), "after": _shown(plan, n, v)}
                   for n, v in changed.items()}
        message = (f"{collection.name} {record_id}: {', '.join(changes)} updated" if changes
                   else f"{collection.name} {record_id}: nothing changed")
        return Success(message, record={"collection": collection.name, "id": record_id,
                                        "changes": changes})

    return edit


def bulk_edit_handler(plan: Plan) -> Any:
    collection = plan.collection

    async def bulk_edit(ctx: ActionContext) -> Success:
        selection = ctx.selection
        assert selection is not None  # noqa: S101 - a bulk action has its selection
        name = str(ctx.values[CHOSEN])
        value = _columns(plan, ctx.values, (name,))[name]
        before = [{"id": primary_key_of(collection, r), "value": _shown(plan, name, r[name])}
                  for r in await selection.records(AUDIT_SAMPLE)]
        count = 0
        async with ctx.async_db.begin() as conn:
            async for clause in selection.where_batches():
                result = await conn.execute(
                    sa.update(collection.table).where(clause).values({name: value}))
                count += result.rowcount
        return Success(
            f"{name} set on {count:,} record{'' if count == 1 else 's'} of {collection.name}",
            record={"collection": collection.name, "field": name, "count": count,
                    "after": _shown(plan, name, value), "before": before,
                    "before_kept": f"first {len(before)} of {count}"},
        )

    return bulk_edit


def create_handler(plan: Plan) -> Any:
    collection = plan.collection

    async def create(ctx: ActionContext) -> Success:
        values = {n: v for n, v in _columns(plan, ctx.values, plan.creatable).items()
                  if v is not None or not has_default(collection.fields[n])}
        try:
            async with ctx.async_db.begin() as conn:
                result = await conn.execute(sa.insert(collection.table).values(values))
                key = dict(zip(collection.primary_key, result.inserted_primary_key or (),
                               strict=False))
        except sa_exc.IntegrityError as exc:
            raise ConflictError(f"{collection.name}: the database refused the new record: "
                                f"{_reason(exc)}") from None
        record_id = primary_key_of(collection, {**values, **key})
        return Success(f"{collection.name} {record_id} created", record={
            "collection": collection.name, "id": record_id,
            "values": {n: _shown(plan, n, v) for n, v in values.items()},
        })

    return create


async def dependents(conn: AsyncConnection, collection: Collection,
                     collections: Mapping[str, Collection],
                     clause: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    """The records of other collections that refer to the selected ones, counted."""
    found = []
    for rel in collection.relationships.values():
        target = collections.get(rel.target)
        if rel.kind is not RelationshipKind.ONE_TO_MANY or target is None:
            continue
        mine = [collection.fields[n].column for n in rel.fields]
        theirs = [target.fields[n].column for n in rel.target_fields]
        inner = sa.select(*mine).where(clause)
        refer = (theirs[0].in_(inner) if len(theirs) == 1
                 else sa.tuple_(*theirs).in_(inner))
        count = (await conn.execute(
            sa.select(sa.func.count()).select_from(target.table).where(refer))).scalar_one()
        if count:
            found.append({"collection": target.name, "relationship": rel.name,
                          "fields": list(rel.target_fields), "count": int(count)})
    return found


def delete_handler(plan: Plan, collections: Mapping[str, Collection]) -> Any:
    collection = plan.collection

    async def delete(ctx: ActionContext) -> Success:
        selection = ctx.selection
        assert selection is not None  # noqa: S101 - a bulk action has its selection
        kept = [_row_json(plan, r) for r in await selection.records(AUDIT_SAMPLE)]
        count = 0
        try:
            async with ctx.async_db.begin() as conn:
                async for clause in selection.where_batches():
                    referring = await dependents(conn, collection, collections, clause)
                    if referring:
                        raise _referred(collection, referring)
                    result = await conn.execute(sa.delete(collection.table).where(clause))
                    count += result.rowcount
        except sa_exc.IntegrityError as exc:
            raise ConflictError(
                f"{collection.name}: other records refer to the selected ones, so nothing "
                f"was deleted ({_reason(exc)})") from None
        noun = "record" if count == 1 else "records"
        return Success(f"Deleted {count:,} {noun} of {collection.name}", record={
            "collection": collection.name, "count": count, "deleted": kept,
            "deleted_kept": f"first {len(kept)} of {count}",
        })

    return delete


def _referred(collection: Collection, referring: list[dict[str, Any]]) -> ConflictError:
    named = "; ".join(f"{r['count']:,} record{'' if r['count'] == 1 else 's'} of "
                      f"{r['collection']} ({', '.join(r['fields'])})" for r in referring)
    return ConflictError(
        f"Cannot delete: {named} refer to the selected {collection.name}; delete or change "
        "them first. Nothing was deleted", detail={"dependents": referring},
    )


def _reason(exc: sa_exc.IntegrityError) -> str:
    text = str(exc.orig).strip().splitlines()
    return text[0][:300] if text else "integrity error"
