"""The filter language: conditions on fields combined with and/or, compiled to SQL.

One filter object serves record listing, "select all" selections, action conditions and
approvals. Its JSON form::

    {"field": "status", "operator": "equal", "value": "live"}
    {"aggregator": "and", "conditions": [<filter>, ...]}      # or "or"

Operators and the field types they fit:

- ``equal``, ``not_equal``, ``in``, ``not_in``: every comparable type (not json/binary);
  ``in``/``not_in`` take a non-empty list.
- ``less_than``, ``greater_than``, ``less_than_or_equal``, ``greater_than_or_equal``: numbers,
  decimals, dates, date-times and times.
- ``before``, ``after``: dates, date-times and times.
- ``contains``, ``not_contains``, ``starts_with``, ``ends_with``: string, text and enum fields;
  case-insensitive on every database.
- ``is_null``, ``is_not_null`` (Forest's ``blank`` / ``present`` are accepted): every type; no
  value.

``not_equal``, ``not_in`` and ``not_contains`` also match rows where the field is null, as a
person reading "status is not live" expects.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from actiondesk.data.schema import Collection, Field, FieldType
from actiondesk.data.values import ValueError_, to_python
from actiondesk.errors import FilterError

MAX_CONDITIONS = 100
MAX_DEPTH = 8
MAX_IN_VALUES = 1000
MAX_SEARCH_LENGTH = 200
_LIKE_ESCAPE = "/"


class Operator(enum.StrEnum):
    EQUAL = "equal"
    NOT_EQUAL = "not_equal"
    IN = "in"
    NOT_IN = "not_in"
    LESS_THAN = "less_than"
    GREATER_THAN = "greater_than"
    LESS_THAN_OR_EQUAL = "less_than_or_equal"
    GREATER_THAN_OR_EQUAL = "greater_than_or_equal"
    BEFORE = "before"
    AFTER = "after"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"


_ALIASES = {"blank": Operator.IS_NULL, "present": Operator.IS_NOT_NULL}

_COMPARABLE = frozenset(FieldType) - {FieldType.JSON, FieldType.BINARY, FieldType.UNKNOWN}
_TEMPORAL = frozenset({FieldType.DATE, FieldType.DATETIME, FieldType.TIME})
_ORDERED = _TEMPORAL | {FieldType.INTEGER, FieldType.NUMBER, FieldType.DECIMAL}
_TEXTUAL = frozenset({FieldType.STRING, FieldType.TEXT, FieldType.ENUM})

_FITS: dict[Operator, frozenset[FieldType]] = {
    Operator.EQUAL: _COMPARABLE,
    Operator.NOT_EQUAL: _COMPARABLE,
    Operator.IN: _COMPARABLE,
    Operator.NOT_IN: _COMPARABLE,
    Operator.LESS_THAN: _ORDERED,
    Operator.GREATER_THAN: _ORDERED,
    Operator.LESS_THAN_OR_EQUAL: _ORDERED,
    Operator.GREATER_THAN_OR_EQUAL: _ORDERED,
    Operator.BEFORE: _TEMPORAL,
    Operator.AFTER: _TEMPORAL,
    Operator.CONTAINS: _TEXTUAL,
    Operator.NOT_CONTAINS: _TEXTUAL,
    Operator.STARTS_WITH: _TEXTUAL,
    Operator.ENDS_WITH: _TEXTUAL,
    Operator.IS_NULL: frozenset(FieldType),
    Operator.IS_NOT_NULL: frozenset(FieldType),
}
_NO_VALUE = frozenset({Operator.IS_NULL, Operator.IS_NOT_NULL})
_LIST_VALUE = frozenset({Operator.IN, Operator.NOT_IN})


@dataclass(frozen=True)
class Condition:
    """One test on one field, e.g. ``Condition("status", "equal", "live")``."""

    field: str
    operator: Operator | str
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"field": self.field, "operator": _operator(self).value}
        if self.value is not None:
            body["value"] = self.value
        return body


@dataclass(frozen=True)
class Group:
    """Conditions (or groups) combined with ``and`` or ``or``."""

    aggregator: Literal["and", "or"]
    conditions: tuple[Filter, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "aggregator": self.aggregator,
            "conditions": [c.to_json() for c in self.conditions],
        }


Filter = Condition | Group


def all_of(*conditions: Filter) -> Group:
    return Group("and", tuple(conditions))


def any_of(*conditions: Filter) -> Group:
    return Group("or", tuple(conditions))


def _operator(condition: Condition) -> Operator:
    raw = condition.operator
    if isinstance(raw, Operator):
        return raw
    if raw in _ALIASES:
        return _ALIASES[raw]
    try:
        return Operator(raw)
    except ValueError:
        known = ", ".join(op.value for op in Operator)
        raise FilterError(
            f"unknown filter operator {raw!r}",
            detail=f"use one of: {known}",
            fields={"filter": f"unknown operator {raw!r}"},
        ) from None


def parse_filter(data: Any) -> Filter:
    """Build a filter from its JSON form; FilterError says what is wrong with it."""
    counter = [0]
    return _parse(data, 0, counter)


def _parse(data: Any, depth: int, counter: list[int]) -> Filter:
    if depth > MAX_DEPTH:
        raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(data, Mapping):
        raise FilterError(
            "a filter must be an object: {field, operator, value} or {aggregator, conditions}"
        )
    if "aggregator" in data or "conditions" in data:
        aggregator = data.get("aggregator", "and")
        if aggregator not in ("and", "or"):
            raise FilterError(f"filter aggregator must be 'and' or 'or', not {aggregator!r}")
        conditions = data.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            raise FilterError("filter 'conditions' must be a non-empty list")
        return Group(aggregator, tuple(_parse(c, depth + 1, counter) for c in conditions))
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise FilterError(f"a filter may hold at most {MAX_CONDITIONS} conditions")
    unknown = set(data) - {"field", "operator", "value"}
    if unknown:
        raise FilterError(f"unknown key(s) in filter condition: {', '.join(sorted(unknown))}")
    field = data.get("field")
    operator = data.get("operator")
    if not isinstance(field, str) or not field:
        raise FilterError("each filter condition needs a 'field' (text)")
    if not isinstance(operator, str):
        raise FilterError(f"filter condition on {field!r} needs an 'operator' (text)")
    condition = Condition(field, operator, data.get("value"))
    _operator(condition)
    return condition


def compile_filter(collection: Collection, filter_: Filter) -> ColumnElement[bool]:
    """The SQL condition of a filter on a collection; FilterError if it does not fit."""
    if isinstance(filter_, Group):
        if not filter_.conditions:
            raise FilterError("filter 'conditions' must be a non-empty list")
        parts = [compile_filter(collection, c) for c in filter_.conditions]
        return sa.and_(*parts) if filter_.aggregator == "and" else sa.or_(*parts)
    return _compile_condition(collection, filter_)


def _field(collection: Collection, name: str) -> Field:
    found = collection.field(name)
    if found is None:
        raise FilterError(
            f"unknown field {name!r} in filter on {collection.name}",
            detail="fields: " + ", ".join(collection.fields),
            fields={name: "unknown field"},
        )
    return found


def _coerce(field: Field, raw: Any, operator: Operator) -> Any:
    if raw is None:
        raise FilterError(
            f"operator {operator.value!r} on {field.name!r} needs a value",
            detail="to test for a missing value use is_null or is_not_null",
            fields={field.name: "a value is required"},
        )
    try:
        return to_python(field, raw)
    except ValueError_ as exc:
        raise FilterError(
            f"filter value {raw!r} for {field.name!r} {exc}",
            fields={field.name: str(exc)},
        ) from None


def _like_pattern(text: str, *, prefix: bool, suffix: bool) -> str:
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )
    return ("%" if prefix else "") + escaped + ("%" if suffix else "")


def _text_column(field: Field) -> ColumnElement[Any]:
    column: ColumnElement[Any] = field.column
    # Native enums (PostgreSQL) have no LIKE; compare their text.
    if field.type is FieldType.ENUM:
        return sa.cast(column, sa.String())
    return column


def _compile_condition(collection: Collection, condition: Condition) -> ColumnElement[bool]:
    operator = _operator(condition)
    field = _field(collection, condition.field)
    if field.type not in _FITS[operator]:
        raise FilterError(
            f"operator {operator.value!r} does not fit field {field.name!r} "
            f"of type {field.type.value}",
            fields={field.name: f"{operator.value} is not available for {field.type.value}"},
        )
    column = field.column
    if operator in _NO_VALUE:
        return column.is_(None) if operator is Operator.IS_NULL else column.is_not(None)
    if operator in _LIST_VALUE:
        raw = condition.value
        if not isinstance(raw, list) or not raw:
            raise FilterError(
                f"operator {operator.value!r} on {field.name!r} needs a non-empty list",
                fields={field.name: "a non-empty list is required"},
            )
        if len(raw) > MAX_IN_VALUES:
            raise FilterError(f"at most {MAX_IN_VALUES} values in {operator.value!r}")
        values = [_coerce(field, item, operator) for item in raw]
        if operator is Operator.IN:
            return column.in_(values)
        return _or_null(field, column.not_in(values))
    if operator in (Operator.CONTAINS, Operator.NOT_CONTAINS, Operator.STARTS_WITH,
                    Operator.ENDS_WITH):
        text = condition.value
        if not isinstance(text, str) or text == "":
            raise FilterError(
                f"operator {operator.value!r} on {field.name!r} needs non-empty text",
                fields={field.name: "non-empty text is required"},
            )
        if "\x00" in text:
            raise FilterError(f"filter text for {field.name!r} must not contain NUL characters",
                              fields={field.name: "must not contain NUL characters"})
        pattern = _like_pattern(
            text,
            prefix=operator is not Operator.STARTS_WITH,
            suffix=operator is not Operator.ENDS_WITH,
        )
        like = _text_column(field).ilike(pattern, escape=_LIKE_ESCAPE)
        return _or_null(field, sa.not_(like)) if operator is Operator.NOT_CONTAINS else like
    value = _coerce(field, condition.value, operator)
    clause: ColumnElement[bool]
    if operator is Operator.EQUAL:
        clause = column == value
    elif operator is Operator.NOT_EQUAL:
        clause = _or_null(field, column != value)
    elif operator in (Operator.LESS_THAN, Operator.BEFORE):
        clause = column < value
    elif operator in (Operator.GREATER_THAN, Operator.AFTER):
        clause = column > value
    elif operator is Operator.LESS_THAN_OR_EQUAL:
        clause = column <= value
    else:
        clause = column >= value
    return clause


def _or_null(field: Field, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    if not field.nullable:
        return clause
    return sa.or_(field.column.is_(None), clause)


def search_clause(collection: Collection, text: str) -> ColumnElement[bool] | None:
    """Rows where any string field contains ``text`` (case-insensitive), or whose primary
    key equals it. None when the text is blank."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_SEARCH_LENGTH:
        raise FilterError(
            f"search text is longer than {MAX_SEARCH_LENGTH} characters",
            fields={"search": f"at most {MAX_SEARCH_LENGTH} characters"},
        )
    if "\x00" in text:
        raise FilterError("search text must not contain NUL characters",
                          fields={"search": "must not contain NUL characters"})
    pattern = _like_pattern(text, prefix=True, suffix=True)
    clauses: list[ColumnElement[bool]] = [
        _text_column(f).ilike(pattern, escape=_LIKE_ESCAPE)
        for f in searchable_fields(collection)
    ]
    if len(collection.primary_key) == 1:
        pk = collection.fields[collection.primary_key[0]]
        if pk.type in (FieldType.INTEGER, FieldType.UUID):
            with contextlib.suppress(ValueError_):
                clauses.append(pk.column == to_python(pk, text))
    if not clauses:
        return sa.false()
    return sa.or_(*clauses)


def searchable_fields(collection: Collection) -> Iterable[Field]:
    return (f for f in collection.fields.values() if f.type in _TEXTUAL)


def matches(filter_: Filter, values: Mapping[str, Any]) -> bool:
    """Evaluate a filter on plain values (form values), in Python.

    Numbers, decimals and numeric text compare as numbers; text comparisons of
    ``contains``/``starts_with``/``ends_with`` are case-insensitive, as in SQL.
    """
    if isinstance(filter_, Group):
        results = (matches(c, values) for c in filter_.conditions)
        return all(results) if filter_.aggregator == "and" else any(results)
    operator = _operator(filter_)
    actual = values.get(filter_.field)
    expected = filter_.value
    if operator is Operator.IS_NULL:
        return actual is None or actual == "" or actual == []
    if operator is Operator.IS_NOT_NULL:
        return not (actual is None or actual == "" or actual == [])
    if operator in (Operator.IN, Operator.NOT_IN):
        options = expected if isinstance(expected, list) else [expected]
        found = any(_equal(actual, o) for o in options)
        return found if operator is Operator.IN else not found
    if operator is Operator.EQUAL:
        return _equal(actual, expected)
    if operator is Operator.NOT_EQUAL:
        return not _equal(actual, expected)
    if operator in (Operator.CONTAINS, Operator.NOT_CONTAINS, Operator.STARTS_WITH,
                    Operator.ENDS_WITH):
        if actual is None:
            return operator is Operator.NOT_CONTAINS
        text, needle = str(actual).lower(), str(expected).lower()
        if operator is Operator.CONTAINS:
            return needle in text
        if operator is Operator.NOT_CONTAINS:
            return needle not in text
        if operator is Operator.STARTS_WITH:
            return text.startswith(needle)
        return text.endswith(needle)
    if actual is None or expected is None:
        return False
    left, right = _comparable(actual), _comparable(expected)
    try:
        if operator in (Operator.LESS_THAN, Operator.BEFORE):
            return bool(left < right)
        if operator in (Operator.GREATER_THAN, Operator.AFTER):
            return bool(left > right)
        if operator is Operator.LESS_THAN_OR_EQUAL:
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


def _comparable(value: Any) -> Any:
    import decimal

    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return decimal.Decimal(str(value))
    if isinstance(value, str):
        try:
            return decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _equal(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return bool(_comparable(actual) == _comparable(expected))
