"""Parsing and validation of the filter language (SQL behaviour is tested over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from actiondesk import Condition, FilterError, Group, Operator, all_of, any_of, parse_filter
from actiondesk.data.collections import build_collections, tables_and_names
from actiondesk.data.filters import MAX_CONDITIONS, MAX_DEPTH, compile_filter

metadata = sa.MetaData()
sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("data", sa.JSON),
)
ITEMS = build_collections(*tables_and_names([metadata]), {}).collections["items"]


def test_condition_and_groups_parse_and_serialise_back() -> None:
    data = {
        "aggregator": "or",
        "conditions": [
            {"field": "id", "operator": "equal", "value": 1},
            {"aggregator": "and", "conditions": [{"field": "name", "operator": "blank"}]},
        ],
    }
    parsed = parse_filter(data)
    assert parsed == any_of(
        Condition("id", "equal", 1), all_of(Condition("name", "blank"))
    )
    assert isinstance(parsed, Group)
    assert parsed.to_json()["conditions"][1]["conditions"][0]["operator"] == "is_null"
    assert Condition("id", Operator.IN, [1, 2]).to_json() == {
        "field": "id", "operator": "in", "value": [1, 2],
    }


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "id", "operator": "equal", "value": 1}
    for _ in range(depth):
        node = {"aggregator": "and", "conditions": [node]}
    return node


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("status=live", "must be an object"),
        ([{"field": "id"}], "must be an object"),
        ({"aggregator": "and", "conditions": []}, "non-empty list"),
        ({"aggregator": "and"}, "non-empty list"),
        ({"aggregator": "nor", "conditions": [{}]}, "'and' or 'or'"),
        ({"operator": "equal", "value": 1}, "needs a 'field'"),
        ({"field": "id", "value": 1}, "needs an 'operator'"),
        ({"field": "id", "operator": "sounds_like", "value": 1}, "unknown filter operator"),
        ({"field": "id", "operator": "equal", "value": 1, "extra": 2}, "unknown key"),
        (nested(MAX_DEPTH + 1), "nested deeper"),
        (
            {"aggregator": "or", "conditions": [{"field": "id", "operator": "is_null"}]
             * (MAX_CONDITIONS + 1)},
            "at most",
        ),
    ],
)
def test_malformed_filters_say_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(data)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (Condition("nope", "equal", 1), "unknown field 'nope'"),
        (Condition("blob", "equal", "x"), "does not fit field 'blob'"),
        (Condition("data", "contains", "x"), "does not fit field 'data'"),
        (Condition("id", "in", list(range(1001))), "at most 1000"),
        (Condition("id", "in", "1,2"), "non-empty list"),
        (Condition("name", "contains", 3), "non-empty text"),
        (Condition("id", "equal", True), "whole number"),
        (Condition("id", "greater_than", None), "needs a value"),
    ],
)
def test_conditions_are_checked_against_the_collection(
    condition: Condition, message: str
) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filter(ITEMS, condition)


def test_blob_and_json_allow_null_tests() -> None:
    clause = compile_filter(ITEMS, all_of(Condition("blob", "is_null"),
                                          Condition("data", "present")))
    assert "items.blob IS NULL" in str(clause) and "items.data IS NOT NULL" in str(clause)
