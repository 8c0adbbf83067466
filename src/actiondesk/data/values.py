"""Convert values between their JSON/text form and the Python values the database takes."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable
from typing import Any

from actiondesk.data.schema import Field, FieldType


class ValueError_(ValueError):
    """A value does not fit its field; the message says why, without the field name."""


# What every database's largest integer column holds (BIGINT); beyond it the drivers raise.
_INT_RANGE = range(-(2**63), 2**63)
# Python's int() also reads "1_000", "²" and other digits; a whole number here is ASCII.
_WHOLE = re.compile(r"[+-]?[0-9]+")


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError_("is not a whole number")
    value: int | None = None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
        value = int(raw.strip())
    if value is None:
        raise ValueError_("is not a whole number")
    if value not in _INT_RANGE:
        raise ValueError_("is out of range (64-bit whole numbers)")
    return value


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError_("is not a number")
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            raise ValueError_("is not a number") from None
    else:
        raise ValueError_("is not a number")
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError_("is not a finite number")
    return number


def parse_decimal(raw: Any) -> decimal.Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | decimal.Decimal):
        raise ValueError_("is not a decimal number")
    try:
        value = decimal.Decimal(str(raw).strip())
    except decimal.InvalidOperation:
        raise ValueError_("is not a decimal number") from None
    if not value.is_finite():
        raise ValueError_("is not a finite decimal number")
    return value


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0"):
        return raw.strip().lower() in ("true", "1")
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise ValueError_("is not a boolean (true or false)")


def _to_str(raw: Any) -> str:
    if isinstance(raw, str):
        if "\x00" in raw:
            # PostgreSQL refuses NUL in text, so no stored text holds one.
            raise ValueError_("must not contain NUL characters")
        return raw
    if isinstance(raw, int | float | decimal.Decimal) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError_("is not text")


def parse_datetime(raw: Any, timezone: bool) -> dt.datetime:
    if not isinstance(raw, str):
        raise ValueError_("is not a date and time (ISO 8601, e.g. 2026-01-31T09:30:00)")
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError_("is not a date and time (ISO 8601, e.g. 2026-01-31T09:30:00)") from None
    # Naive columns hold UTC by convention; aware values are converted, naive ones kept.
    if timezone and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    if not timezone and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def parse_date(raw: Any) -> dt.date:
    if not isinstance(raw, str):
        raise ValueError_("is not a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError_("is not a date (YYYY-MM-DD)") from None


def parse_time(raw: Any) -> dt.time:
    if not isinstance(raw, str):
        raise ValueError_("is not a time (e.g. 09:30 or 09:30:15)")
    try:
        return dt.time.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError_("is not a time (e.g. 09:30 or 09:30:15)") from None


def _to_uuid(raw: Any) -> uuid.UUID:
    if not isinstance(raw, str):
        raise ValueError_("is not a UUID")
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise ValueError_("is not a UUID") from None


def to_python(field: Field, raw: Any) -> Any:
    """Parse a JSON or text value into what the column holds; raise ValueError_ if it can't."""
    ftype = field.type
    if ftype is FieldType.INTEGER:
        return _to_int(raw)
    if ftype is FieldType.NUMBER:
        return _to_float(raw)
    if ftype is FieldType.DECIMAL:
        return parse_decimal(raw)
    if ftype is FieldType.BOOLEAN:
        return _to_bool(raw)
    if ftype is FieldType.DATETIME:
        return parse_datetime(raw, field.timezone)
    if ftype is FieldType.DATE:
        return parse_date(raw)
    if ftype is FieldType.TIME:
        return parse_time(raw)
    if ftype is FieldType.UUID:
        return _to_uuid(raw)
    if ftype is FieldType.ENUM:
        text = _to_str(raw)
        if field.enum_values is not None and text not in field.enum_values:
            raise ValueError_("is not one of " + ", ".join(field.enum_values))
        return text
    if ftype in (FieldType.STRING, FieldType.TEXT):
        return _to_str(raw)
    raise ValueError_(f"cannot be compared: the field's type is {ftype.value}")


def _json_default(value: Any) -> Any:
    return value


def _datetime_json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _decimal_json(value: Any) -> Any:
    # Decimals travel as strings so no precision is lost in JavaScript clients.
    return str(value)


def _binary_json(value: Any) -> Any:
    return base64.b64encode(bytes(value)).decode("ascii")


def _bool_json(value: Any) -> Any:
    return bool(value)


def _text_json(value: Any) -> Any:
    return str(value)


_JSON_CONVERTERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.DECIMAL: _decimal_json,
    FieldType.DATETIME: _datetime_json,
    FieldType.DATE: _datetime_json,
    FieldType.TIME: _datetime_json,
    FieldType.BINARY: _binary_json,
    FieldType.BOOLEAN: _bool_json,
    FieldType.UUID: _text_json,
}


def json_converter(field: Field) -> Callable[[Any], Any]:
    """The function turning this field's database values into JSON values (None is kept)."""
    if field.type is FieldType.UNKNOWN:
        return _text_json
    return _JSON_CONVERTERS.get(field.type, _json_default)
