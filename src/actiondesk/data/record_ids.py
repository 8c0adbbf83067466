"""The text form of a record id, used in URLs and in action payloads.

A record id is its primary key. Each primary-key value is written as text (numbers in decimal,
dates in ISO 8601, UUIDs in their canonical form), then ``%`` is written ``%25``, ``|`` is
written ``%7C`` and ``/`` is written ``%2F``; the parts of a composite key are joined by ``|``
in primary-key column order.
So a single integer key 42 is ``42``, and the composite key ``("FR|1", 7)`` is ``FR%7C1|7``.
In a URL path the id is percent-encoded once more, as any path segment (``%7C`` becomes
``%257C``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from actiondesk.data.schema import Collection
from actiondesk.data.values import ValueError_, json_converter, to_python
from actiondesk.errors import NotFoundError

SEPARATOR = "|"


_ESCAPES = {"%": "%25", "|": "%7C", "/": "%2F"}
_ESCAPED = re.compile("[%|/]")
_UNESCAPED = re.compile("%(25|7C|2F)", re.IGNORECASE)
_UNESCAPES = {"25": "%", "7C": "|", "2F": "/"}


def _escape(text: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPES[m.group(0)], text)


def _unescape(text: str) -> str:
    return _UNESCAPED.sub(lambda m: _UNESCAPES[m.group(1).upper()], text)


def encode_id(collection: Collection, values: Sequence[Any]) -> str:
    """The id text of a record given its primary-key values, in primary-key order."""
    parts = []
    for name, value in zip(collection.primary_key, values, strict=True):
        converted = json_converter(collection.fields[name])(value)
        parts.append(_escape(str(converted)))
    return SEPARATOR.join(parts)


def decode_id(collection: Collection, record_id: str) -> tuple[Any, ...]:
    """The primary-key values of an id text; NotFoundError when it cannot be one of this
    collection's ids (wrong number of parts, or a part that does not fit its column)."""
    parts = record_id.split(SEPARATOR)
    if len(parts) != len(collection.primary_key):
        raise NotFoundError(
            f"no record {record_id!r} in {collection.name}",
            detail=f"an id of {collection.name} has {len(collection.primary_key)} part(s) "
            f"({', '.join(collection.primary_key)}) separated by '|'",
        )
    values = []
    for name, part in zip(collection.primary_key, parts, strict=True):
        try:
            values.append(to_python(collection.fields[name], _unescape(part)))
        except ValueError_ as exc:
            raise NotFoundError(
                f"no record {record_id!r} in {collection.name}",
                detail=f"{name} {exc}",
            ) from None
    return tuple(values)
