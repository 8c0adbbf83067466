"""Build collections (fields, primary keys, relationships) from SQLAlchemy tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, RelationshipDirection

from actiondesk.data.schema import (
    Collection,
    Field,
    Relationship,
    RelationshipKind,
    field_from_column,
)

# (child table, parent table, child fk columns) identifies one foreign key.
_FkKey = tuple[str, str, tuple[str, ...]]

# actiondesk's own tables, when the state database is the user's database, are not data.
STATE_TABLE_PREFIX = "actiondesk_"

ModelSource = sa.Table | sa.MetaData | type[DeclarativeBase]


@dataclass
class ModelNames:
    """Relationship names taken from the user's ORM models, per foreign key."""

    many_to_one: dict[_FkKey, str] = field(default_factory=dict)
    one_to_many: dict[_FkKey, str] = field(default_factory=dict)


@dataclass
class Built:
    collections: dict[str, Collection]
    skipped: list[str]
    unused_renames: list[str]


def tables_and_names(sources: Sequence[ModelSource]) -> tuple[list[sa.Table], ModelNames]:
    """The tables the user gave, and the relationship names their mappers declare."""
    tables: dict[str, sa.Table] = {}
    names = ModelNames()
    for source in sources:
        if isinstance(source, sa.Table):
            tables[source.fullname] = source
        elif isinstance(source, sa.MetaData):
            tables.update({t.fullname: t for t in source.sorted_tables})
        elif isinstance(source, type) and issubclass(source, DeclarativeBase):
            tables.update({t.fullname: t for t in source.metadata.sorted_tables})
            _collect_names(source, names)
        else:
            from actiondesk.errors import ConfigurationError

            raise ConfigurationError(
                f"models= takes SQLAlchemy Tables, MetaData or a declarative base class; "
                f"got {source!r}"
            )
    return list(tables.values()), names


def _collect_names(base: type[DeclarativeBase], names: ModelNames) -> None:
    for mapper in base.registry.mappers:
        for rel in mapper.relationships:
            if rel.secondary is not None:
                continue
            pairs = list(rel.local_remote_pairs or [])
            if rel.direction is RelationshipDirection.MANYTOONE:
                child = mapper.local_table
                parent = rel.mapper.local_table
                key = (_name(child), _name(parent), tuple(local.name for local, _ in pairs))
                names.many_to_one[key] = rel.key
            elif rel.direction is RelationshipDirection.ONETOMANY:
                parent = mapper.local_table
                child = rel.mapper.local_table
                key = (_name(child), _name(parent), tuple(remote.name for _, remote in pairs))
                names.one_to_many[key] = rel.key


def _name(table: Any) -> str:
    return str(table.name)


def build_collections(
    tables: Iterable[sa.Table],
    names: ModelNames,
    renames: Mapping[str, str],
) -> Built:
    """Collections for every table that has a primary key; the others are reported."""
    by_name: dict[str, sa.Table] = {}
    skipped: list[str] = []
    for table in tables:
        if table.name.startswith(STATE_TABLE_PREFIX):
            continue
        if not table.primary_key.columns:
            skipped.append(f"table {table.name!r} has no primary key, so it is not a collection")
            continue
        by_name[table.name] = table

    relationships: dict[str, dict[str, Relationship]] = {name: {} for name in by_name}
    used_renames: set[str] = set()

    def add(owner: str, rel: Relationship, default_name: str) -> None:
        rename_key = f"{owner}.{default_name}"
        name = renames.get(rename_key, rel.name)
        if rename_key in renames:
            used_renames.add(rename_key)
        taken = set(by_name[owner].columns.keys()) | set(relationships[owner])
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        relationships[owner][unique] = Relationship(
            unique, rel.kind, rel.target, rel.fields, rel.target_fields
        )

    for child_name, child in by_name.items():
        fks = [fk for fk in child.foreign_key_constraints if fk.referred_table.name in by_name]
        per_parent: dict[str, int] = {}
        for fk in fks:
            per_parent[fk.referred_table.name] = per_parent.get(fk.referred_table.name, 0) + 1
        for fk in sorted(fks, key=lambda c: tuple(c.column_keys)):
            parent_name = fk.referred_table.name
            local = tuple(el.parent.name for el in fk.elements)
            remote = tuple(el.column.name for el in fk.elements)
            key = (child_name, parent_name, local)
            m2o_default = _many_to_one_name(local, parent_name)
            m2o = names.many_to_one.get(key, m2o_default)
            add(
                child_name,
                Relationship(m2o, RelationshipKind.MANY_TO_ONE, parent_name, local, remote),
                m2o_default,
            )
            o2m_default = (
                child_name if per_parent[parent_name] == 1 else f"{m2o_default}_{child_name}"
            )
            o2m = names.one_to_many.get(key, o2m_default)
            add(
                parent_name,
                Relationship(o2m, RelationshipKind.ONE_TO_MANY, child_name, remote, local),
                o2m_default,
            )

    collections = {}
    for name, table in by_name.items():
        fields: dict[str, Field] = {c.name: field_from_column(c) for c in table.columns}
        collections[name] = Collection(
            name=name,
            table=table,
            fields=fields,
            primary_key=tuple(c.name for c in table.primary_key.columns),
            relationships=relationships[name],
        )
    unused = sorted(set(renames) - used_renames)
    return Built(collections, skipped, unused)


def _many_to_one_name(local: tuple[str, ...], parent: str) -> str:
    if len(local) == 1 and local[0].endswith("_id") and len(local[0]) > 3:
        return local[0][:-3]
    return parent
