"""The permission version stamp, read fresh for every request: how a process-local cache (the
permission snapshot, the users and revoked tokens cached per version) learns that another
process changed what it caches.

Every change of roles, policies, settings, users or sessions bumps one row of
``actiondesk_meta`` in the transaction that makes it (``permissions.store.bump``). A process
compares that stamp with its cache's before it answers: a change committed before a request
arrives is seen by that request, whichever process made it. What the read costs:

- A SQLite state file: one primary-key read on the event loop's thread (``InlineSqlite``: no
  hand-off to a driver thread, never waiting for a lock), a few microseconds.
- Other databases, or a SQLite file whose lock is held at that instant: one read shared by
  the requests that ask at the same time (``FreshRead``: each gets a read begun after it
  asked), so N concurrent requests cost about two reads, not N.

A cache of anything else that must follow changes made by other processes keys itself on
``current()`` the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

from actiondesk.data.driver_statements import sqlite_scalar
from actiondesk.data.inline_sqlite import Busy
from actiondesk.data.request_batching import FreshRead
from actiondesk.data.state import StateStore, meta_table
from actiondesk.permissions.store import as_int, is_stamp

_READ_STAMP = sa.select(meta_table.c.value).where(is_stamp())


class PermissionStamp:
    """``current()``: the stamp as committed when it was asked for."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._shared = FreshRead(self._read)

    async def current(self) -> int:
        inline = self.store.inline
        if inline is not None:
            try:
                return as_int(inline.read(lambda conn: sqlite_scalar(conn, _READ_STAMP)))
            except Busy:
                pass
        return await self._shared()

    async def _read(self) -> int:
        direct = self.store.direct
        if direct is not None:
            row = await direct.first(_READ_STAMP)
            return as_int(row[0] if row else None)
        async with self.store.read() as conn:
            return as_int(await conn.scalar(_READ_STAMP))
