"""Downloads of a list: the records matching a filter, search and sort, in the chosen columns,
as CSV or JSON lines, streamed in keyset batches (``keyset``), written without formula-looking
cells (``formats``), allowed per role and audited as a run (``service``)."""

from actiondesk.exports.formats import FORMATS, ExportFormat, csv_line, safe_cell
from actiondesk.exports.keyset import ordered_batches
from actiondesk.exports.service import Export, ExportQuery, ExportService

__all__ = [
    "FORMATS",
    "Export",
    "ExportFormat",
    "ExportQuery",
    "ExportService",
    "csv_line",
    "ordered_batches",
    "safe_cell",
]
