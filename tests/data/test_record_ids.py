from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from actiondesk import NotFoundError, decode_id, encode_id
from actiondesk.data.collections import build_collections, tables_and_names

metadata = sa.MetaData()
sa.Table(
    "lines",
    metadata,
    sa.Column("code", sa.String(50), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("no", sa.Integer, primary_key=True, autoincrement=False),
)
sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))
tables, names = tables_and_names([metadata])
COLLECTIONS = build_collections(tables, names, {}).collections
LINES = COLLECTIONS["lines"]


@pytest.mark.parametrize(
    "code", ["plain", "A|1", "50%", "x/y", "%7C", "%257C|%", "é ü", "", "a||b"]
)
def test_composite_ids_round_trip(code: str) -> None:
    values = (code, dt.date(2026, 3, 1), 7)
    text = encode_id(LINES, values)
    assert text.count("|") == 2
    assert "/" not in text
    assert decode_id(LINES, text) == values


def test_documented_examples() -> None:
    assert encode_id(LINES, ("FR|1", dt.date(2026, 1, 2), 7)) == "FR%7C1|2026-01-02|7"
    assert encode_id(COLLECTIONS["things"], (42,)) == "42"
    assert decode_id(COLLECTIONS["things"], "42") == (42,)


@pytest.mark.parametrize("text", ["a|2026-01-01", "a|2026-01-01|x", "a|not-a-date|1", "a|b|c|d"])
def test_ids_that_cannot_be_are_not_found(text: str) -> None:
    with pytest.raises(NotFoundError):
        decode_id(LINES, text)


def test_integer_id_rejects_text() -> None:
    with pytest.raises(NotFoundError, match="no record 'abc' in things"):
        decode_id(COLLECTIONS["things"], "abc")
