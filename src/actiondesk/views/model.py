"""A saved view, and the checks its parts pass against its collection (every problem named
by field, so the API answers one 400 listing them all)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actiondesk.data.filters import Filter, compile_filter, parse_filter
from actiondesk.data.schema import Collection
from actiondesk.errors import BadRequestError, ClientError, ConfigurationError
from actiondesk.services.records import parse_sort

if TYPE_CHECKING:
    from actiondesk.data.datasource import Datasource

NAME_MAX = 100
SEARCH_MAX = 200
SORT_MAX = 500
COLUMNS_MAX = 200
ROLES_MAX = 50
CODE_PREFIX = "code-"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SLUG_PART = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ViewData:
    """What a view shows: the list's state, as a user or the code gave it."""

    name: str
    filter: Filter | None = None
    search: str | None = None
    sort: str | None = None
    columns: tuple[str, ...] | None = None  # None: the list's default columns
    page_size: int | None = None
    shared_roles: tuple[str, ...] = ()  # personal when empty (stored views)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "filter": None if self.filter is None else self.filter.to_json(),
            "search": self.search,
            "sort": self.sort,
            "columns": None if self.columns is None else list(self.columns),
            "page_size": self.page_size,
            "shared_roles": list(self.shared_roles),
        }


@dataclass(frozen=True)
class SavedView:
    """A view of one collection: stored (with its owner) or declared in code (no owner;
    ``roles`` None means every role that reads the collection)."""

    id: str
    collection: str
    data: ViewData
    owner_id: str | None = None
    owner_email: str | None = None
    in_code: bool = False
    roles: frozenset[str] | None = None
    created_at: dt.datetime | None = field(default=None, compare=False)
    updated_at: dt.datetime | None = field(default=None, compare=False)

    def visible_to(self, caller_id: str, role: str) -> bool:
        if self.in_code:
            return self.roles is None or role in self.roles
        return self.owner_id == caller_id or role in self.data.shared_roles

    def to_json(self, caller_id: str, may_edit: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            **self.data.to_json(),
            "in_code": self.in_code,
            "roles": None if self.roles is None else sorted(self.roles),
            "owner": None if self.in_code else {"id": self.owner_id, "email": self.owner_email},
            "mine": not self.in_code and self.owner_id == caller_id,
            "editable": may_edit,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def view_problems(datasource: Datasource, collection: Collection, data: ViewData,
                  *, max_page_size: int, known_roles: Iterable[str] | None) -> dict[str, str]:
    """What is wrong with ``data`` on ``collection``, by field; empty when nothing is."""
    errors: dict[str, str] = {}
    name = data.name
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "must not be empty"
    elif len(name) > NAME_MAX:
        errors["name"] = f"must be at most {NAME_MAX} characters"
    elif name != name.strip() or _CONTROL.search(name):
        errors["name"] = "must not start or end with spaces or hold control characters"
    if data.filter is not None:
        try:
            compile_filter(collection, data.filter)
        except ClientError as exc:
            errors["filter"] = exc.message
    if data.search is not None and (len(data.search) > SEARCH_MAX or "\x00" in data.search):
        errors["search"] = f"must be at most {SEARCH_MAX} characters"
    if data.sort:
        try:
            if len(data.sort) > SORT_MAX:
                raise BadRequestError(f"must be at most {SORT_MAX} characters")
            datasource.order_by(collection, parse_sort(data.sort))
        except ClientError as exc:
            errors["sort"] = exc.fields.get("sort", exc.message) if exc.fields else exc.message
    if data.columns is not None:
        unknown = [c for c in data.columns if c not in collection.fields]
        if not data.columns or len(data.columns) > COLUMNS_MAX:
            errors["columns"] = f"must name 1 to {COLUMNS_MAX} fields"
        elif unknown:
            errors["columns"] = "unknown field(s): " + ", ".join(map(str, unknown[:5]))
    if data.page_size is not None and not 1 <= data.page_size <= max_page_size:
        errors["page_size"] = f"must be between 1 and {max_page_size}"
    if len(data.shared_roles) > ROLES_MAX:
        errors["shared_roles"] = f"at most {ROLES_MAX} roles"
    elif known_roles is not None:
        missing = sorted(set(data.shared_roles) - set(known_roles))
        if missing:
            errors["shared_roles"] = "no such role(s): " + ", ".join(missing[:5])
    return errors


def view_data(
    name: str,
    *,
    filter: Filter | Mapping[str, Any] | None = None,
    search: str | None = None,
    sort: str | Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    page_size: int | None = None,
    shared_roles: Sequence[str] = (),
) -> ViewData:
    """A ``ViewData`` from friendly values: a filter as a dict, a sort as a list of names."""
    parsed = parse_filter(filter) if isinstance(filter, Mapping) else filter
    sort_text = sort if sort is None or isinstance(sort, str) else ",".join(sort)
    return ViewData(
        name=name, filter=parsed, search=search or None,
        sort=sort_text or None,
        columns=None if columns is None else tuple(columns),
        page_size=page_size, shared_roles=tuple(dict.fromkeys(shared_roles)),
    )


def code_view(collection: str, name: str, *, roles: Sequence[str] | None = None,
              **options: Any) -> SavedView:
    """A view declared in code; its id is ``code-<collection>-<name as a slug>``. Checked
    against the collection when the desk starts."""
    try:
        data = view_data(name, **options)
    except ClientError as exc:
        raise ConfigurationError(f"view {name!r} of {collection}: {exc.message}") from None
    slug = _SLUG_PART.sub("-", f"{collection}-{name}".lower()).strip("-")
    return SavedView(id=CODE_PREFIX + slug, collection=collection, data=data, in_code=True,
                     roles=None if roles is None else frozenset(roles))
