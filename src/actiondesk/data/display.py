"""How a collection reads to people: its record label, field labels, descriptions, enum labels
and display formats. Declared in code (``desk.display(...)``) with defaults for everything."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from actiondesk.errors import ConfigurationError

FORMATS = ("text", "number", "money", "percent", "date", "datetime", "relative", "boolean",
           "email", "url", "image_url")
# The fields a record is known by when no record label is declared, in order of preference.
LABEL_FIELDS = ("name", "title", "label", "display_name", "full_name", "reference", "email",
                "username", "code")
NAME_PAIRS = (("firstname", "lastname"), ("first_name", "last_name"))
# Words written in capitals when a name is humanised ("stripe_id" -> "Stripe ID").
_ACRONYMS = frozenset({"id", "url", "uuid", "iban", "bic", "vat", "ip", "api", "sku", "csv",
                       "pdf", "html", "json", "sql", "utc", "iso", "uri", "eur", "usd"})
_CURRENCY = re.compile(r"[A-Z]{3}")


class DisplayError(ConfigurationError):
    """A display declaration that cannot work; the message says what to change."""


def humanize(name: str) -> str:
    """``stripe_id`` -> ``Stripe ID``, ``created_at`` -> ``Created at``, ``SupportRepId`` ->
    ``Support rep ID``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.strip())
    words = [w for w in re.split(r"[\s_\-]+", spaced) if w]
    if not words:
        return name
    shown = [w.upper() if w.lower() in _ACRONYMS else w.lower() for w in words]
    first = shown[0]
    shown[0] = first if first.isupper() else first.capitalize()
    return " ".join(shown)


def template_fields(template: str) -> tuple[str, ...]:
    """The field names a record label template uses (``"{firstname} {lastname}"``); a plain
    name (no braces) is the one field it names. Raises ``DisplayError`` for a template that
    uses anything but plain names."""
    if "{" not in template and "}" not in template:
        return (template,)
    names: list[str] = []
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise DisplayError(f"record label {template!r} is not a valid template: {exc}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise DisplayError(
                f"record label {template!r}: write fields as {{name}} only (no index, "
                f"attribute, conversion or format in {{{name}}})")
        names.append(name)
    if not names:
        raise DisplayError(f"record label {template!r} names no field; write e.g. '{{name}}'")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class FieldDisplay:
    """How one field reads: ``label`` (default: its name humanised), ``description`` (help
    shown next to it), ``format`` (one of FORMATS; default from its type), ``currency`` (an ISO
    code such as ``"EUR"``) or ``currency_field`` (the field holding the code) for money,
    ``decimals`` for number, money and percent, and ``enum_labels`` (stored value -> label)."""

    label: str | None = None
    description: str | None = None
    format: str | None = None
    currency: str | None = None
    currency_field: str | None = None
    decimals: int | None = None
    enum_labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise DisplayError(
                f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        money = self.format == "money"
        if (self.currency or self.currency_field) and not money:
            raise DisplayError("currency and currency_field go with format='money'")
        if money and (self.currency is None) == (self.currency_field is None):
            raise DisplayError(
                "format='money' needs either currency='EUR' (a code) or currency_field='...' "
                "(the field holding the code), one of them")
        if self.currency is not None and not _CURRENCY.fullmatch(self.currency):
            raise DisplayError(
                f"currency {self.currency!r} is not an ISO 4217 code (three capitals: 'EUR')")
        if self.decimals is not None and (
                isinstance(self.decimals, bool) or not isinstance(self.decimals, int)
                or not 0 <= self.decimals <= 10):
            raise DisplayError(f"decimals must be a whole number from 0 to 10, not "
                               f"{self.decimals!r}")
        labels = dict(self.enum_labels)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise DisplayError("enum_labels maps stored values (text) to labels (text)")
        object.__setattr__(self, "enum_labels", MappingProxyType(labels))

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "description": self.description, "format": self.format,
                "currency": self.currency, "currency_field": self.currency_field,
                "decimals": self.decimals, "enum_labels": dict(self.enum_labels) or None}


@dataclass(frozen=True)
class CollectionDisplay:
    """How a collection reads: ``label`` (its name in menus and titles; default: its name
    humanised), ``description``, ``record_label`` (a field name or a template such as
    ``"{firstname} {lastname}"``; default: the first of LABEL_FIELDS it has, else ``#id``) and
    ``fields`` (name -> FieldDisplay)."""

    collection: str
    label: str | None = None
    description: str | None = None
    record_label: str | None = None
    fields: Mapping[str, FieldDisplay] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.collection, str) or not self.collection:
            raise DisplayError("display: name the collection")
        fields = dict(self.fields)
        for name, spec in fields.items():
            if not isinstance(spec, FieldDisplay):
                raise DisplayError(
                    f"display of {self.collection!r}: fields[{name!r}] must be a FieldDisplay, "
                    f"not {type(spec).__name__}")
        if self.record_label is not None:
            if not isinstance(self.record_label, str) or not self.record_label.strip():
                raise DisplayError(f"display of {self.collection!r}: record_label is empty")
            try:
                template_fields(self.record_label)
            except DisplayError as exc:
                raise DisplayError(f"display of {self.collection!r}: {exc}") from None
        object.__setattr__(self, "fields", MappingProxyType(fields))
