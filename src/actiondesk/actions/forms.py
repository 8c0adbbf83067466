"""Action forms: typed fields whose every property may be computed from the form context.

Declare fields with the constructors (``String("note")``, ``Decimal("amount", min=0)``,
``Reference("beneficiary", collection="companies")``, ...) or from a Jet-style ``params`` list
with ``jet_params``. A property given as a function (sync or async) of ``FormContext`` is
computed each time the form is loaded or changed, and again on the server at execution.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa

from actiondesk.actions.context import FormContext
from actiondesk.data.filters import Filter, parse_filter
from actiondesk.data.schema import FieldType, field_from_column
from actiondesk.errors import ConfigurationError

T = TypeVar("T")
Dynamic: TypeAlias = T | Callable[[FormContext], T | Awaitable[T]]

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024


class FormFieldType(enum.StrEnum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATE_ONLY = "date_only"
    TIME = "time"
    DATETIME = "datetime"
    ENUM = "enum"
    JSON = "json"
    FILE = "file"
    FILE_LIST = "file_list"
    STRING_LIST = "string_list"
    NUMBER_LIST = "number_list"
    ENUM_LIST = "enum_list"
    REFERENCE = "reference"


_WITH_ENUM = frozenset({FormFieldType.ENUM, FormFieldType.ENUM_LIST})
_FILES = frozenset({FormFieldType.FILE, FormFieldType.FILE_LIST})

# Jet's Django-style field names, and Forest's type names, mapped to ours.
FIELD_TYPE_ALIASES: Mapping[str, FormFieldType] = {
    "CharField": FormFieldType.STRING,
    "TextField": FormFieldType.TEXT,
    "IntegerField": FormFieldType.NUMBER,
    "FloatField": FormFieldType.NUMBER,
    "DecimalField": FormFieldType.DECIMAL,
    "BooleanField": FormFieldType.BOOLEAN,
    "NullBooleanField": FormFieldType.BOOLEAN,
    "DateField": FormFieldType.DATE_ONLY,
    "DateTimeField": FormFieldType.DATETIME,
    "TimeField": FormFieldType.TIME,
    "JSONField": FormFieldType.JSON,
    "FileField": FormFieldType.FILE,
    "ImageField": FormFieldType.FILE,
    "ForeignKey": FormFieldType.REFERENCE,
    "String": FormFieldType.STRING,
    "Number": FormFieldType.NUMBER,
    "Boolean": FormFieldType.BOOLEAN,
    "Date": FormFieldType.DATE,
    "Dateonly": FormFieldType.DATE_ONLY,
    "Time": FormFieldType.TIME,
    "Enum": FormFieldType.ENUM,
    "Json": FormFieldType.JSON,
    "File": FormFieldType.FILE,
}


@dataclass(frozen=True)
class FormField:
    """One input of an action form. Any property except ``name``, ``type``, ``reference``,
    ``secret``, ``max_file_bytes``, ``places`` and ``max_digits`` may be a function of the
    ``FormContext``.

    ``places`` and ``max_digits`` bound a decimal field as a ``NUMERIC(max_digits, places)``
    column does: at most ``places`` digits after the point, at most ``max_digits`` in all."""

    name: str
    type: FormFieldType
    label: Dynamic[str | None] = None
    description: Dynamic[str | None] = None
    required: Dynamic[bool] = False
    default: Dynamic[Any] = None
    read_only: Dynamic[bool] = False
    enum_values: Dynamic[Sequence[str] | None] = None
    placeholder: Dynamic[str | None] = None
    min: Dynamic[float | int | str | None] = None
    max: Dynamic[float | int | str | None] = None
    min_length: Dynamic[int | None] = None
    max_length: Dynamic[int | None] = None
    pattern: Dynamic[str | None] = None
    visible_if: Filter | Callable[[FormContext], bool | Awaitable[bool]] | None = None
    reference: str | None = None
    secret: bool = False
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    places: int | None = None
    max_digits: int | None = None


_DYNAMIC = (
    "label", "description", "required", "default", "read_only", "enum_values",
    "placeholder", "min", "max", "min_length", "max_length", "pattern",
)


def _make(type_: FormFieldType) -> Callable[..., FormField]:
    def build(name: str, **options: Any) -> FormField:
        return form_field(name, type_, **options)

    build.__name__ = type_.name.title().replace("_", "")
    build.__doc__ = f"A form field of type {type_.value}."
    return build


def form_field(name: str, type_: FormFieldType | str, **options: Any) -> FormField:
    """A form field; ConfigurationError names what is wrong with the declaration."""
    if isinstance(type_, str) and not isinstance(type_, FormFieldType):
        resolved = FIELD_TYPE_ALIASES.get(type_)
        if resolved is None:
            try:
                resolved = FormFieldType(type_)
            except ValueError:
                known = ", ".join(t.value for t in FormFieldType)
                raise ConfigurationError(
                    f"form field {name!r}: unknown type {type_!r}; use one of {known} "
                    f"(or Jet's CharField, DecimalField, ForeignKey, ...)"
                ) from None
        type_ = resolved
    known_options = {f.name for f in fields(FormField)} - {"name", "type"}
    unknown = set(options) - known_options
    if unknown:
        raise ConfigurationError(
            f"form field {name!r}: unknown option(s) {', '.join(sorted(unknown))}; "
            f"options are {', '.join(sorted(known_options))}"
        )
    if isinstance(options.get("visible_if"), Mapping):
        options["visible_if"] = parse_filter(options["visible_if"])
    spec = FormField(name=name, type=FormFieldType(type_), **options)
    check_form_field(spec)
    return spec


def check_form_field(spec: FormField) -> None:
    problems = []
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", spec.name):
        problems.append("the name must be letters, digits and _ (not starting with a digit)")
    if spec.type in _WITH_ENUM and spec.enum_values is None:
        problems.append(f"a {spec.type.value} field needs enum_values")
    if spec.type is FormFieldType.REFERENCE and not spec.reference:
        problems.append("a reference field needs reference='<collection>'")
    if spec.type is not FormFieldType.REFERENCE and spec.reference:
        problems.append("reference= is only for reference fields")
    if spec.type in _WITH_ENUM and isinstance(spec.enum_values, Sequence) and (
        isinstance(spec.enum_values, str) or not all(isinstance(v, str) for v in spec.enum_values)
    ):
        problems.append("enum_values must be a list of strings")
    if isinstance(spec.pattern, str):
        try:
            re.compile(spec.pattern)
        except re.error as exc:
            problems.append(f"pattern is not a valid regular expression: {exc}")
    if spec.max_file_bytes < 1:
        problems.append("max_file_bytes must be positive")
    problems += _digit_problems(spec)
    if problems:
        raise ConfigurationError(
            f"form field {spec.name!r}: " + "; ".join(problems),
            [f"form field {spec.name!r}: {p}" for p in problems],
        )


def _digit_problems(spec: FormField) -> list[str]:
    given = {"places": spec.places, "max_digits": spec.max_digits}
    if all(v is None for v in given.values()):
        return []
    if spec.type is not FormFieldType.DECIMAL:
        return ["places= and max_digits= are only for decimal fields"]
    problems = [
        f"{name} must be a whole number of at least {low}"
        for (name, value), low in zip(given.items(), (0, 1), strict=True)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < low)
    ]
    if not problems and spec.places is not None and spec.max_digits is not None and (
        spec.places > spec.max_digits
    ):
        problems.append(f"places ({spec.places}) cannot exceed max_digits ({spec.max_digits})")
    return problems


String = _make(FormFieldType.STRING)
Text = _make(FormFieldType.TEXT)
Number = _make(FormFieldType.NUMBER)
Decimal = _make(FormFieldType.DECIMAL)
Boolean = _make(FormFieldType.BOOLEAN)
Date = _make(FormFieldType.DATE)
DateOnly = _make(FormFieldType.DATE_ONLY)
Time = _make(FormFieldType.TIME)
DateTime = _make(FormFieldType.DATETIME)
Enum = _make(FormFieldType.ENUM)
Json = _make(FormFieldType.JSON)
File = _make(FormFieldType.FILE)
FileList = _make(FormFieldType.FILE_LIST)
StringList = _make(FormFieldType.STRING_LIST)
NumberList = _make(FormFieldType.NUMBER_LIST)
EnumList = _make(FormFieldType.ENUM_LIST)
Reference = _make(FormFieldType.REFERENCE)

_FOR_COLUMN_TYPE: Mapping[FieldType, FormFieldType] = {
    FieldType.STRING: FormFieldType.STRING,
    FieldType.TEXT: FormFieldType.TEXT,
    FieldType.INTEGER: FormFieldType.NUMBER,
    FieldType.NUMBER: FormFieldType.NUMBER,
    FieldType.DECIMAL: FormFieldType.DECIMAL,
    FieldType.BOOLEAN: FormFieldType.BOOLEAN,
    FieldType.DATE: FormFieldType.DATE_ONLY,
    FieldType.DATETIME: FormFieldType.DATETIME,
    FieldType.TIME: FormFieldType.TIME,
    FieldType.ENUM: FormFieldType.ENUM,
    FieldType.JSON: FormFieldType.JSON,
    FieldType.UUID: FormFieldType.STRING,
}


def from_column(column: sa.Column[Any], name: str | None = None, **options: Any) -> FormField:
    """A form field for a value that goes into ``column``, bounded as the column is:
    ``places`` / ``max_digits`` from ``NUMERIC(precision, scale)``, ``max_length`` from
    ``VARCHAR(n)``, an enum's values, and required when the column is NOT NULL without a
    default. ``options`` are the field's other properties and override what was derived."""
    schema_field = field_from_column(column)
    kind = _FOR_COLUMN_TYPE.get(schema_field.type)
    if kind is None:
        raise ConfigurationError(
            f"from_column({column.name!r}): a {schema_field.type.value} column has no form "
            f"field type of its own; declare the field yourself (e.g. fields.File)"
        )
    derived: dict[str, Any] = {
        "required": not column.nullable and column.default is None
        and column.server_default is None,
        "enum_values": schema_field.enum_values,
    }
    if kind is FormFieldType.DECIMAL:
        derived["places"] = getattr(column.type, "scale", None)
        derived["max_digits"] = getattr(column.type, "precision", None)
    if kind is FormFieldType.STRING and isinstance(column.type, sa.String):
        derived["max_length"] = column.type.length
    return form_field(name or column.name, kind, **{**derived, **options})


def jet_params(
    params: Sequence[Mapping[str, Any]], model_names: Mapping[str, str] | None = None
) -> tuple[FormField, ...]:
    """Form fields from a Jet FlexActions ``params`` list, e.g.
    ``[{"name": "amount", "field": "DecimalField", "required": True},
    {"name": "to", "field": "ForeignKey", "params": {"related_model": {"model": "accounts"}}}]``.
    ``model_names`` maps Jet model names to collection names."""
    names = dict(model_names or {})
    result = []
    for index, param in enumerate(params):
        name = param.get("name")
        kind = param.get("field")
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ConfigurationError(f"Jet param #{index}: needs 'name' and 'field' (text)")
        options: dict[str, Any] = {"required": bool(param.get("required", False))}
        for key in ("label", "description", "placeholder", "default"):
            if key in param:
                options[key] = param[key]
        if "verbose_name" in param:
            options["label"] = param["verbose_name"]
        extra = param.get("params") or {}
        if kind == "ForeignKey":
            related = (extra.get("related_model") or {}).get("model")
            if not isinstance(related, str):
                raise ConfigurationError(
                    f"Jet param {name!r}: a ForeignKey needs params.related_model.model"
                )
            options["reference"] = names.get(related, related.split(".")[-1])
        if "options" in extra:
            options["enum_values"] = [str(o.get("value", o)) if isinstance(o, Mapping) else str(o)
                                      for o in extra["options"]]
            if kind == "CharField":
                kind = "Enum"
        result.append(form_field(name, kind, **options))
    return tuple(result)


async def compute(value: Any, context: FormContext) -> Any:
    """The value of a possibly dynamic property in this context."""
    if callable(value) and not isinstance(value, type):
        produced = value(context)
        if inspect.isawaitable(produced):
            produced = await produced
        return produced
    return value


@dataclass(frozen=True)
class ResolvedField:
    """A form field with every dynamic property computed for one context."""

    spec: FormField
    label: str
    description: str | None
    required: bool
    default: Any
    read_only: bool
    enum_values: tuple[str, ...] | None
    placeholder: str | None
    min: Any
    max: Any
    min_length: int | None
    max_length: int | None
    pattern: str | None
    visible: bool

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type(self) -> FormFieldType:
        return self.spec.type


def humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


async def resolve_field(
    spec: FormField, context: FormContext, visible_if: Callable[[FormField], Awaitable[bool]]
) -> ResolvedField:
    computed = {name: await compute(getattr(spec, name), context) for name in _DYNAMIC}
    enum_values = computed["enum_values"]
    return ResolvedField(
        spec=spec,
        label=str(computed["label"] or humanize(spec.name)),
        description=computed["description"],
        required=bool(computed["required"]),
        default=computed["default"],
        read_only=bool(computed["read_only"]),
        enum_values=tuple(str(v) for v in enum_values) if enum_values is not None else None,
        placeholder=computed["placeholder"],
        min=computed["min"],
        max=computed["max"],
        min_length=computed["min_length"],
        max_length=computed["max_length"],
        pattern=computed["pattern"],
        visible=await visible_if(spec),
    )


def with_values(context: FormContext, values: Mapping[str, Any]) -> FormContext:
    return replace(context, values=values)
