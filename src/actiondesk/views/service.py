"""Saved views: the code's, and those users store in the state database. A caller sees the
views of the collections they read that are theirs, shared with their role, or declared in
code for it; only the owner (or an admin) changes or deletes a stored view, and nobody a
view declared in code."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from actiondesk.data.filters import parse_filter
from actiondesk.data.state import StateStore, utcnow
from actiondesk.data.state_schema.views import saved_views_table
from actiondesk.errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)
from actiondesk.views.model import SavedView, ViewData, view_problems

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource
    from actiondesk.permissions.access import Access

_v = saved_views_table.c
MAX_VIEWS_PER_OWNER = 500


class ViewsService:
    def __init__(self, store: StateStore, datasource: Datasource, *, max_page_size: int) -> None:
        self.store = store
        self.datasource = datasource
        self.max_page_size = max_page_size
        self._code: dict[str, SavedView] = {}

    # -- views declared in code ---------------------------------------------------------------

    def declare(self, view: SavedView) -> None:
        if view.id in self._code:
            raise ConfigurationError(
                f"view {view.data.name!r} of {view.collection} is declared twice"
            )
        self._code[view.id] = view

    def check_declared(self) -> list[str]:
        """The problems of the views declared in code, against the collections (at start)."""
        problems = []
        for view in self._code.values():
            found = self.datasource.collections.get(view.collection)
            if found is None:
                problems.append(f"view {view.data.name!r} names no collection "
                                f"{view.collection!r}")
                continue
            errors = view_problems(self.datasource, found, view.data,
                                   max_page_size=self.max_page_size, known_roles=None)
            problems += [f"view {view.data.name!r} of {view.collection}: {name} {problem}"
                         for name, problem in errors.items()]
        return problems

    # -- reading --------------------------------------------------------------------------------

    async def list(self, access: Access, collection: str | None = None) -> list[dict[str, Any]]:
        """The views the caller sees, of one collection or of every one they read: code's
        first, then by name."""
        if collection is not None:
            access.require_read(self.datasource.collection(collection).name)
        caller = access.caller
        query = sa.select(saved_views_table).where(
            sa.or_(_v.owner_id == caller.id, _v.shared)
        ).order_by(_v.collection, _v.name, _v.id)
        if collection is not None:
            query = query.where(_v.collection == collection)
        async with self.store.read() as conn:
            stored = [_view_of(m) for m in (await conn.execute(query)).mappings()]
        code = [v for v in self._code.values()
                if collection is None or v.collection == collection]
        return [
            self._out(v, access) for v in [*code, *stored]
            if v.collection in self.datasource.collections and access.can_read(v.collection)
            and v.visible_to(caller.id, caller.role)
        ]

    async def get(self, collection: str, view_id: str, access: Access) -> dict[str, Any]:
        return self._out(await self._visible(collection, view_id, access), access)

    # -- changing -------------------------------------------------------------------------------

    async def create(self, collection: str, data: ViewData, access: Access) -> dict[str, Any]:
        found = self._checked(collection, data, access)
        caller = access.caller
        now = utcnow()
        view = SavedView(id=uuid.uuid4().hex, collection=found, data=data,
                         owner_id=caller.id, owner_email=caller.email,
                         created_at=now, updated_at=now)
        async with self.store.write() as conn:
            owned = await conn.scalar(sa.select(sa.func.count()).select_from(saved_views_table)
                                      .where(_v.owner_id == caller.id))
            if int(owned or 0) >= MAX_VIEWS_PER_OWNER:
                raise ConflictError(f"you have {MAX_VIEWS_PER_OWNER} saved views already; "
                                    "delete some first")
            await self._write(conn, saved_views_table.insert().values(**_row(view)), data)
        return self._out(view, access)

    async def update(self, collection: str, view_id: str, data: ViewData,
                     access: Access) -> dict[str, Any]:
        view = await self._editable(collection, view_id, access)
        self._checked(collection, data, access)
        changed = replace(view, data=data, updated_at=utcnow())
        row = _row(changed)
        for key in ("id", "owner_id", "owner_email", "created_at"):
            row.pop(key)
        async with self.store.write() as conn:
            await self._write(conn, sa.update(saved_views_table)
                              .where(_v.id == view.id).values(**row), data)
        return self._out(changed, access)

    async def delete(self, collection: str, view_id: str, access: Access) -> None:
        view = await self._editable(collection, view_id, access)
        async with self.store.write() as conn:
            await conn.execute(sa.delete(saved_views_table).where(_v.id == view.id))

    # -- helpers --------------------------------------------------------------------------------

    def _out(self, view: SavedView, access: Access) -> dict[str, Any]:
        return view.to_json(access.caller.id, self._may_edit(view, access))

    @staticmethod
    def _may_edit(view: SavedView, access: Access) -> bool:
        return not view.in_code and (view.owner_id == access.caller.id or access.is_admin)

    def _checked(self, collection: str, data: ViewData, access: Access) -> str:
        found = self.datasource.collection(collection)
        access.require_read(found.name)
        errors = view_problems(self.datasource, found, data, max_page_size=self.max_page_size,
                               known_roles=access.snapshot.roles)
        if errors:
            first = next(iter(errors))
            raise BadRequestError(f"invalid view: {first} {errors[first]}", fields=errors)
        return found.name

    async def _visible(self, collection: str, view_id: str, access: Access) -> SavedView:
        """The view, if the caller may see it; else 404, as for a view that does not exist."""
        found = self.datasource.collection(collection)
        access.require_read(found.name)
        view = self._code.get(view_id)
        if view is None and len(view_id) <= 32 and "\x00" not in view_id:
            async with self.store.read() as conn:
                row = (await conn.execute(sa.select(saved_views_table)
                                          .where(_v.id == view_id))).mappings().first()
            view = None if row is None else _view_of(row)
        caller = access.caller
        if (view is None or view.collection != found.name
                or not (view.visible_to(caller.id, caller.role) or access.is_admin)):
            raise NotFoundError(f"no view {view_id!r} of {found.name}")
        return view

    async def _editable(self, collection: str, view_id: str, access: Access) -> SavedView:
        view = await self._visible(collection, view_id, access)
        if view.in_code:
            raise ConflictError(f"the view {view.data.name!r} is declared in code; change it "
                                "there")
        if not self._may_edit(view, access):
            raise ForbiddenError(f"only the view's owner ({view.owner_email}) or an admin may "
                                 "change it")
        return view

    @staticmethod
    async def _write(conn: Any, statement: Any, data: ViewData) -> None:
        try:
            await conn.execute(statement)
        except IntegrityError:
            raise ConflictError(f"you already have a view named {data.name!r} here",
                                fields={"name": "already used by another of your views"}
                                ) from None


def _row(view: SavedView) -> dict[str, Any]:
    data = view.data
    return {
        "id": view.id, "collection": view.collection, "name": data.name,
        "owner_id": view.owner_id, "owner_email": view.owner_email or "",
        "shared_roles": list(data.shared_roles), "shared": bool(data.shared_roles),
        "filter": None if data.filter is None else data.filter.to_json(),
        "search": data.search, "sort": data.sort,
        "columns": None if data.columns is None else list(data.columns),
        "page_size": data.page_size,
        "created_at": view.created_at, "updated_at": view.updated_at,
    }


def _json(value: Any) -> Any:
    # MariaDB's JSON is text underneath, which some drivers hand back undecoded.
    return json.loads(value) if isinstance(value, str) else value


def _view_of(m: RowMapping) -> SavedView:
    flt = _json(m["filter"])
    columns = _json(m["columns"])
    return SavedView(
        id=m["id"], collection=m["collection"], owner_id=m["owner_id"],
        owner_email=m["owner_email"],
        data=ViewData(
            name=m["name"], filter=None if flt is None else parse_filter(flt),
            search=m["search"], sort=m["sort"],
            columns=None if columns is None else tuple(columns),
            page_size=m["page_size"], shared_roles=tuple(_json(m["shared_roles"]) or ()),
        ),
        created_at=m["created_at"], updated_at=m["updated_at"],
    )

