"""Server-side validation of submitted form values: required, type, enum, constraints,
references, read-only and hidden fields. The browser is never trusted."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actiondesk.actions.filenames import safe_filename
from actiondesk.actions.forms import FormFieldType, ResolvedField
from actiondesk.data.values import (
    ValueError_,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_time,
)
from actiondesk.errors import ClientError

MAX_LIST_ITEMS = 1000
MAX_TEXT_LENGTH = 1_000_000


class FormValidationError(ClientError):
    """422: one message per offending field."""

    status = 422


@dataclass(frozen=True)
class FileValue:
    """An uploaded file: its bytes, a safe file name, and its media type."""

    content: bytes
    filename: str
    mime: str

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "mime": self.mime, "size": len(self.content)}


# One error type for every value check, so form and filter parsers can share the work.
_Invalid = ValueError_


_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[^;,]*)*?)(;base64)?,(.*)$", re.DOTALL)


def _file(raw: Any, max_bytes: int) -> FileValue:
    """A file from Forest's data URL (``data:mime;name=x.pdf;base64,...``) or from
    ``{"filename", "mime", "content": base64}``."""
    if isinstance(raw, str):
        match = _DATA_URL.match(raw)
        if not match or not match.group(3):
            raise _Invalid("is not a file (expected a base64 data URL)")
        mime = match.group(1) or "application/octet-stream"
        params = dict(
            p.split("=", 1) for p in match.group(2).split(";") if "=" in p
        )
        from urllib.parse import unquote

        filename = unquote(params.get("name", "file"))
        payload = match.group(4)
    elif isinstance(raw, Mapping):
        filename = str(raw.get("filename") or raw.get("name") or "file")
        mime = str(raw.get("mime") or "application/octet-stream")
        payload = raw.get("content")
        if not isinstance(payload, str):
            raise _Invalid("is not a file (content must be base64 text)")
    else:
        raise _Invalid("is not a file")
    if len(payload) > (max_bytes * 4) // 3 + 8:
        raise _Invalid(f"is larger than the limit of {max_bytes:,} bytes")
    try:
        content = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid("is not valid base64") from None
    if len(content) > max_bytes:
        raise _Invalid(f"is larger than the limit of {max_bytes:,} bytes")
    if not re.fullmatch(r"[\w.+-]+/[\w.+-]+", mime):
        mime = "application/octet-stream"
    return FileValue(content=content, filename=safe_filename(filename), mime=mime)


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid("must be text")
    if len(raw) > MAX_TEXT_LENGTH:
        raise _Invalid("is too long")
    if "\x00" in raw:
        # No database column takes it (PostgreSQL refuses NUL), so no handler should get it.
        raise _Invalid("must not contain NUL characters")
    return raw


def _number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise _Invalid("must be a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _Invalid("must be a finite number")
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise _Invalid("must be a number") from None
        if not math.isfinite(number):
            raise _Invalid("must be a finite number")
        return number
    raise _Invalid("must be a number")


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    raise _Invalid("must be true or false")


def _datetime(raw: Any) -> dt.datetime:
    # A value without a zone is taken as UTC, as in filters on aware columns.
    return parse_datetime(raw, True)


def _date_only(raw: Any) -> dt.date:
    # Date pickers may send a full date-time; its date part is the value.
    if isinstance(raw, str) and "T" in raw:
        raw = raw.strip()[:10]
    return parse_date(raw)


_decimal = parse_decimal
_time = parse_time


def _bounded_decimal(raw: Any, places: int | None, max_digits: int | None) -> decimal.Decimal:
    """A decimal that fits ``NUMERIC(max_digits, places)``: a database would round the extra
    places away (PostgreSQL, MariaDB) or refuse the extra digits; we refuse both."""
    value = _decimal(raw)
    shape = value.normalize().as_tuple()
    digits, exponent = shape.digits, int(shape.exponent)  # finite: parse_decimal checked
    after = max(0, -exponent)
    before = max(0, len(digits) + exponent) if any(digits) else 0
    if places is not None and after > places:
        raise _Invalid(
            f"must have at most {places} decimal place{'' if places == 1 else 's'}"
            if places else "must be a whole number (no decimal places)"
        )
    if max_digits is not None:
        whole = max_digits - (places if places is not None else after)
        if before > whole:
            raise _Invalid(f"must have at most {whole} digit{'' if whole == 1 else 's'} "
                           f"before the decimal point")
    return value


def _enum(raw: Any, field: ResolvedField) -> str:
    if not isinstance(raw, str) or raw not in (field.enum_values or ()):
        raise _Invalid("must be one of: " + ", ".join(field.enum_values or ()))
    return raw


def _list(raw: Any, item: Callable[[Any], Any]) -> list[Any]:
    if not isinstance(raw, list):
        raise _Invalid("must be a list")
    if len(raw) > MAX_LIST_ITEMS:
        raise _Invalid(f"may hold at most {MAX_LIST_ITEMS} items")
    result = []
    for index, value in enumerate(raw):
        try:
            result.append(item(value))
        except _Invalid as exc:
            raise _Invalid(f"item {index + 1} {exc}") from None
    return result


def _parse(field: ResolvedField, raw: Any) -> Any:
    kind = field.type
    if kind in (FormFieldType.STRING, FormFieldType.TEXT):
        return _text(raw)
    if kind is FormFieldType.NUMBER:
        return _number(raw)
    if kind is FormFieldType.DECIMAL:
        return _bounded_decimal(raw, field.spec.places, field.spec.max_digits)
    if kind is FormFieldType.BOOLEAN:
        return _boolean(raw)
    if kind in (FormFieldType.DATE, FormFieldType.DATETIME):
        return _datetime(raw)
    if kind is FormFieldType.DATE_ONLY:
        return _date_only(raw)
    if kind is FormFieldType.TIME:
        return _time(raw)
    if kind is FormFieldType.ENUM:
        return _enum(raw, field)
    if kind is FormFieldType.JSON:
        return raw
    if kind is FormFieldType.FILE:
        return _file(raw, field.spec.max_file_bytes)
    if kind is FormFieldType.FILE_LIST:
        return _list(raw, lambda v: _file(v, field.spec.max_file_bytes))
    if kind is FormFieldType.STRING_LIST:
        return _list(raw, _text)
    if kind is FormFieldType.NUMBER_LIST:
        return _list(raw, _number)
    if kind is FormFieldType.ENUM_LIST:
        return _list(raw, lambda v: _enum(v, field))
    if kind is FormFieldType.REFERENCE:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)
        return _text(raw)
    raise _Invalid("has an unsupported type")  # pragma: no cover - every type is handled


def _bound(field: ResolvedField, value: Any) -> Any:
    if field.type is FormFieldType.DECIMAL:
        return None if value is None else _decimal(value)
    if field.type in (FormFieldType.DATE, FormFieldType.DATETIME):
        return None if value is None else _datetime(value) if isinstance(value, str) else value
    if field.type is FormFieldType.DATE_ONLY:
        return None if value is None else _date_only(value) if isinstance(value, str) else value
    return value


def _constraints(field: ResolvedField, value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    sized = value if isinstance(value, str | list) else None
    if sized is not None and field.type is not FormFieldType.JSON:
        noun = "characters" if isinstance(sized, str) else "items"
        if field.min_length is not None and len(sized) < field.min_length:
            raise _Invalid(f"must have at least {field.min_length} {noun}")
        if field.max_length is not None and len(sized) > field.max_length:
            raise _Invalid(f"must have at most {field.max_length} {noun}")
    for item in items:
        if isinstance(item, str) and field.pattern and field.type in (
            FormFieldType.STRING, FormFieldType.TEXT, FormFieldType.STRING_LIST
        ) and not re.fullmatch(field.pattern, item):
            raise _Invalid(f"does not match the expected format ({field.pattern})")
        if isinstance(item, int | float | decimal.Decimal | dt.date | dt.time) and not isinstance(
            item, bool
        ):
            low, high = _bound(field, field.min), _bound(field, field.max)
            try:
                if low is not None and item < low:
                    raise _Invalid(f"must be at least {field.min}")
                if high is not None and item > high:
                    raise _Invalid(f"must be at most {field.max}")
            except TypeError:
                pass


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


async def validate_values(
    fields: Sequence[ResolvedField],
    submitted: Mapping[str, Any],
    reference_exists: Callable[[str, str], Awaitable[bool]],
) -> dict[str, Any]:
    """The typed values of a submitted form, or FormValidationError with a message per field.

    Unknown fields are refused; hidden fields are ignored; read-only fields keep their
    computed value whatever was sent."""
    by_name = {f.name: f for f in fields}
    errors: dict[str, str] = {}
    for name in submitted:
        if name not in by_name:
            errors[name] = "is not a field of this form"
    values: dict[str, Any] = {}
    for field in fields:
        if not field.visible:
            continue
        if field.read_only or field.name not in submitted:
            # Read-only fields keep their computed value; an absent field takes its default.
            raw = json_value(field.default)
        else:
            raw = submitted[field.name]
        if field.read_only and field.name in submitted and not _same(
            submitted[field.name], json_value(field.default)
        ):
            errors[field.name] = "is read-only and cannot be changed"
            continue
        if _is_empty(raw):
            if field.required:
                errors[field.name] = "is required"
            else:
                values[field.name] = None
            continue
        try:
            value = _parse(field, raw)
            _constraints(field, value)
        except _Invalid as exc:
            errors[field.name] = str(exc)
            continue
        if field.type is FormFieldType.REFERENCE and field.spec.reference and not (
            await reference_exists(field.spec.reference, value)
        ):
            errors[field.name] = f"no record {value!r} in {field.spec.reference}"
            continue
        values[field.name] = value
    if errors:
        names = ", ".join(errors)
        raise FormValidationError(f"invalid value for {names}", fields=errors)
    return values


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    return str(a) == str(b)


def json_value(value: Any) -> Any:
    """A typed form value back in JSON form (for the audit and remote calls)."""
    if isinstance(value, FileValue):
        return value.to_json()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value
