"""The forms of the built-in record actions, generated from the collection's schema, and the
step that turns their validated values into column values (with the ``validate`` hook).

*Edit* shows every column with the record's current value (an absent field keeps it) and
carries ``_original``, the values the edit was made from; *Set a field* asks which field
(``_field``) and shows only that one; *New* asks every column the database does not
generate.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import anyio.to_thread

from actiondesk.actions.context import FormContext
from actiondesk.actions.forms import FormField, FormFieldType, form_field
from actiondesk.actions.selection import Row, Selection
from actiondesk.data.filters import parse_filter
from actiondesk.data.schema import Collection
from actiondesk.data.values import ValueError_
from actiondesk.editing.columns import Column, columns_of, create_required, generated
from actiondesk.editing.options import Editing, InvalidValues

ORIGINAL = "_original"
CHOSEN = "_field"


@dataclass(frozen=True)
class Plan:
    """What the built-in actions of one collection show and write."""

    collection: Collection
    options: Editing
    columns: Mapping[str, Column]
    writable: tuple[str, ...]
    creatable: tuple[str, ...]
    read_only: tuple[str, ...]

    def secret(self, name: str) -> bool:
        return name in self.options.secret


def plan_of(collection: Collection, options: Editing,
            collections: Mapping[str, Collection]) -> Plan:
    columns = {c.name: c for c in columns_of(collection, collections)}
    chosen = [n for n in (options.fields or columns) if n in columns]
    key = set(collection.primary_key)
    writable = tuple(n for n in chosen if n not in options.read_only and n not in key
                     and not generated(collection, columns[n].field))
    creatable = tuple(n for n in chosen if n not in options.read_only
                      and not generated(collection, columns[n].field))
    read_only = tuple(n for n in columns if n in options.read_only and n not in key)
    return Plan(collection, options, columns, writable, creatable, read_only)


# The record a form is computed for, read once per request rather than once per field.
_records: WeakKeyDictionary[Selection, Row | None] = WeakKeyDictionary()


async def current_record(context: FormContext) -> Row | None:
    selection = context.selection
    if selection is None:
        return None
    if selection not in _records:
        rows = await selection.records(1)
        _records[selection] = rows[0] if rows else None
    return _records[selection]


def _current(column: Column) -> Any:
    async def value(context: FormContext) -> Any:
        row = await current_record(context)
        return None if row is None else column.to_form(row.get(column.name))

    return value


def edit_form(plan: Plan) -> tuple[FormField, ...]:
    fields = []
    for name, column in plan.columns.items():
        if name in plan.writable:
            secret = plan.secret(name)
            fields.append(column.form_field(
                required=not column.field.nullable and not secret, secret=secret,
                default=None if secret else _current(column),
                description="Left empty, the secret keeps its value." if secret else None,
            ))
        elif name in plan.read_only:
            fields.append(column.form_field(required=False, read_only=True,
                                            secret=plan.secret(name),
                                            default=None if plan.secret(name)
                                            else _current(column)))
    fields.append(form_field(
        ORIGINAL, FormFieldType.JSON, required=True, label="Values the edit was made from",
        description="The record's values as you read them (the form's values on load): if "
        "any changed since, the edit is refused (409) instead of overwriting them.",
    ))
    return tuple(fields)


def bulk_form(plan: Plan) -> tuple[FormField, ...]:
    fields = [form_field(CHOSEN, FormFieldType.ENUM, required=True, label="Field",
                         enum_values=list(plan.writable))]
    for name in plan.writable:
        column = plan.columns[name]
        fields.append(column.form_field(
            required=not column.field.nullable, secret=plan.secret(name),
            visible_if=parse_filter({"field": CHOSEN, "operator": "equal", "value": name}),
        ))
    return tuple(fields)


def create_form(plan: Plan) -> tuple[FormField, ...]:
    fields = []
    for name in plan.creatable:
        column = plan.columns[name]
        default = plan.options.defaults.get(name)
        fields.append(column.form_field(
            required=name in plan.options.required_on_create or create_required(column.field),
            default=column.to_form(default), secret=plan.secret(name),
        ))
    return tuple(fields)


async def _hook(plan: Plan, operation: str, values: dict[str, Any]) -> dict[str, Any]:
    hook = plan.options.validate
    if hook is None:
        return values
    if inspect.iscoroutinefunction(hook):
        produced = await hook(operation, dict(values))
    else:
        # A sync hook may be slow (hashing a password): it must not block the event loop.
        produced = await anyio.to_thread.run_sync(hook, operation, dict(values))
        if inspect.isawaitable(produced):
            produced = await produced
    if produced is None:
        return values
    result = dict(produced)
    stray = sorted(set(result) - set(values))
    if stray:
        raise TypeError(f"the validate hook of {plan.collection.name} returned fields it was "
                        f"not given: {', '.join(stray)}")
    return result


def _typed(plan: Plan, names: Sequence[str], values: Mapping[str, Any],
           errors: dict[str, str]) -> dict[str, Any]:
    typed = {}
    for name in names:
        if name not in values:
            continue
        try:
            typed[name] = plan.columns[name].to_column(values[name])
        except ValueError_ as exc:
            errors[name] = str(exc)
    return typed


async def _prepared(plan: Plan, operation: str, typed: dict[str, Any],
                    errors: dict[str, str]) -> dict[str, Any]:
    if errors:
        raise InvalidValues(errors)
    checked = await _hook(plan, operation, typed)
    return {n: plan.columns[n].to_form(v) for n, v in checked.items()}


def prepare_edit(plan: Plan) -> Any:
    async def prepare(context: FormContext, values: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        original = values.get(ORIGINAL)
        if not isinstance(original, Mapping):
            errors[ORIGINAL] = "must be an object: the record's values the edit was made from"
        else:
            unknown = [k for k in original if k not in plan.collection.fields]
            if unknown:
                errors[ORIGINAL] = "names unknown fields: " + ", ".join(map(str, unknown[:5]))
            # Secrets are never compared, and must not reach the audit through _original.
            original = {k: v for k, v in original.items() if not plan.secret(k)}
        # A secret left empty keeps its value.
        given = [n for n in plan.writable if not (plan.secret(n) and values.get(n) is None)]
        typed = _typed(plan, given, values, errors)
        return {**await _prepared(plan, "edit", typed, errors), ORIGINAL: original}

    return prepare


def prepare_bulk(plan: Plan) -> Any:
    async def prepare(context: FormContext, values: dict[str, Any]) -> dict[str, Any]:
        chosen = str(values.get(CHOSEN))
        errors: dict[str, str] = {}
        typed = _typed(plan, [chosen], {chosen: values.get(chosen)}, errors)
        return {CHOSEN: chosen, **await _prepared(plan, "bulk-edit", typed, errors)}

    return prepare


def prepare_create(plan: Plan) -> Any:
    async def prepare(context: FormContext, values: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        typed = _typed(plan, plan.creatable, values, errors)
        return await _prepared(plan, "create", typed, errors)

    return prepare
