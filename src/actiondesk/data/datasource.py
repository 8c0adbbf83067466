"""The user's database: connection, collections and record queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from collections.abc import Collection as Collection_
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.data.asyncpg_direct import AsyncpgDirect
from actiondesk.data.collections import (
    ModelSource,
    build_collections,
    is_infrastructure,
    matches,
    tables_and_names,
)
from actiondesk.data.counts import ESTIMATE_ABOVE, CollectionCount, count_collections
from actiondesk.data.display import CollectionDisplay, DisplayError
from actiondesk.data.driver_statements import sqlite_execute
from actiondesk.data.inline_sqlite import Busy, InlineSqlite, reset_sqlite_when_needed
from actiondesk.data.presentation import Presentation, resolve
from actiondesk.data.record_ids import encode_id
from actiondesk.data.schema import Collection, FieldType, RelationshipKind
from actiondesk.data.sqlite_driver import engine_options as sqlite_engine_options
from actiondesk.data.urls import (
    DEFAULT_MAX_CONNECTIONS,
    direct_connections,
    is_file_url,
    pool_options,
    redact,
    to_async_url,
    to_sync_url,
)
from actiondesk.data.values import json_converter
from actiondesk.errors import BadRequestError, ConfigurationError, NotFoundError

_UNSORTABLE = frozenset({FieldType.JSON, FieldType.BINARY, FieldType.UNKNOWN})


@dataclass(frozen=True)
class Page:
    """One page of records as JSON-ready dicts, and how many records match in all."""

    records: list[dict[str, Any]]
    count: int
    page: int
    page_size: int
    # Per referenced collection, the labels of the records these ones refer to, by id.
    references: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


class Datasource:
    """Reads the user's database through SQLAlchemy's asyncio Core.

    Collections come from the given models/tables, or else from reflecting the database.
    """

    def __init__(
        self,
        url: str,
        *,
        models: Sequence[ModelSource] = (),
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        relationship_names: Mapping[str, str] | None = None,
        schema: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.url = to_async_url(url)
        self.max_connections = max_connections
        self._models = tuple(models)
        self._include = tuple(include) if include is not None else None
        self._exclude = tuple(exclude)
        self._renames = dict(relationship_names or {})
        self._schema = schema
        self._engine_options = dict(engine_options or {})
        self._engine: AsyncEngine | None = None
        self._sync_engine: sa.Engine | None = None
        self._inline: InlineSqlite | None = None
        self._exists: dict[str, sa.Select[Any]] = {}
        self._direct: AsyncpgDirect | None = None
        self._collections: dict[str, Collection] = {}
        self._converters: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}
        self._displays: dict[str, CollectionDisplay] = {}
        self._presentations: dict[str, Presentation] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            # No pre-ping (three round trips per checkout): a dropped connection is
            # invalidated on its first error and the pool reconnects.
            options: dict[str, Any] = {
                "pool_recycle": 1800, **pool_options(self.url, self.max_connections),
                **sqlite_engine_options(self.url)}
            if self.dialect == "sqlite":
                options["pool_reset_on_return"] = None  # see reset_sqlite_when_needed
            options.update(self._engine_options)
            self._engine = create_async_engine(self.url, **options)
            if self.dialect == "sqlite" and options["pool_reset_on_return"] is None:
                reset_sqlite_when_needed(self._engine)
        return self._engine

    @property
    def sync_engine(self) -> sa.Engine:
        """A sync engine on the same database, for ``def`` handlers (worker threads)."""
        if self._sync_engine is None:
            options: dict[str, Any] = {"pool_recycle": 1800}
            options.update(self._engine_options)
            self._sync_engine = sa.create_engine(to_sync_url(self.url), **options)
        return self._sync_engine

    @property
    def inline(self) -> InlineSqlite | None:
        """A SQLite file's connection on the event loop's thread, for short reads that must
        not wait (see ``data.inline_sqlite``); None for other databases, and when
        ``engine_options`` shape the connections (that one would not have them)."""
        if (self._inline is None and self._collections and not self._engine_options
                and is_file_url(self.url)):
            self._inline = InlineSqlite(self.url)
        return self._inline

    @property
    def direct(self) -> AsyncpgDirect | None:
        """A PostgreSQL database's own small asyncpg pool, for the existence check of a
        listed record (see ``data.asyncpg_direct``); None elsewhere."""
        if (self._direct is None and self._collections and not self._engine_options
                and self.url.get_driver_name() == "asyncpg"):
            self._direct = AsyncpgDirect(self.url, self.engine,
                                         direct_connections(self.max_connections))
        return self._direct

    async def scalar(self, query: sa.Select[Any]) -> Any:
        """The one value ``query`` reads (inline on a SQLite file when nobody holds its
        lock)."""
        inline = self.inline
        if inline is not None:
            try:
                return inline.read(lambda conn: conn.execute(query).scalar_one())
            except Busy:
                pass
        async with self.read() as conn:
            return (await conn.execute(query)).scalar_one()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads in autocommit (no BEGIN/ROLLBACK round trips)."""
        async with self.engine.connect() as conn:
            if self.dialect != "sqlite":
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def declared_collections(self) -> Mapping[str, Collection] | None:
        """The collections the given models describe, before connecting; None when the
        collections come from reflection (known only once connected)."""
        if self._collections:
            return self._collections
        if not self._models:
            return None
        tables, names = tables_and_names(self._models)
        return build_collections(tables, names, self._renames).collections

    @property
    def collections(self) -> Mapping[str, Collection]:
        return self._collections

    def add_display(self, spec: CollectionDisplay) -> None:
        """Declare how a collection reads; checked against its fields now when the models
        are known, else when connecting. Raises ``DisplayError``."""
        if not isinstance(spec, CollectionDisplay):
            raise DisplayError(f"display takes a CollectionDisplay, not {type(spec).__name__}")
        if spec.collection in self._displays:
            raise DisplayError(f"the display of {spec.collection!r} is declared twice")
        known = self.declared_collections()
        if known is not None:
            if spec.collection not in known:
                raise DisplayError(f"display: no collection {spec.collection!r} (known: "
                                   f"{', '.join(sorted(known)) or 'none'})")
            problems = resolve(known[spec.collection], spec)[1]
            if problems:
                raise DisplayError("; ".join(problems), problems)
        self._displays[spec.collection] = spec
        if spec.collection in self._collections:
            self._presentations[spec.collection] = resolve(
                self._collections[spec.collection], spec)[0]

    def presentation(self, name: str) -> Presentation:
        """How the collection ``name`` reads (its declaration, defaults applied)."""
        return self._presentations[name]

    def _resolve_displays(self, chosen: Mapping[str, Collection]) -> list[str]:
        problems = [f"display: no collection {name!r} (known: {', '.join(sorted(chosen))})"
                    for name in self._displays if name not in chosen]
        self._presentations = {}
        for name, collection in chosen.items():
            presentation, found = resolve(collection, self._displays.get(name))
            self._presentations[name] = presentation
            problems += found
        return problems

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    async def connect(self) -> None:
        """Load the collections; ConfigurationError lists every problem found."""
        async with self._lock:
            if self._collections:
                return
            if self._models:
                tables, names = tables_and_names(self._models)
            else:
                tables, names = await self._reflect(), tables_and_names(())[1]
            built = build_collections(tables, names, self._renames)
            problems = list(built.problems)
            known = set(built.collections)
            for pattern in (self._include or ()) + self._exclude:
                # Leaving out actiondesk's or Procrastinate's tables is harmless: they are.
                if not any(matches(n, [pattern]) for n in known) and not is_infrastructure(pattern):
                    problems.append(
                        f"include/exclude names {pattern!r}, which matches no table with a "
                        f"primary key (known: {', '.join(sorted(known)) or 'none'})"
                    )
            self.notes = built.skipped
            self.problems = problems
            if problems:
                raise ConfigurationError("; ".join(problems), problems)
            chosen = {
                n: c
                for n, c in built.collections.items()
                if (self._include is None or matches(n, self._include))
                and not matches(n, self._exclude)
            }
            # A relationship to a collection left out would lead nowhere.
            chosen = {
                n: replace(
                    c,
                    relationships={
                        k: r for k, r in c.relationships.items() if r.target in chosen
                    },
                )
                for n, c in chosen.items()
            }
            problems = self._resolve_displays(chosen)
            if problems:
                raise DisplayError("; ".join(problems), problems)
            self._converters = {
                n: [(f.name, json_converter(f)) for f in c.fields.values()]
                for n, c in chosen.items()
            }
            self._collections = chosen

    async def _reflect(self) -> list[sa.Table]:
        metadata = sa.MetaData(schema=self._schema)
        try:
            async with self.engine.connect() as conn:
                await conn.run_sync(lambda sync: metadata.reflect(bind=sync))
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise ConfigurationError(
                f"cannot read the database at {redact(self.url)}: {_short(exc)}"
            ) from exc
        return list(metadata.sorted_tables)

    async def close(self) -> None:
        if self._inline is not None:
            await self._inline.close()
            self._inline = None
        if self._direct is not None:
            await self._direct.close()
            self._direct = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None

    def collection(self, name: str) -> Collection:
        found = self._collections.get(name)
        if found is None:
            raise NotFoundError(f"no collection named {name!r}")
        return found

    def serialize(self, collection: Collection, row: sa.Row[Any]) -> dict[str, Any]:
        mapping = row._mapping
        values = {
            name: (None if mapping[name] is None else convert(mapping[name]))
            for name, convert in self._converters[collection.name]
        }
        pk = [mapping[name] for name in collection.primary_key]
        record_id = encode_id(collection, pk)
        label = self._presentations[collection.name].label_of(mapping, record_id)
        return {"id": record_id, "label": label, "values": values}

    def order_by(
        self, collection: Collection, sort: Sequence[SortKey]
    ) -> list[ColumnElement[Any]]:
        """ORDER BY clauses for the sort keys, ending with the primary key so pages are
        stable."""
        clauses: list[ColumnElement[Any]] = []
        seen: set[str] = set()
        for key in sort:
            field = collection.field(key.field)
            if field is None:
                raise BadRequestError(
                    f"cannot sort {collection.name} by unknown field {key.field!r}",
                    fields={"sort": f"unknown field {key.field!r}"},
                )
            if field.type in _UNSORTABLE:
                raise BadRequestError(
                    f"cannot sort by {key.field!r}: {field.type.value} fields are not sortable",
                    fields={"sort": f"{key.field!r} is not sortable"},
                )
            seen.add(key.field)
            clauses.append(field.column.desc() if key.descending else field.column.asc())
        for name in collection.primary_key:
            if name not in seen:
                clauses.append(collection.fields[name].column.asc())
        return clauses

    async def list_records(
        self,
        collection: Collection,
        *,
        where: ColumnElement[bool] | None,
        sort: Sequence[SortKey],
        page: int,
        page_size: int,
        with_count: bool = True,
        references: Collection_[str] = (),
    ) -> Page:
        """A page of records; with ``references`` (collection names), the labels of the
        records they refer to in those collections, one query per collection."""
        table = collection.table
        query = sa.select(table).order_by(*self.order_by(collection, sort))
        count_query = sa.select(sa.func.count()).select_from(table)
        if where is not None:
            query = query.where(where)
            count_query = count_query.where(where)
        query = query.limit(page_size).offset((page - 1) * page_size)
        async with self.read() as conn:
            rows = (await conn.execute(query)).all()
            count = (await conn.execute(count_query)).scalar_one() if with_count else -1
            labels = await self._reference_labels(conn, collection, rows, references)
        return Page(
            records=[self.serialize(collection, r) for r in rows],
            count=int(count),
            page=page,
            page_size=page_size,
            references=labels,
        )

    async def counts(self, collections: Sequence[Collection],
                     estimate_above: int = ESTIMATE_ABOVE) -> dict[str, CollectionCount]:
        """How many records each collection holds (estimated above ``estimate_above``)."""
        async with self.read() as conn:
            return await count_collections(conn, self.dialect, collections, estimate_above)

    async def references(self, collection: Collection, rows: Sequence[sa.Row[Any]],
                         targets: Collection_[str]) -> dict[str, dict[str, str]]:
        """The labels of the records ``rows`` refer to in the ``targets`` collections."""
        async with self.read() as conn:
            return await self._reference_labels(conn, collection, rows, targets)

    async def _reference_labels(self, conn: AsyncConnection, collection: Collection,
                                rows: Sequence[sa.Row[Any]],
                                targets: Collection_[str]) -> dict[str, dict[str, str]]:
        wanted: dict[str, set[tuple[Any, ...]]] = {}
        for rel in collection.relationships.values():
            target = self._collections.get(rel.target)
            if rel.kind is not RelationshipKind.MANY_TO_ONE or target is None or \
                    rel.target not in targets or set(rel.target_fields) != set(target.primary_key):
                continue
            local = [rel.fields[rel.target_fields.index(k)] for k in target.primary_key]
            keys = wanted.setdefault(rel.target, set())
            for row in rows:
                key = tuple(row._mapping[name] for name in local)
                if None not in key:
                    keys.add(key)
        labels: dict[str, dict[str, str]] = {}
        for name, keys in wanted.items():
            if not keys:
                continue
            target = self._collections[name]
            presentation = self._presentations[name]
            columns = [target.fields[n].column
                       for n in dict.fromkeys((*target.primary_key, *presentation.label_fields))]
            query = sa.select(*columns).where(self._pk_in(target, keys))
            found = labels.setdefault(name, {})
            for row in (await conn.execute(query)).all():
                record_id = encode_id(target, [row._mapping[k] for k in target.primary_key])
                found[record_id] = presentation.label_of(row._mapping, record_id)
        return labels

    async def labels(self, collection: Collection,
                     keys: Sequence[tuple[Any, ...]]) -> dict[str, str]:
        """The labels of the records of ``collection`` with these primary keys, by id (one
        query); a key of no record is left out."""
        if not keys:
            return {}
        presentation = self._presentations[collection.name]
        columns = [collection.fields[n].column
                   for n in dict.fromkeys((*collection.primary_key, *presentation.label_fields))]
        query = sa.select(*columns).where(self._pk_in(collection, set(keys)))
        found: dict[str, str] = {}
        async with self.read() as conn:
            for row in (await conn.execute(query)).all():
                record_id = encode_id(collection, [row._mapping[k] for k in collection.primary_key])
                found[record_id] = presentation.label_of(row._mapping, record_id)
        return found

    def _pk_in(self, collection: Collection, keys: set[tuple[Any, ...]]) -> ColumnElement[bool]:
        if len(collection.primary_key) == 1:
            column = collection.fields[collection.primary_key[0]].column
            return column.in_([k[0] for k in keys])
        return sa.or_(*(self.pk_clause(collection, key) for key in keys))

    def pk_clause(self, collection: Collection, values: Sequence[Any]) -> ColumnElement[bool]:
        return sa.and_(
            *(
                collection.fields[name].column == value
                for name, value in zip(collection.primary_key, values, strict=True)
            )
        )

    async def has_row(self, collection: Collection, pk: Sequence[Any]) -> bool:
        """Whether the record of primary key ``pk`` exists: one statement compiled once per
        collection (on a SQLite file, sent straight to the driver on the loop's thread)."""
        query = self._exists.get(collection.name)
        if query is None:
            query = self._exists[collection.name] = sa.select(sa.literal(1)).where(*(
                collection.fields[name].column == sa.bindparam(f"key_{i}")
                for i, name in enumerate(collection.primary_key)
            ))
        params = {f"key_{i}": value for i, value in enumerate(pk)}
        inline = self.inline
        if inline is not None:
            try:
                return inline.read(
                    lambda conn: sqlite_execute(conn, query, params).fetchone() is not None)
            except Busy:
                pass
        direct = self.direct
        if direct is not None:
            return await direct.first(query, params) is not None
        async with self.read() as conn:
            return (await conn.execute(query, params)).first() is not None

    async def get_row(self, collection: Collection, pk: Sequence[Any]) -> sa.Row[Any] | None:
        query = sa.select(collection.table).where(self.pk_clause(collection, pk))
        async with self.read() as conn:
            return (await conn.execute(query)).first()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
