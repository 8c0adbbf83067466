"""The user's database: connection, collections and record queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.data.collections import (
    ModelSource,
    build_collections,
    is_infrastructure,
    matches,
    tables_and_names,
)
from actiondesk.data.inline_sqlite import Busy, InlineSqlite, reset_sqlite_when_needed
from actiondesk.data.record_ids import encode_id
from actiondesk.data.schema import Collection, FieldType
from actiondesk.data.urls import is_file_url, pool_options, redact, to_async_url, to_sync_url
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
    ) -> None:
        self.url = to_async_url(url)
        self._models = tuple(models)
        self._include = tuple(include) if include is not None else None
        self._exclude = tuple(exclude)
        self._renames = dict(relationship_names or {})
        self._schema = schema
        self._engine_options = dict(engine_options or {})
        self._engine: AsyncEngine | None = None
        self._sync_engine: sa.Engine | None = None
        self._inline: InlineSqlite | None = None
        self._collections: dict[str, Collection] = {}
        self._converters: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            # No pre-ping (three round trips per checkout): a dropped connection is
            # invalidated on its first error and the pool reconnects.
            options: dict[str, Any] = {"pool_recycle": 1800, **pool_options(self.url)}
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
        return {"id": encode_id(collection, pk), "values": values}

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
    ) -> Page:
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
        return Page(
            records=[self.serialize(collection, r) for r in rows],
            count=int(count),
            page=page,
            page_size=page_size,
        )

    def pk_clause(self, collection: Collection, values: Sequence[Any]) -> ColumnElement[bool]:
        return sa.and_(
            *(
                collection.fields[name].column == value
                for name, value in zip(collection.primary_key, values, strict=True)
            )
        )

    async def get_row(self, collection: Collection, pk: Sequence[Any]) -> sa.Row[Any] | None:
        query = sa.select(collection.table).where(self.pk_clause(collection, pk))
        async with self.read() as conn:
            return (await conn.execute(query)).first()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
