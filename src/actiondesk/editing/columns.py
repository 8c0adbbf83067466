"""A collection's columns as form fields, and form values as column values.

Every column type gets its field (enum → select, foreign key → reference picker, JSON, dates
and times) bounded as the column is (length, precision and scale, NOT NULL → required); the
values are checked again, per field, when they are turned into what the column takes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actiondesk.actions.form_values import json_value
from actiondesk.actions.forms import FormField, FormFieldType, form_field, from_column
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.schema import Collection, Field, FieldType, RelationshipKind
from actiondesk.data.values import ValueError_, json_converter, to_python
from actiondesk.errors import NotFoundError

# Types no form shows (bytes, types actiondesk does not know): never offered for writing.
UNWRITABLE = frozenset({FieldType.BINARY, FieldType.UNKNOWN})


@dataclass(frozen=True)
class Column:
    """One writable column: its schema field and, for a foreign key, the collection its
    reference picker lists."""

    field: Field
    reference: Collection | None = None

    @property
    def name(self) -> str:
        return self.field.name

    def form_field(self, **options: Any) -> FormField:
        """The form field for this column (``options`` override what the column says)."""
        column = self.field.column
        if self.reference is not None:
            return form_field(self.name, FormFieldType.REFERENCE,
                              reference=self.reference.name, **options)
        return from_column(column, **options)

    def to_column(self, value: Any) -> Any:
        """A form value as the column takes it; ValueError_ says why it cannot be."""
        if value is None:
            return None
        if self.reference is not None:
            try:
                return decode_id(self.reference, str(value))[0]
            except NotFoundError:
                raise ValueError_(f"is not an id of {self.reference.name}") from None
        if self.field.type is FieldType.JSON:
            return value
        typed = to_python(self.field, json_value(value))
        if isinstance(typed, dt.datetime) and typed.tzinfo is not None:
            # In UTC: SQLite and MariaDB keep no zone, so the instant must not depend on one.
            return typed.astimezone(dt.UTC)
        return typed

    def to_form(self, value: Any) -> Any:
        """A column value as the form shows it (a foreign key as the referenced record's id)."""
        if value is None:
            return None
        if self.reference is not None:
            return encode_id(self.reference, [value])
        if isinstance(value, uuid.UUID):
            return str(value)
        return json_value(value)

    def to_json(self, value: Any) -> Any:
        """A column value as the records API shows it."""
        return None if value is None else json_converter(self.field)(value)

    def same(self, a: Any, b: Any) -> bool:
        """Whether two JSON values of this column are the same value ("10.5" and "10.50")."""
        if a == b:
            return True
        if a is None or b is None or self.field.type is FieldType.JSON:
            return False
        try:
            return bool(to_python(self.field, a) == to_python(self.field, b))
        except (ValueError_, TypeError):
            return False


def generated(collection: Collection, field: Field) -> bool:
    """Whether the database makes this column's value: an auto-increment primary key, an
    identity, a computed column or a primary key with a server default."""
    column = field.column
    if column.computed is not None or column.identity is not None:
        return True
    if not field.primary_key:
        return False
    if column.server_default is not None:
        return True
    return (len(collection.primary_key) == 1 and field.type is FieldType.INTEGER
            and column.autoincrement in (True, "auto") and not column.foreign_keys)


def columns_of(collection: Collection, collections: Mapping[str, Collection]) -> list[Column]:
    """Every column a form can show, in table order (generated ones included)."""
    references: dict[str, Collection] = {}
    for rel in collection.relationships.values():
        target = collections.get(rel.target)
        if (rel.kind is RelationshipKind.MANY_TO_ONE and target is not None
                and len(rel.fields) == 1 and rel.target_fields == target.primary_key):
            references.setdefault(rel.fields[0], target)
    return [
        Column(field, references.get(name))
        for name, field in collection.fields.items()
        if field.type not in UNWRITABLE
    ]


def has_default(field: Field) -> bool:
    column = field.column
    return column.default is not None or column.server_default is not None


def create_required(field: Field) -> bool:
    return not field.nullable and not has_default(field)


def primary_key_of(collection: Collection, row: Mapping[str, Any]) -> str:
    return encode_id(collection, [row[n] for n in collection.primary_key])
