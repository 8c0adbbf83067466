"""Properties of the record id encoding: any primary key, composite or not, with any
characters, survives encode -> decode (and a URL path segment); any text at all decodes to a
key or a NotFoundError, never another exception."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import quote, unquote

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from actiondesk import NotFoundError, decode_id, encode_id
from actiondesk.data.collections import build_collections, tables_and_names
from tests.strategies import DATES, TEXT

metadata = sa.MetaData()
sa.Table("lines", metadata,
         sa.Column("code", sa.String(80), primary_key=True),
         sa.Column("day", sa.Date, primary_key=True),
         sa.Column("no", sa.Integer, primary_key=True, autoincrement=False),
         sa.Column("ref", sa.Uuid, primary_key=True))
sa.Table("notes", metadata, sa.Column("key", sa.String(80), primary_key=True))
sa.Table("counters", metadata, sa.Column("id", sa.BigInteger, primary_key=True))
COLLECTIONS = build_collections(*tables_and_names([metadata]), {}).collections
LINES, NOTES, COUNTERS = COLLECTIONS["lines"], COLLECTIONS["notes"], COLLECTIONS["counters"]
EXAMPLES = settings(max_examples=300, deadline=None)

KEY_TEXT = TEXT.filter(lambda t: "\x00" not in t)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@EXAMPLES
@given(code=KEY_TEXT, day=DATES, no=INT64, ref=st.uuids())
def test_composite_keys_round_trip(code: str, day: dt.date, no: int, ref: uuid.UUID) -> None:
    key = (code, day, no, ref)
    text = encode_id(LINES, key)
    assert text.count("|") == 3, text  # one separator per part, whatever the text holds
    assert "/" not in text
    assert decode_id(LINES, text) == key
    # In a URL path the id is one segment, percent-encoded once more.
    segment = quote(text, safe="")
    assert "/" not in segment and unquote(segment) == text


@EXAMPLES
@given(key=KEY_TEXT)
def test_single_text_keys_round_trip(key: str) -> None:
    assert decode_id(NOTES, encode_id(NOTES, (key,))) == (key,)


@EXAMPLES
@given(number=INT64)
def test_integer_keys_are_their_decimal_text(number: int) -> None:
    assert encode_id(COUNTERS, (number,)) == str(number)
    assert decode_id(COUNTERS, str(number)) == (number,)


@EXAMPLES
@given(text=st.one_of(TEXT, st.lists(TEXT, max_size=5).map("|".join)))
def test_any_text_is_a_key_or_not_found(text: str) -> None:
    for collection in (LINES, NOTES, COUNTERS):
        try:
            key = decode_id(collection, text)
        except NotFoundError as exc:
            assert exc.status == 404 and collection.name in exc.message
            continue
        assert len(key) == len(collection.primary_key)
        # What decodes encodes back to a text that decodes to the same key.
        assert decode_id(collection, encode_id(collection, key)) == key
