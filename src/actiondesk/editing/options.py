"""What a collection lets its users edit, create and delete: declared in code, per collection
and per field (``Desk(collections={"orders": Editing(...)})`` or ``desk.collection(...)``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from actiondesk.actions.form_values import FormValidationError
from actiondesk.actions.spec import EnabledIf
from actiondesk.data.filters import Condition, Group, compile_filter, parse_filter
from actiondesk.data.schema import Collection
from actiondesk.errors import ConfigurationError

# ``validate(operation, values)``: ``operation`` is "create", "edit" or "bulk-edit"; ``values``
# the column values about to be written (Decimal, datetime...). Return the values to write
# (changed or not) or None to keep them; raise InvalidValues({field: message}) to refuse.
ValidateHook: TypeAlias = Callable[
    [str, dict[str, Any]], "Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None"
]


class InvalidValues(FormValidationError):
    """Raise from a ``validate`` hook: 422 with a message per field, nothing written."""

    def __init__(self, fields: Mapping[str, str], message: str | None = None) -> None:
        super().__init__(message or "invalid value for " + ", ".join(fields), fields=fields)


@dataclass(frozen=True)
class Editing:
    """Which built-in record actions a collection has, and on which fields.

    ``edit`` (single *Edit* and bulk *Set a field*), ``create`` (*New*) and ``delete``
    (single and bulk *Delete*) switch each on. ``fields`` are the columns a user may write
    (default: every column the form can show, but database-generated primary keys);
    ``read_only`` are shown in the edit form but never written; ``required_on_create`` must
    be given on create even when the column is nullable; ``defaults`` pre-fill the create
    form; ``secret`` fields are redacted in the audit; ``validate`` checks or transforms the
    values in Python (see ``ValidateHook``); ``edit_if`` and ``delete_if`` are the
    ``enabled_if`` of the edit and delete actions.
    """

    edit: bool = True
    create: bool = True
    delete: bool = True
    fields: Sequence[str] | None = None
    read_only: Sequence[str] = ()
    required_on_create: Sequence[str] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    secret: Sequence[str] = ()
    validate: ValidateHook | None = None
    edit_if: EnabledIf | Mapping[str, Any] = None
    delete_if: EnabledIf | Mapping[str, Any] = None
    edit_disabled_reason: str | None = None
    delete_disabled_reason: str | None = None

    def condition(self, which: str) -> EnabledIf:
        given = self.edit_if if which == "edit" else self.delete_if
        if isinstance(given, Mapping):
            return parse_filter(given)
        return given


def editing_of(options: Editing | Mapping[str, Any]) -> Editing:
    """``options`` as an Editing (a dict of its arguments is accepted)."""
    if isinstance(options, Editing):
        return options
    if isinstance(options, Mapping):
        try:
            return Editing(**options)
        except TypeError as exc:
            raise ConfigurationError(f"collection options: {exc}") from None
    raise ConfigurationError(
        f"collection options must be actiondesk.Editing(...) or a dict, not "
        f"{type(options).__name__}")


def problems_of(name: str, options: Editing, collection: Collection) -> list[str]:
    """What does not fit the collection, each problem naming what to change."""
    where = f"collection {name!r}"
    known = ", ".join(collection.fields)
    problems = []
    named: dict[str, Any] = {
        "fields": options.fields or (), "read_only": options.read_only,
        "required_on_create": options.required_on_create,
        "defaults": list(options.defaults), "secret": options.secret,
    }
    for option, names in named.items():
        if isinstance(names, str):
            problems.append(f"{where}: {option} must be a list of field names, not a string")
            continue
        for column in names:
            if column not in collection.fields:
                problems.append(f"{where}: {option} names unknown field {column!r} "
                                f"(fields: {known})")
    for column in [] if isinstance(options.fields, str) else options.fields or ():
        found = collection.fields.get(column)
        if found is not None and found.type.value in ("binary", "unknown"):
            problems.append(f"{where}: fields names {column!r}, a {found.type.value} column "
                            "no form can edit; leave it out")
    if options.validate is not None and not callable(options.validate):
        problems.append(f"{where}: validate must be a function (operation, values)")
    for which in ("edit", "delete"):
        try:
            condition = options.condition(which)
            if isinstance(condition, Condition | Group):
                compile_filter(collection, condition)
        except Exception as exc:  # FilterError: reported with the other problems
            problems.append(f"{where}: {which}_if: {exc}")
    return problems
