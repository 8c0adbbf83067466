"""Rows straight from the driver: a batch of records without an object per record.

Reading a large selection in batches is bound by what is done per row. ``Rows`` keeps the
rows exactly as the database driver returned them (tuples, asyncpg records) and builds a
``Record`` — a read-only mapping, typed like everywhere else in actiondesk — only for a row
the handler looks at. SQLAlchemy's result processing (a SQLite ``NUMERIC`` as ``Decimal``, a
``DATETIME`` as ``datetime``) is applied when a value is read, not to every value fetched;
``len(rows)`` and the last key of a batch cost nothing per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import sqlalchemy as sa

Processor = Callable[[Any], Any] | None


class Shape:
    """The columns of a result: names, their position, and how each value is converted."""

    __slots__ = ("convert", "index", "keys")

    def __init__(self, keys: Sequence[str], processors: Sequence[Processor]) -> None:
        self.keys = tuple(keys)
        self.index = {name: i for i, name in enumerate(self.keys)}
        # None when every value is used as the driver gives it (PostgreSQL, mostly).
        self.convert: tuple[Processor, ...] | None = (
            tuple(processors) if any(p is not None for p in processors) else None
        )

    def value(self, raw: Sequence[Any], position: int) -> Any:
        value = raw[position]
        if self.convert is None or value is None:
            return value
        convert = self.convert[position]
        return value if convert is None else convert(value)


class Record(Mapping[str, Any]):
    """One row as a read-only mapping of column name to typed value (``dict(record)`` copies
    it)."""

    __slots__ = ("_raw", "_shape")

    def __init__(self, raw: Sequence[Any], shape: Shape) -> None:
        self._raw = raw
        self._shape = shape

    def __getitem__(self, key: str) -> Any:
        return self._shape.value(self._raw, self._shape.index[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._shape.keys)

    def __len__(self) -> int:
        return len(self._shape.keys)

    def __repr__(self) -> str:
        return f"Record({dict(self)!r})"


class Rows(Sequence[Record]):
    """The rows of one batch, as the driver returned them; a ``Record`` per row looked at."""

    __slots__ = ("_raw", "shape")

    def __init__(self, raw: Sequence[Sequence[Any]], shape: Shape) -> None:
        self._raw = raw
        self.shape = shape

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> Rows: ...

    def __getitem__(self, index: int | slice) -> Record | Rows:
        if isinstance(index, slice):
            return Rows(self._raw[index], self.shape)
        return Record(self._raw[index], self.shape)

    def __iter__(self) -> Iterator[Record]:
        shape = self.shape
        for raw in self._raw:
            yield Record(raw, shape)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other,
                                                                          strict=False))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rows({len(self)} rows)"

    def column(self, name: str) -> list[Any]:
        """Every row's value of one column, in order (no object per row)."""
        position = self.shape.index[name]
        if self.shape.convert is None or self.shape.convert[position] is None:
            return [raw[position] for raw in self._raw]
        return [self.shape.value(raw, position) for raw in self._raw]

    def key(self, position: int, names: Sequence[str]) -> tuple[Any, ...]:
        """The values of ``names`` (a primary key) in row ``position`` (-1: the last)."""
        raw = self._raw[position]
        return tuple(self.shape.value(raw, self.shape.index[n]) for n in names)

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as new dicts (for code that wants to change them)."""
        keys = self.shape.keys
        if self.shape.convert is None:
            return [dict(zip(keys, raw, strict=True)) for raw in self._raw]
        return [{k: self.shape.value(raw, i) for i, k in enumerate(keys)} for raw in self._raw]


EMPTY = Rows((), Shape((), ()))


def driver_rows(result: sa.CursorResult[Any]) -> Rows:
    """The rows of an executed SELECT as the driver returned them, with how to convert
    their values; the result is consumed and closed."""
    keys = list(result.keys())
    # SQLAlchemy's per-column converters, when it exposes them; otherwise its own rows.
    processors = getattr(result._metadata, "_processors", None)
    cursor = result.cursor
    if (cursor is None or not isinstance(processors, list) or len(processors) != len(keys)
            or getattr(result._metadata, "_tuplefilter", None) is not None):
        return Rows([tuple(row) for row in result], Shape(keys, [None] * len(keys)))
    try:
        raw = cursor.fetchall()
    finally:
        result.close()
    return Rows(raw, Shape(keys, processors))
