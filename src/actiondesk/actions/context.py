"""The context a handler or a dynamic form property receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actiondesk.actions.caller import Caller, ParentContext

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    from actiondesk.actions.batches import BatchCursor, RunControl
    from actiondesk.actions.results import Result
    from actiondesk.actions.selection import Selection
    from actiondesk.actions.spec import Action
    from actiondesk.data.schema import Collection

__all__ = ["ActionContext", "Caller", "FormContext", "ParentContext"]


@dataclass(frozen=True)
class FormContext:
    """What a dynamic form property is computed from."""

    caller: Caller
    action: Action
    collection: Collection | None
    selection: Selection | None
    values: Mapping[str, Any]
    changed_field: str | None = None
    parent: ParentContext | None = None


@dataclass(frozen=True)
class ActionContext:
    """What a handler receives.

    ``db`` is the user's database: an ``AsyncEngine`` for ``async def`` handlers and a sync
    ``Engine`` for ``def`` handlers (which run in a worker thread).
    """

    caller: Caller
    action: Action
    collection: Collection | None
    selection: Selection | None
    values: Mapping[str, Any]
    parent: ParentContext | None
    db: AsyncEngine | Engine
    run_id: str
    # Set for a background run: its checkpoint, progress, lease and cancellation.
    control: RunControl | None = field(default=None, repr=False, compare=False)
    _cursors: list[BatchCursor] = field(default_factory=list, init=False, repr=False,
                                        compare=False)

    def batches(self, size: int = 1000, *, rows: bool = True) -> BatchCursor:
        """The selection in checkpointed batches, one transaction each (``async for batch in
        ctx.batches(size=1000)``); ``rows=False`` gives set-based handlers key ranges
        without reading the records. See ``actiondesk.actions.batches``."""
        from sqlalchemy.ext.asyncio import AsyncEngine

        from actiondesk.actions.batches import BatchCursor

        if self.selection is None:
            raise TypeError("a global action has no selection to walk in batches")
        if not isinstance(self.db, AsyncEngine):
            raise TypeError("ctx.batches() is for async def handlers; a sync handler walks "
                            "ctx.selection.batches_sync(ctx.db)")
        cursor = BatchCursor(self.selection, self.db, size, rows=rows, control=self.control)
        self._cursors.append(cursor)
        return cursor

    async def progress(self, done: int, total: int | None = None) -> None:
        """Report how many records are done (for handlers that do not use ``batches``);
        shown by the runs API of a background run, ignored otherwise."""
        if self.control is not None:
            await self.control.report(done, total)

    async def finish_batches(self, ok: bool) -> None:
        """Commit (``ok``) or roll back the batch a handler still holds (called for it)."""
        for cursor in self._cursors:
            await cursor.close(ok)

    async def call(self, handler: Any) -> Any:
        """Await an async handler on this context, then commit the batch it still holds
        (roll it back when the handler raised)."""
        try:
            result = await handler(self)
        except BaseException:
            await self.finish_batches(ok=False)
            raise
        await self.finish_batches(ok=True)
        return result

    async def run_handler(self) -> Result:
        """The action's handler run on this context: awaited when async, in a worker thread
        when sync (so it cannot block the event loop)."""
        import anyio.to_thread

        if self.action.is_async:
            result: Result = await self.call(self.action.handler)
            return result
        return await anyio.to_thread.run_sync(self.action.handler, self)  # type: ignore[arg-type]

    @property
    def async_db(self) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import AsyncEngine

        if not isinstance(self.db, AsyncEngine):
            raise TypeError("this handler is sync: use ctx.db, a sqlalchemy Engine")
        return self.db

    @property
    def sync_db(self) -> Engine:
        from sqlalchemy import Engine

        if not isinstance(self.db, Engine):
            raise TypeError("this handler is async: use ctx.db, an AsyncEngine")
        return self.db
