"""A record condition as a sentence an operator reads, e.g. ``Only when amount is greater than
1,000 and status is not "live"``: what a disabled action says when its ``enabled_if`` filter
has no ``disabled_reason``."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Sequence
from typing import Any

from actiondesk.data.filters import Condition, Filter, Operator
from actiondesk.data.schema import Collection, FieldType

_PHRASES: dict[Operator, str] = {
    Operator.EQUAL: "is",
    Operator.NOT_EQUAL: "is not",
    Operator.IN: "is one of",
    Operator.NOT_IN: "is not one of",
    Operator.LESS_THAN: "is less than",
    Operator.GREATER_THAN: "is greater than",
    Operator.LESS_THAN_OR_EQUAL: "is at most",
    Operator.GREATER_THAN_OR_EQUAL: "is at least",
    Operator.BEFORE: "is before",
    Operator.AFTER: "is after",
    Operator.CONTAINS: "contains",
    Operator.NOT_CONTAINS: "does not contain",
    Operator.STARTS_WITH: "starts with",
    Operator.ENDS_WITH: "ends with",
    Operator.IS_NULL: "is empty",
    Operator.IS_NOT_NULL: "is not empty",
}
_NUMERIC = frozenset({FieldType.INTEGER, FieldType.NUMBER, FieldType.DECIMAL})
# "SupportRepId" -> "Support Rep Id": a lower case letter or digit followed by a capital.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def condition_sentence(
    condition: Filter, collection: Collection | None = None,
    numeric_fields: frozenset[str] = frozenset(),
) -> str:
    """``Only when <condition>``, with field names as words, numbers grouped (``1,000``),
    text quoted and nested groups in parentheses. ``collection`` types the values: a number
    given as text to a numeric field reads as a number (``numeric_fields`` names such fields
    of a condition on form values, which has no collection)."""
    return "Only when " + _clause(condition, collection, numeric_fields, nested=False)


def field_words(name: str) -> str:
    """A column name as words in a sentence: ``created_at`` and ``CreatedAt`` -> ``created
    at``; words in capitals (``IBAN``) are kept."""
    words = _CAMEL.sub(" ", name).replace("_", " ").split()
    return " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in words) or name


def _clause(
    condition: Filter, collection: Collection | None, numeric_fields: frozenset[str], *,
    nested: bool,
) -> str:
    if not isinstance(condition, Condition):
        parts = [_clause(c, collection, numeric_fields, nested=True)
                 for c in condition.conditions]
        text = f" {condition.aggregator} ".join(parts)
        return f"({text})" if nested and len(parts) > 1 else text
    described = condition.to_json()
    operator = Operator(described["operator"])
    field = collection.field(condition.field) if collection is not None else None
    numeric = (field is not None and field.type in _NUMERIC) or condition.field in numeric_fields
    subject = f"{field_words(condition.field)} {_PHRASES[operator]}"
    if operator in (Operator.IS_NULL, Operator.IS_NOT_NULL):
        return subject
    value = condition.value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return f"{subject} {_listed([_value(v, numeric) for v in value])}"
    return f"{subject} {_value(value, numeric)}"


def _listed(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _value(value: Any, numeric: bool) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return f"{value:,}"
    if isinstance(value, str) and numeric:
        try:
            return f"{decimal.Decimal(value.strip()):,}"
        except decimal.InvalidOperation:
            pass
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)
