"""A collection's display declaration resolved against its fields: every default applied, every
mistake found (an unknown field, an enum label for no value), and record labels rendered."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actiondesk.data.display import (
    LABEL_FIELDS,
    NAME_PAIRS,
    CollectionDisplay,
    FieldDisplay,
    humanize,
    template_fields,
)
from actiondesk.data.schema import Collection, Field, FieldType, RelationshipKind

_DEFAULT_FORMATS = {
    FieldType.INTEGER: "number", FieldType.NUMBER: "number", FieldType.DECIMAL: "number",
    FieldType.BOOLEAN: "boolean", FieldType.DATE: "date", FieldType.DATETIME: "datetime",
}
_TEXTUAL = frozenset({FieldType.STRING, FieldType.TEXT, FieldType.ENUM, FieldType.UUID})
_SPACES = re.compile(r"\s+")
# A label longer than this is cut: it names a record in a cell or a picker, it is not content.
MAX_LABEL = 120


def default_record_label(collection: Collection) -> str | None:
    """The first name-like field (LABEL_FIELDS, any case), else first and last name, else
    None (the record is known by ``#id``)."""
    textual = {f.name.lower(): f.name for f in collection.fields.values() if f.type in _TEXTUAL}
    for candidate in LABEL_FIELDS:
        if candidate in textual:
            return textual[candidate]
    for first, last in NAME_PAIRS:
        if first in textual and last in textual:
            return f"{{{textual[first]}}} {{{textual[last]}}}"
    return None


@dataclass(frozen=True)
class Presentation:
    """What the UI needs to show a collection's records (see ``resolve``)."""

    name: str
    label: str
    description: str | None
    record_label: str | None
    label_fields: tuple[str, ...]
    fields: Mapping[str, dict[str, Any]]

    def label_of(self, values: Mapping[Any, Any], record_id: str) -> str:
        """The text a record is known by, from its row's values (enum values by their
        label)."""
        if self.record_label is None:
            return f"#{record_id}"
        if self.label_fields == (self.record_label,):
            text = self._text(self.record_label, values.get(self.record_label))
        else:
            text = self.record_label.format_map(
                {name: self._text(name, values.get(name)) for name in self.label_fields})
        text = _SPACES.sub(" ", text).strip()
        if len(text) > MAX_LABEL:
            text = text[:MAX_LABEL - 1] + "…"
        return text or f"#{record_id}"

    def _text(self, name: str, value: Any) -> str:
        if value is None:
            return ""
        labels = self.fields[name].get("enum_labels") if name in self.fields else None
        return str(labels.get(value, value) if labels else value)

    def collection_json(self, collection: Collection) -> dict[str, Any]:
        """The collection's schema with how it reads: labels, formats, the record label."""
        body = collection.to_json()
        body.update(label=self.label, description=self.description,
                    record_label=self.record_label)
        body["fields"] = [{**f, **self.fields[f["name"]]} for f in body["fields"]]
        return body




def resolve(collection: Collection, spec: CollectionDisplay | None) -> tuple[Presentation,
                                                                             list[str]]:
    """The presentation of ``collection`` with ``spec`` (None: every default), and the
    problems of ``spec`` (fields it names that the collection does not have...)."""
    spec = spec or CollectionDisplay(collection.name)
    where = f"display of {collection.name!r}"
    problems = [f"{where}: no field {name!r} (fields: {', '.join(collection.fields)})"
                for name in spec.fields if name not in collection.fields]
    record_label = spec.record_label or default_record_label(collection)
    label_fields: tuple[str, ...] = ()
    if record_label is not None:
        label_fields = template_fields(record_label)
        problems += [f"{where}: record_label {record_label!r} names no field {name!r}"
                     for name in label_fields if name not in collection.fields]
    references = {rel.fields[0]: rel.name for rel in collection.relationships.values()
                  if rel.kind is RelationshipKind.MANY_TO_ONE and len(rel.fields) == 1}
    fields: dict[str, dict[str, Any]] = {}
    for name, found in collection.fields.items():
        declared = spec.fields.get(name, FieldDisplay())
        problems += _field_problems(where, collection, found, declared)
        fields[name] = _field_json(found, declared, references.get(name))
    presentation = Presentation(
        name=collection.name,
        label=spec.label or humanize(collection.name),
        description=spec.description,
        record_label=record_label,
        label_fields=label_fields,
        fields=fields,
    )
    return presentation, problems


def _field_problems(where: str, collection: Collection, found: Field,
                    declared: FieldDisplay) -> list[str]:
    problems = []
    if declared.currency_field is not None and declared.currency_field not in collection.fields:
        problems.append(f"{where}: {found.name!r} takes its currency from "
                        f"{declared.currency_field!r}, which is no field")
    if declared.enum_labels and found.enum_values is not None:
        unknown = sorted(set(declared.enum_labels) - set(found.enum_values))
        if unknown:
            problems.append(f"{where}: enum_labels of {found.name!r} name values it does not "
                            f"have: {', '.join(unknown)} (values: {', '.join(found.enum_values)})")
    numeric = found.type in (FieldType.INTEGER, FieldType.NUMBER, FieldType.DECIMAL)
    if declared.format in ("number", "money", "percent") and not numeric:
        problems.append(f"{where}: {found.name!r} is a {found.type.value} field; format "
                        f"{declared.format!r} needs a number")
    return problems


def _field_json(found: Field, declared: FieldDisplay, reference: str | None) -> dict[str, Any]:
    """The display properties of one field, defaults applied: a many-to-one key column is
    labelled by its relationship (``company_id`` -> ``Company``), enum values humanised."""
    body = declared.to_json()
    if body["label"] is None:
        body["label"] = humanize(reference if reference is not None else found.name)
    if body["format"] is None:
        body["format"] = _DEFAULT_FORMATS.get(found.type, "text")
        if found.primary_key or reference is not None:
            body["format"] = "text"
    if found.enum_values is not None:
        labels = dict(declared.enum_labels)
        body["enum_labels"] = {v: labels.get(v, humanize(v)) for v in found.enum_values}
    return body
