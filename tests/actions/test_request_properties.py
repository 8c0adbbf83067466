"""Properties of the execute/form request document (Forest's JSON:API): any JSON at all, and
any document of the right shape with hostile values, is either a request or a 4xx error of
the project naming the offending path; never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actiondesk.actions.document import ActionRequest, parse_action_request
from actiondesk.errors import ClientError
from tests.data.test_filter_properties import THINGS
from tests.strategies import JSON, TEXT, conditions

IDS = st.lists(st.one_of(TEXT, st.integers(), JSON), max_size=5)
FILTERS = st.one_of(conditions(THINGS), conditions(THINGS).map(json.dumps), JSON, TEXT)

ATTRIBUTES = st.fixed_dictionaries({}, optional={
    "collection_name": st.one_of(TEXT, JSON),
    "ids": st.one_of(IDS, JSON),
    "values": st.one_of(st.dictionaries(TEXT, JSON, max_size=3), JSON),
    "all_records": st.one_of(st.booleans(), JSON),
    "all_records_subset_query": st.one_of(
        st.fixed_dictionaries({}, optional={
            "filters": FILTERS, "filter": FILTERS, "search": st.one_of(TEXT, JSON),
            "timezone": TEXT, "fields[companies]": TEXT, "page[size]": JSON,
            "sort": TEXT, "surprise": JSON,
        }),
        JSON,
    ),
    "all_records_ids_excluded": st.one_of(IDS, JSON),
    "parent_collection_name": st.one_of(TEXT, JSON),
    "parent_collection_id": st.one_of(TEXT, st.integers(), JSON),
    "parent_association_name": st.one_of(TEXT, JSON),
    "smart_action_id": st.one_of(TEXT, JSON),
    "changed_field": st.one_of(TEXT, JSON),
    "unexpected": JSON,
})
DOCUMENTS = st.one_of(
    JSON,
    st.fixed_dictionaries({"data": st.fixed_dictionaries(
        {"attributes": st.one_of(ATTRIBUTES, JSON)},
        optional={"type": st.one_of(st.just("custom-action-requests"), TEXT)},
    )}),
)


@settings(max_examples=500, deadline=None)
@given(document=DOCUMENTS)
def test_any_document_is_a_request_or_a_client_error(document: Any) -> None:
    try:
        request = parse_action_request(document)
    except ClientError as exc:
        assert 400 <= exc.status < 500 and exc.message
        if exc.fields:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in exc.fields.items())
        json.dumps(exc.to_json())  # the answer can be sent
        return
    assert isinstance(request, ActionRequest)
    assert all(isinstance(i, str) for i in request.ids + request.excluded_ids)
    assert len(set(request.ids)) == len(request.ids)
    for text in (request.collection_name, request.smart_action_id, request.changed_field,
                 request.search):
        assert text is None or isinstance(text, str)
