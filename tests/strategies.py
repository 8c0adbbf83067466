"""Hypothesis strategies shared by the property tests (and by bench/_fuzz_hooks.py): JSON of
any shape, filter values fit (or not) for a field, filters over a collection, form values for
every form field type, and hostile text (odd characters, markup, path tricks)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from typing import Any

from hypothesis import strategies as st

from actiondesk.actions.forms import FormField, FormFieldType
from actiondesk.data.filters import _FITS, Operator
from actiondesk.data.schema import Collection, Field, FieldType

# Characters that have broken parsers, escapers and databases before.
HOSTILE = st.sampled_from([
    "", " ", "\x00", "%", "%25", "%7C", "|", "/", "\\", "..", "../", "\r\n", "'", '"', ";",
    "--", "<script>alert(1)</script>", "é", "İ", "ß", "\u202e", "\ud7ff", "😀", "+-5", "²",
    "١٢", "1e999999", "NaN", "-0", "9" * 30, "%2F", "a|b", "null",
])
TEXT = st.one_of(st.text(max_size=30), HOSTILE, st.lists(HOSTILE, max_size=4).map("".join))

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)

DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))
TIMES = st.times()
DATETIMES = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
DECIMALS = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False,
                       allow_infinity=False)


def typed_values(
    kind: FieldType, enum_values: tuple[str, ...] | None = None
) -> st.SearchStrategy[Any]:
    """Python values a column of this type holds."""
    # Small values as often as any: they meet the values stored in tests' tables.
    if kind is FieldType.INTEGER:
        return st.one_of(st.integers(-5, 5), st.integers(min_value=-(2**53), max_value=2**53))
    if kind is FieldType.NUMBER:
        return st.one_of(st.sampled_from([0.0, 0.1, -1.5, 2.25]),
                         st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
    if kind is FieldType.DECIMAL:
        return st.one_of(st.integers(-500, 500).map(lambda c: decimal.Decimal(c) / 100),
                         DECIMALS)
    if kind is FieldType.BOOLEAN:
        return st.booleans()
    if kind is FieldType.DATE:
        return st.one_of(st.integers(-4, 4).map(lambda d: dt.date(2026, 1, 1)
                                                 + dt.timedelta(days=d)), DATES)
    if kind is FieldType.DATETIME:
        return st.one_of(st.integers(-4, 4).map(lambda m: dt.datetime(2026, 1, 1, 12)
                                                 + dt.timedelta(minutes=m)), DATETIMES)
    if kind is FieldType.TIME:
        return st.one_of(st.sampled_from([dt.time(9), dt.time(9, 15), dt.time(9, 30)]), TIMES)
    if kind is FieldType.ENUM and enum_values:
        return st.sampled_from(enum_values)
    return st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                   max_size=12)


def to_wire(value: Any) -> Any:
    """A typed value as a client writes it in JSON."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def filter_value(field: Field) -> st.SearchStrategy[Any]:
    """A value for a condition on ``field``: mostly fit for it, sometimes anything."""
    fit = typed_values(field.type, field.enum_values).map(to_wire)
    return st.one_of(fit, fit, fit, fit, fit, JSON_SCALARS)


_ALL_OPERATORS = [op.value for op in Operator] + ["blank", "present"]


@st.composite
def conditions(draw: st.DrawFn, collection: Collection) -> dict[str, Any]:
    field = draw(st.sampled_from(list(collection.fields.values())))
    fitting = [op.value for op, types in _FITS.items() if field.type in types]
    operator = draw(st.one_of(st.sampled_from(fitting), st.sampled_from(fitting),
                              st.sampled_from(_ALL_OPERATORS)))
    condition: dict[str, Any] = {"field": field.name, "operator": operator}
    if operator in ("in", "not_in"):
        condition["value"] = draw(st.lists(filter_value(field), min_size=1, max_size=4))
    elif operator not in ("is_null", "is_not_null", "blank", "present"):
        condition["value"] = draw(filter_value(field))
    return condition


def filters(collection: Collection) -> st.SearchStrategy[dict[str, Any]]:
    """Filters in their JSON form over ``collection``: conditions nested in and/or groups."""
    return st.recursive(
        conditions(collection),
        lambda children: st.fixed_dictionaries({
            "aggregator": st.sampled_from(["and", "or"]),
            "conditions": st.lists(children, min_size=1, max_size=3),
        }),
        max_leaves=6,
    )


# -- form values ---------------------------------------------------------------------------

FILE_NAMES = st.one_of(
    st.sampled_from(["report.pdf", "../../etc/passwd", "..\\..\\boot.ini", "a\r\nSet-Cookie: x=1",
                     '"; filename="evil.exe', ".htaccess", "", "%2e%2e%2fsecret", "é.txt"]),
    TEXT,
)


@st.composite
def file_values(draw: st.DrawFn) -> Any:
    content = base64.b64encode(draw(st.binary(max_size=64))).decode()
    name = draw(FILE_NAMES)
    mime = draw(st.sampled_from(["text/plain", "application/pdf", "text/html;x", "", "a/b\r\n"]))
    if draw(st.booleans()):
        from urllib.parse import quote

        return f"data:{mime};name={quote(name)};base64,{content}"
    return {"filename": name, "mime": mime, "content": content}


def form_value(spec: FormField, record_ids: st.SearchStrategy[str], *,
               fit_only: bool = False) -> st.SearchStrategy[Any]:
    """A submitted value for a form field: mostly of its type, sometimes anything (always of
    its type with ``fit_only``)."""
    kind = spec.type
    enum = tuple(spec.enum_values) if isinstance(spec.enum_values, list | tuple) else ()
    fit: st.SearchStrategy[Any]
    if kind in (FormFieldType.STRING, FormFieldType.TEXT):
        fit = TEXT
    elif kind is FormFieldType.NUMBER:
        fit = st.one_of(st.integers(), st.floats(), st.integers().map(str))
    elif kind is FormFieldType.DECIMAL:
        fit = DECIMALS.map(str) if fit_only else st.one_of(
            DECIMALS.map(str), st.decimals(allow_nan=True).map(str))
    elif kind is FormFieldType.BOOLEAN:
        fit = st.booleans()
    elif kind in (FormFieldType.DATE, FormFieldType.DATETIME):
        fit = st.one_of(DATETIMES.map(dt.datetime.isoformat),
                        st.datetimes(timezones=st.timezones()).map(dt.datetime.isoformat))
    elif kind is FormFieldType.DATE_ONLY:
        fit = st.one_of(DATES.map(dt.date.isoformat), DATETIMES.map(dt.datetime.isoformat))
    elif kind is FormFieldType.TIME:
        fit = TIMES.map(dt.time.isoformat)
    elif kind in (FormFieldType.ENUM, FormFieldType.ENUM_LIST):
        fit = st.sampled_from(enum) if enum else TEXT
        if kind is FormFieldType.ENUM_LIST:
            fit = st.lists(fit, max_size=4)
    elif kind is FormFieldType.JSON:
        fit = JSON
    elif kind is FormFieldType.FILE:
        fit = file_values()
    elif kind is FormFieldType.FILE_LIST:
        fit = st.lists(file_values(), max_size=3)
    elif kind is FormFieldType.STRING_LIST:
        fit = st.lists(TEXT, max_size=4)
    elif kind is FormFieldType.NUMBER_LIST:
        fit = st.lists(st.one_of(st.integers(), st.floats()), max_size=4)
    else:
        fit = record_ids if fit_only else st.one_of(record_ids, st.integers())
    return fit if fit_only else st.one_of(fit, fit, fit, JSON)
