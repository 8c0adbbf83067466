"""How an exported record is written: CSV a spreadsheet opens without running anything, or one
JSON object per line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from actiondesk.data.record_ids import encode_id
from actiondesk.data.schema import Collection, Field, FieldType
from actiondesk.data.state import dumps
from actiondesk.data.values import json_converter

ExportFormat = Literal["csv", "jsonl"]
# OWASP "CSV injection": a cell starting with one of these is a formula (or may become one
# once a spreadsheet trims a tab or carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = frozenset({FieldType.INTEGER, FieldType.NUMBER, FieldType.DECIMAL})
_AS_STORED = frozenset({FieldType.STRING, FieldType.TEXT, FieldType.ENUM})


@dataclass(frozen=True)
class FormatSpec:
    media_type: str
    extension: str


FORMATS: Mapping[str, FormatSpec] = {
    "csv": FormatSpec("text/csv; charset=utf-8", "csv"),
    "jsonl": FormatSpec("application/x-ndjson; charset=utf-8", "jsonl"),
}


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it as text: a formula-looking cell gets a leading '."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(cells: Sequence[Any]) -> str:
    """One CSV line of ``cells`` (None as empty), every cell safe."""
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell("" if c is None else str(c)) for c in cells])
    return out.getvalue()


class RowWriter:
    """Writes rows of the chosen fields, read as ``needed`` lists them (the chosen fields,
    then the primary key's others: a JSON line carries the record's id)."""

    def __init__(self, collection: Collection, fields: Sequence[Field],
                 format: ExportFormat) -> None:
        self.collection = collection
        self.fields = list(fields)
        self.format = format
        chosen = {f.name for f in self.fields}
        self.needed = self.fields + [collection.fields[n] for n in collection.primary_key
                                     if n not in chosen]
        names = [f.name for f in self.needed]
        self._key_at = [names.index(n) for n in collection.primary_key]
        self._cells = [_csv_cell(f) for f in self.fields]
        self._values = [json_converter(f) for f in self.fields]

    def header(self) -> str:
        if self.format == "csv":
            return csv_line([f.name for f in self.fields])
        return ""

    def lines(self, rows: Iterable[Sequence[Any]]) -> str:
        out = io.StringIO()
        if self.format == "csv":
            cells = self._cells
            csv.writer(out).writerows(
                ["" if v is None else cell(v) for cell, v in zip(cells, row, strict=False)]
                for row in rows
            )
            return out.getvalue()
        names = [f.name for f in self.fields]
        for row in rows:
            record_id = encode_id(self.collection, [row[i] for i in self._key_at])
            values = {name: None if v is None else convert(v)
                      for name, convert, v in zip(names, self._values, row, strict=False)}
            out.write(dumps({"id": record_id, "values": values}))
            out.write("\n")
        return out.getvalue()


def _csv_cell(field: Field) -> Callable[[Any], str]:
    """The function writing one non-null value of ``field`` as a safe CSV cell."""
    convert = json_converter(field)
    if field.type is FieldType.BOOLEAN:
        return lambda v: "true" if v else "false"
    if field.type is FieldType.JSON:
        return lambda v: safe_cell(dumps(v) if isinstance(v, dict | list) else str(v))
    if field.type in _NUMERIC:
        return lambda v: _number_cell(str(convert(v)))
    if field.type in _AS_STORED:
        return _text_cell
    return lambda v: safe_cell(str(convert(v)))


def _text_cell(value: Any) -> str:
    # The hot path of a text column: one call per cell.
    text = value if type(value) is str else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number_cell(text: str) -> str:
    if not text.startswith(FORMULA_STARTS):
        return text
    # SQLite stores any text in a number column: only a real number keeps its sign.
    try:
        float(text)
    except ValueError:
        return safe_cell(text)
    return text
