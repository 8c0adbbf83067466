"""What actiondesk knows of the user's tables: collections, fields and relationships."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import types as sat


class FieldType(enum.StrEnum):
    """The type of a collection field, as shown to clients and checked by filters."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    ENUM = "enum"
    JSON = "json"
    UUID = "uuid"
    BINARY = "binary"
    UNKNOWN = "unknown"


class RelationshipKind(enum.StrEnum):
    MANY_TO_ONE = "many_to_one"
    ONE_TO_MANY = "one_to_many"


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    nullable: bool
    primary_key: bool
    column: sa.Column[Any] = field(repr=False, compare=False)
    enum_values: tuple[str, ...] | None = None
    timezone: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.value,
            "nullable": self.nullable,
            "primary_key": self.primary_key,
            "enum_values": list(self.enum_values) if self.enum_values is not None else None,
        }


@dataclass(frozen=True)
class Relationship:
    """A link from one collection to another through a foreign key.

    ``fields`` are this collection's columns and ``target_fields`` the target's columns they
    match, pairwise. For many-to-one the foreign key lives here; for one-to-many it lives on
    the target.
    """

    name: str
    kind: RelationshipKind
    target: str
    fields: tuple[str, ...]
    target_fields: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "target": self.target,
            "fields": list(self.fields),
            "target_fields": list(self.target_fields),
        }


@dataclass(frozen=True)
class Collection:
    name: str
    table: sa.Table = field(repr=False, compare=False)
    fields: Mapping[str, Field]
    primary_key: tuple[str, ...]
    relationships: Mapping[str, Relationship]

    def field(self, name: str) -> Field | None:
        return self.fields.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "primary_key": list(self.primary_key),
            "fields": [f.to_json() for f in self.fields.values()],
            "relationships": [r.to_json() for r in self.relationships.values()],
        }


def field_type_of(column_type: sa.types.TypeEngine[Any]) -> FieldType:
    """Map a SQLAlchemy column type to the field type clients see."""
    # Order matters: Enum is a String, Text is a String, Boolean may be an Integer subtype.
    checks: tuple[tuple[type[Any], FieldType], ...] = (
        (sat.Enum, FieldType.ENUM),
        (sat.Boolean, FieldType.BOOLEAN),
        (sat.Text, FieldType.TEXT),
        (sat.Uuid, FieldType.UUID),
        (sat.String, FieldType.STRING),
        (sat.Integer, FieldType.INTEGER),
        (sat.Float, FieldType.NUMBER),
        (sat.Numeric, FieldType.DECIMAL),
        (sat.DateTime, FieldType.DATETIME),
        (sat.Date, FieldType.DATE),
        (sat.Time, FieldType.TIME),
        (sat.JSON, FieldType.JSON),
        (sat._Binary, FieldType.BINARY),
    )
    for sa_type, field_type in checks:
        if isinstance(column_type, sa_type):
            return field_type
    return FieldType.UNKNOWN


def field_from_column(column: sa.Column[Any]) -> Field:
    ftype = field_type_of(column.type)
    enum_values: tuple[str, ...] | None = None
    if isinstance(column.type, sat.Enum):
        enum_values = tuple(str(v) for v in column.type.enums)
    timezone = bool(getattr(column.type, "timezone", False))
    return Field(
        name=column.name,
        type=ftype,
        nullable=bool(column.nullable),
        primary_key=bool(column.primary_key),
        enum_values=enum_values,
        timezone=timezone,
        column=column,
    )
