"""Build collections (fields, primary keys, relationships) from SQLAlchemy tables."""

from __future__ import annotations

import fnmatch
import re
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

# actiondesk's own tables (its Alembic version table included) and its job queue's, when the
# state database is the user's database, are infrastructure, never data.
INFRASTRUCTURE_PREFIXES = ("actiondesk_", "procrastinate_")

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
    problems: list[str]


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


def is_infrastructure(table_name: str) -> bool:
    """Whether the table belongs to actiondesk or its job queue rather than to the user."""
    return table_name.startswith(INFRASTRUCTURE_PREFIXES)


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether a table name is one of the names or glob patterns (``audit_*``) given."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def build_collections(
    tables: Iterable[sa.Table],
    names: ModelNames,
    renames: Mapping[str, str],
) -> Built:
    """Collections for every table that has a primary key; the others are reported."""
    by_name: dict[str, sa.Table] = {}
    skipped: list[str] = []
    for table in tables:
        if is_infrastructure(table.name):
            continue
        if not table.primary_key.columns:
            skipped.append(f"table {table.name!r} has no primary key, so it is not a collection")
            continue
        by_name[table.name] = table

    # Per owner, each relationship under the name it has before any rename.
    found: dict[str, list[Relationship]] = {name: [] for name in by_name}
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
            m2o = many_to_one_name(local, parent_name, child_name)
            found[child_name].append(Relationship(
                names.many_to_one.get(key, m2o), RelationshipKind.MANY_TO_ONE, parent_name,
                local, remote,
            ))
            o2m = one_to_many_name(m2o, child_name, parent_name, per_parent[parent_name])
            found[parent_name].append(Relationship(
                names.one_to_many.get(key, o2m), RelationshipKind.ONE_TO_MANY, child_name,
                remote, local,
            ))

    relationships: dict[str, dict[str, Relationship]] = {}
    problems: list[str] = []
    used_renames: set[str] = set()
    for owner, rels in found.items():
        columns = set(by_name[owner].columns.keys())
        unique = _unique_names(rels, columns)
        relationships[owner] = {}
        for rel, default in zip(rels, unique, strict=True):
            rename_key = f"{owner}.{default}"
            name = renames.get(rename_key, default)
            if rename_key in renames:
                used_renames.add(rename_key)
            others = set(unique) - {default}
            if name != default and (name in others or name in relationships[owner]
                                    or not _may_take(rel, name, columns)):
                problems.append(
                    f"relationship_names: {rename_key!r} cannot be renamed {name!r}, which "
                    f"{owner} already has as a field or relationship"
                )
                name = default
            relationships[owner][name] = Relationship(
                name, rel.kind, rel.target, rel.fields, rel.target_fields
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
    problems += [
        f"relationship_names: no relationship {k!r}" for k in sorted(set(renames) - used_renames)
    ]
    return Built(collections, skipped, problems)


def _may_take(rel: Relationship, name: str, columns: set[str]) -> bool:
    """A relationship's name is not a column's, except a many-to-one's own key column
    (``reports_to`` the relationship over ``reports_to`` the column)."""
    own = rel.kind is RelationshipKind.MANY_TO_ONE and rel.fields == (name,)
    return own or name not in columns


def _unique_names(rels: Sequence[Relationship], columns: set[str]) -> list[str]:
    taken: set[str] = set()
    result = []
    for rel in rels:
        unique, n = rel.name, 2
        while unique in taken or not _may_take(rel, unique, columns):
            unique, n = f"{rel.name}_{n}", n + 1
        taken.add(unique)
        result.append(unique)
    return result


def snake_case(name: str) -> str:
    """``SupportRepId`` → ``support_rep_id``; names without capitals are kept."""
    if name == name.lower():
        return name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def many_to_one_name(local: tuple[str, ...], parent: str, child: str) -> str:
    """The key column without its id suffix (``company_id``, ``CompanyId`` → ``company``);
    else the referenced table's name, or for a table referencing itself (where that name
    would say nothing) the key column's (``reports_to``)."""
    column = snake_case(local[0]) if len(local) == 1 else None
    if column is not None and column.endswith("_id") and len(column) > 3:
        return column[:-3]
    if parent == child:
        return column if column is not None else "_".join(snake_case(c) for c in local)
    return parent


def one_to_many_name(many_to_one: str, child: str, parent: str, links: int) -> str:
    """The referencing table's name; ``<many-to-one>_<table>`` when it references this table
    more than once or is this table (``reports_to_employee``)."""
    if links == 1 and child != parent:
        return child
    return f"{many_to_one}_{snake_case(child)}"
