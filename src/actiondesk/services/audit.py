"""The audit of refused requests: malformed requests, failed sign-ins, bad tokens, CSRF
failures, forbidden reads, guessed names, oversized bodies, rate limits. Refused action
executions are recorded as runs; everything else lands here."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from actiondesk.data.state import StateStore
from actiondesk.data.state_schema.access import audit_events_table

_t = audit_events_table.c


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: dt.datetime
    kind: str
    caller_id: str | None
    caller_email: str | None
    method: str | None
    path: str | None
    address: str | None
    status_code: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at.isoformat(), "kind": self.kind,
            "caller_id": self.caller_id, "caller_email": self.caller_email,
            "method": self.method, "path": self.path, "address": self.address,
            "status_code": self.status_code, "reason": self.reason,
        }


class AuditService:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def record(
        self,
        *,
        kind: str,
        status_code: int,
        reason: str,
        caller_id: str | None = None,
        caller_email: str | None = None,
        method: str | None = None,
        path: str | None = None,
        address: str | None = None,
    ) -> str:
        event_id = uuid.uuid4().hex
        async with self.store.write() as conn:
            await conn.execute(
                audit_events_table.insert().values(
                    id=event_id, at=dt.datetime.now(dt.UTC), kind=kind[:40],
                    caller_id=caller_id[:200] if caller_id else None,
                    caller_email=caller_email[:320] if caller_email else None,
                    method=method, path=(path or "")[:2000] or None, address=address,
                    status_code=status_code, reason=reason.replace("\x00", "")[:5000],
                )
            )
        return event_id

    async def list(
        self, *, kind: str | None = None, path: str | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        query = sa.select(audit_events_table).order_by(_t.at.desc()).limit(min(limit, 1000))
        if kind:
            query = query.where(_t.kind == kind)
        if path:
            query = query.where(_t.path == path.replace("\x00", ""))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [AuditEvent(**dict(r)) for r in rows]
