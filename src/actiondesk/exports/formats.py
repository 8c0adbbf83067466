"""How an exported record is written: CSV a spreadsheet opens without running anything, or one
JSON object per line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from actiondesk.data.schema import Field, FieldType
from actiondesk.data.state import dumps

ExportFormat = Literal["csv", "jsonl"]
# OWASP "CSV injection": a cell starting with one of these is a formula (or may become one
# once a spreadsheet trims a tab or carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = frozenset({FieldType.INTEGER, FieldType.NUMBER, FieldType.DECIMAL})


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
    """Writes serialized records (``{"id", "values"}``) of the chosen fields."""

    def __init__(self, fields: Sequence[Field], format: ExportFormat) -> None:
        self.fields = list(fields)
        self.format = format
        # A number field's value is a number: "-5" is not a formula, and stays a number.
        self._guarded = [f.type not in _NUMERIC for f in self.fields]

    def header(self) -> str:
        if self.format == "csv":
            return csv_line([f.name for f in self.fields])
        return ""

    def lines(self, records: Iterable[Mapping[str, Any]]) -> str:
        out = io.StringIO()
        if self.format == "csv":
            writer = csv.writer(out)
            for record in records:
                values = record["values"]
                writer.writerow([
                    _cell(values[f.name], guarded)
                    for f, guarded in zip(self.fields, self._guarded, strict=True)
                ])
        else:
            for record in records:
                values = record["values"]
                out.write(dumps({"id": record["id"],
                                 "values": {f.name: values[f.name] for f in self.fields}}))
                out.write("\n")
        return out.getvalue()


def _cell(value: Any, guarded: bool) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    text = dumps(value) if isinstance(value, dict | list) else str(value)
    if guarded or not text.startswith(FORMULA_STARTS):
        return safe_cell(text)
    # SQLite stores any text in a number column: only a real number keeps its sign.
    try:
        float(text)
    except ValueError:
        return safe_cell(text)
    return text
