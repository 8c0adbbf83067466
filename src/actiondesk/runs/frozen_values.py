"""Form values frozen in an approval request, and rebuilt to the same typed values for the
handler when the request is approved (no second validation: the approver approves exactly
what was asked, and a read-only default computed again could differ)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

from actiondesk.actions.form_values import FileValue, json_value
from actiondesk.actions.forms import FormFieldType
from actiondesk.actions.spec import Action


class FormChangedError(Exception):
    """The action's form no longer fits the frozen values."""


def _freeze(value: Any) -> Any:
    if isinstance(value, FileValue):
        content = base64.b64encode(value.content).decode("ascii")
        return {"filename": value.filename, "mime": value.mime, "content": content}
    if isinstance(value, list):
        return [_freeze(v) for v in value]
    return json_value(value)


def freeze_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values in a JSON form they can be rebuilt from (files keep their bytes)."""
    return {name: _freeze(value) for name, value in values.items()}


def _file(raw: Any) -> FileValue:
    return FileValue(content=base64.b64decode(raw["content"]), filename=str(raw["filename"]),
                     mime=str(raw["mime"]))


def _thaw(kind: FormFieldType, raw: Any) -> Any:
    if raw is None:
        return None
    if kind is FormFieldType.DECIMAL:
        return decimal.Decimal(raw)
    if kind in (FormFieldType.DATE, FormFieldType.DATETIME):
        return dt.datetime.fromisoformat(raw)
    if kind is FormFieldType.DATE_ONLY:
        return dt.date.fromisoformat(raw)
    if kind is FormFieldType.TIME:
        return dt.time.fromisoformat(raw)
    if kind is FormFieldType.FILE:
        return _file(raw)
    if kind is FormFieldType.FILE_LIST:
        return [_file(item) for item in raw]
    return raw


def thaw_values(action: Action, frozen: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of a frozen request; FormChangedError when the form changed since."""
    values = {}
    for name, raw in frozen.items():
        spec = action.form_field(name)
        if spec is None:
            raise FormChangedError(f"the form of {action.name} no longer has the field {name!r}")
        try:
            values[name] = _thaw(spec.type, raw)
        except (ValueError, TypeError, KeyError, decimal.InvalidOperation):
            raise FormChangedError(
                f"the field {name!r} of {action.name} no longer takes the value that was "
                "requested"
            ) from None
    return values
