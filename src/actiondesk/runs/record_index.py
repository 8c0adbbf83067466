"""Which records a run named, kept with the run so a record's activity is found by index.

A run's selection description (see ``selections``) names its records in one of three ways:
a list of ids, a select-all (filter, search and excluded ids), or the ids frozen with an
approved request. ``index_of`` turns it into the run's ``record_key`` and ``selection_kind``
columns, plus the rows of ``actiondesk_run_records`` when it lists several ids:

- ``one``: the run named a single id, kept in ``record_key`` (no second statement: the
  common single-record run costs nothing more to audit);
- ``ids``: several ids, one ``run_records`` row each;
- ``all``: a select-all, matched later against the record (see ``actiondesk.activity``);
- ``frozen``: an approved request's execution, matched by the request's frozen ids.

A key longer than the column is kept as its SHA-256 (``#`` and 64 hex digits); the activity
read compares the run's own description afterwards, so such a key never matches wrongly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.data.state_schema.activity import RECORD_KEY_LENGTH, run_records_table

ONE, IDS, ALL, FROZEN = "one", "ids", "all", "frozen"


def record_key(record_id: str) -> str:
    """The indexed form of a record id."""
    if len(record_id) <= RECORD_KEY_LENGTH and not record_id.startswith("#"):
        return record_id
    return "#" + hashlib.sha256(record_id.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class RecordIndex:
    """The run's index columns, and the keys of ``run_records`` (several ids only)."""

    record_key: str | None = None
    selection_kind: str | None = None
    keys: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, Any]:
        return {"record_key": self.record_key, "selection_kind": self.selection_kind}

    async def write(self, conn: AsyncConnection, run_id: str, collection: str) -> None:
        """The ``run_records`` rows of a run that named several ids (none otherwise)."""
        if self.keys:
            await conn.execute(sa.insert(run_records_table), [
                {"run_id": run_id, "collection": collection, "record_key": key}
                for key in self.keys])


NOT_INDEXED = RecordIndex()


def index_of(selection: Mapping[str, Any]) -> RecordIndex:
    """How the run with this selection description is found from one of its records."""
    if isinstance(selection.get("approval"), Mapping):
        return RecordIndex(selection_kind=FROZEN)
    if selection.get("all_records"):
        return RecordIndex(selection_kind=ALL)
    ids = selection.get("ids")
    if not isinstance(ids, list) or not ids:
        return RecordIndex()
    keys = sorted({record_key(str(i)) for i in ids})
    if len(keys) == 1:
        return RecordIndex(record_key=keys[0], selection_kind=ONE)
    return RecordIndex(selection_kind=IDS, keys=keys)
