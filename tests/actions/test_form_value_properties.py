"""Properties of server-side form validation, for every field type: any submitted document
is either typed values or a 422 naming the offending fields (never another exception), and
what is accepted has the type the handler is promised, with safe file names."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actiondesk.actions.form_values import (
    FileValue,
    FormValidationError,
    json_value,
    validate_values,
)
from actiondesk.actions.forms import FormField, FormFieldType, ResolvedField, form_field
from tests.strategies import JSON, TEXT, form_value

KNOWN_IDS = frozenset({"1", "2", "3"})


def spec_of(kind: FormFieldType) -> FormField:
    options: dict[str, Any] = {}
    if kind in (FormFieldType.ENUM, FormFieldType.ENUM_LIST):
        options["enum_values"] = ["low", "high", "<b>x</b>"]
    if kind is FormFieldType.REFERENCE:
        options["reference"] = "companies"
    if kind in (FormFieldType.FILE, FormFieldType.FILE_LIST):
        options["max_file_bytes"] = 48
    return form_field(f"f_{kind.value}", kind, **options)


SPECS = [spec_of(kind) for kind in FormFieldType]


def resolved(spec: FormField, **changes: Any) -> ResolvedField:
    values: dict[str, Any] = {
        "spec": spec, "label": spec.name, "description": None, "required": False,
        "default": None, "read_only": False,
        "enum_values": tuple(spec.enum_values) if isinstance(spec.enum_values, list) else None,
        "placeholder": None, "min": None, "max": None, "min_length": None,
        "max_length": None, "pattern": None, "visible": True,
    }
    values.update(changes)
    return ResolvedField(**values)


async def exists(collection: str, record_id: str) -> bool:
    return record_id in KNOWN_IDS


def validate(fields: list[ResolvedField], submitted: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(validate_values(fields, submitted, exists))


_PYTHON_TYPES: dict[FormFieldType, tuple[type, ...]] = {
    FormFieldType.STRING: (str,), FormFieldType.TEXT: (str,),
    FormFieldType.NUMBER: (int, float), FormFieldType.DECIMAL: (decimal.Decimal,),
    FormFieldType.BOOLEAN: (bool,), FormFieldType.DATE: (dt.datetime,),
    FormFieldType.DATETIME: (dt.datetime,), FormFieldType.DATE_ONLY: (dt.date,),
    FormFieldType.TIME: (dt.time,), FormFieldType.ENUM: (str,),
    FormFieldType.FILE: (FileValue,), FormFieldType.REFERENCE: (str,),
}


def _check_typed(spec: FormField, value: Any) -> None:
    if value is None:
        return
    kind = spec.type
    if kind in (FormFieldType.FILE_LIST, FormFieldType.STRING_LIST, FormFieldType.NUMBER_LIST,
                FormFieldType.ENUM_LIST):
        assert isinstance(value, list)
        items = value
        item_kind = {FormFieldType.FILE_LIST: FormFieldType.FILE,
                     FormFieldType.STRING_LIST: FormFieldType.STRING,
                     FormFieldType.NUMBER_LIST: FormFieldType.NUMBER,
                     FormFieldType.ENUM_LIST: FormFieldType.ENUM}[kind]
    else:
        items, item_kind = [value], kind
    for item in items:
        if item_kind is FormFieldType.JSON:
            continue
        assert isinstance(item, _PYTHON_TYPES[item_kind]), (kind, item)
        if item_kind in (FormFieldType.DATE, FormFieldType.DATETIME):
            assert item.tzinfo is not None  # naive input is taken as UTC
        if item_kind in (FormFieldType.ENUM,):
            assert item in spec.enum_values  # type: ignore[operator]
        if item_kind is FormFieldType.REFERENCE:
            assert item in KNOWN_IDS
        if item_kind is FormFieldType.DECIMAL:
            assert item.is_finite()
        if isinstance(item, float):
            assert item == item and item not in (float("inf"), float("-inf"))
        if item_kind is FormFieldType.FILE:
            name = item.filename
            assert name and "/" not in name and "\\" not in name
            assert not name.startswith(".")
            assert all(ord(c) >= 32 and c not in '"<>:|?*' for c in name), name
            assert len(item.content) <= spec.max_file_bytes
            assert "\r" not in item.mime and "\n" not in item.mime
        if isinstance(item, str):
            assert "\x00" not in item or item_kind is FormFieldType.JSON


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(SPECS), unique_by=lambda s: s.name, max_size=6))
    ids = st.sampled_from(sorted(KNOWN_IDS | {"404", "1|2", ""}))
    document = {spec.name: draw(form_value(spec, ids)) for spec in chosen}
    if draw(st.integers(0, 9)) == 0:
        document[draw(TEXT)] = draw(JSON)  # a field the form does not have
    return document


@settings(max_examples=400, deadline=None)
@given(submitted=submissions())
def test_any_submission_is_typed_values_or_a_422(submitted: dict[str, Any]) -> None:
    fields = [resolved(spec) for spec in SPECS]
    try:
        values = validate(fields, submitted)
    except FormValidationError as exc:
        assert exc.status == 422 and exc.fields
        assert set(exc.fields) <= set(submitted)
        return
    for spec in SPECS:
        _check_typed(spec, values.get(spec.name))
    # What the audit keeps is JSON.
    import json

    json.dumps({k: json_value(v) for k, v in values.items()})


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_accepted_values_validate_again_from_their_json_form(data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from([s for s in SPECS if s.type not in (
        FormFieldType.FILE, FormFieldType.FILE_LIST)]))
    raw = data.draw(form_value(spec, st.sampled_from(sorted(KNOWN_IDS))))
    fields = [resolved(spec)]
    try:
        first = validate(fields, {spec.name: raw})
    except FormValidationError:
        return
    again = validate(fields, {spec.name: json_value(first[spec.name])})
    assert again == first


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(JSON, TEXT), low=st.integers(-5, 5), high=st.integers(5, 50))
def test_constraints_refuse_with_a_message_never_an_exception(raw: Any, low: int,
                                                              high: int) -> None:
    fields = [
        resolved(spec_of(FormFieldType.NUMBER), min=low, max=high, required=True),
        resolved(spec_of(FormFieldType.STRING), min_length=2, max_length=high,
                 pattern=r"[a-z]+"),
        resolved(spec_of(FormFieldType.DECIMAL), min="0.01", max="99.99"),
        resolved(spec_of(FormFieldType.DATE_ONLY), min="2026-01-01"),
    ]
    submitted = {f.name: raw for f in fields}
    try:
        values = validate(fields, submitted)
    except FormValidationError as exc:
        assert exc.fields
        return
    number = values["f_number"]
    assert low <= number <= high
