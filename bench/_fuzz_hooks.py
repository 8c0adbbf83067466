"""Schemathesis hooks of ``fuzz_api.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

- Every generated request is sent with a fresh bearer token of the fuzzing caller, minted for
  the user's current session version (read from the state database before each request): the
  fuzzer may change that user's password through the settings API (which ends their tokens,
  as it should) without losing the rest of the run.
- Half of the generated action requests (form and execute) name a real demo action, with a
  selection of demo ids or a "select all" filter, and values drawn for the action's own form
  fields (tests/strategies.py): mostly of the field's type, sometimes anything. A schema alone
  rarely gets past the 404 of an unknown action or the 422 of unknown fields.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import Any

import schemathesis
import sqlalchemy as sa
from hypothesis import strategies as st
from tests.strategies import TEXT, filters, form_value

from actiondesk import Desk
from actiondesk.actions.spec import Action, Scope
from actiondesk.data.state_schema.access import users_table
from actiondesk.data.urls import to_sync_url
from actiondesk.demo.actions import register_demo_actions
from actiondesk.demo.models import DemoBase
from actiondesk.services.tokens import TokenService

STATE_URL = os.environ["ACTIONDESK_FUZZ_STATE_URL"]
EMAIL = os.environ["ACTIONDESK_FUZZ_EMAIL"]
SECRET = os.environ["ACTIONDESK_SECRET_KEY"]

_engine = sa.create_engine(to_sync_url(STATE_URL))
_tokens = TokenService(SECRET)


@dataclass(frozen=True)
class _Account:
    id: str
    session_version: int


@schemathesis.auth(refresh_interval=None)
class DeskToken:
    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        query = sa.select(users_table.c.id, users_table.c.session_version).where(
            users_table.c.email == EMAIL
        )
        with _engine.connect() as conn:
            row = conn.execute(query).one()
        account: Any = _Account(row.id, row.session_version)
        return _tokens.access(account, dt.timedelta(hours=1))

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# -- realistic action requests ---------------------------------------------------------------

_demo = Desk(database_url="sqlite://", state_url="sqlite://", secret_key=SECRET,
             models=[DemoBase])
register_demo_actions(_demo)
ACTIONS: list[Action] = list(_demo.registry.all())
COLLECTIONS = _demo.datasource.declared_collections() or {}
KNOWN_IDS = st.sampled_from(["1", "2", "3", "7", "42", "100", "250"])
RECORD_IDS = st.one_of(KNOWN_IDS, TEXT)


@st.composite
def _attributes(draw: st.DrawFn, action: Action) -> dict[str, Any]:
    # Half the time a request a careful operator would send, the rest anything goes.
    fit_only = draw(st.booleans())
    ids = KNOWN_IDS if fit_only else RECORD_IDS
    attributes: dict[str, Any] = {}
    if action.collection is not None:
        attributes["collection_name"] = action.collection
        if action.scope is not Scope.SINGLE and draw(st.integers(0, 3)) == 0:
            subset: dict[str, Any] = {}
            if draw(st.booleans()):
                subset["filters"] = json.dumps(draw(filters(COLLECTIONS[action.collection])))
            if draw(st.booleans()):
                subset["search"] = draw(TEXT)
            attributes.update(all_records=True, all_records_subset_query=subset,
                              all_records_ids_excluded=draw(st.lists(ids, max_size=2)))
        else:
            size = 1 if action.scope is Scope.SINGLE else draw(st.integers(1, 3))
            attributes["ids"] = draw(st.lists(ids, min_size=size, max_size=size))
    values = {}
    for spec in action.form:
        if fit_only or draw(st.integers(0, 4)):
            values[spec.name] = draw(form_value(spec, ids, fit_only=fit_only))
    attributes["values"] = values
    return attributes


@schemathesis.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> Any:
    operation = context.operation
    if operation is None or "/actions/{slug}" not in operation.path:
        return st.just(case)
    global_ = "{collection}" not in operation.path
    candidates = [a for a in ACTIONS if (a.collection is None) == global_]
    if not candidates:  # the demo has no action outside a collection
        return st.just(case)

    @st.composite
    def realistic(draw: st.DrawFn) -> schemathesis.Case:
        action = draw(st.sampled_from(candidates))
        parameters = {"slug": action.slug}
        if not global_:
            parameters["collection"] = str(action.collection)
        case.path_parameters = parameters
        case.body = {"data": {"type": "custom-action-requests",
                              "attributes": draw(_attributes(action))}}
        return case

    return st.one_of(st.just(case), realistic())
