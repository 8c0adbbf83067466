"""Schemathesis hooks of ``fuzz_api.py`` (loaded through ``SCHEMATHESIS_HOOKS``): every
generated request is sent with a fresh bearer token of the fuzzing caller.

The token is minted for the user's current session version, read from the state database
before each request: the fuzzer is free to change that user's password through the settings
API (which ends their tokens, as it should) without losing the rest of the run.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import schemathesis
import sqlalchemy as sa

from actiondesk.data.state_access import users_table
from actiondesk.data.urls import to_sync_url
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
