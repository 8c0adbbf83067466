"""The Desk: configuration, the registry of collections, and the ASGI application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from actiondesk.data.collections import ModelSource
from actiondesk.data.datasource import Datasource
from actiondesk.errors import ConfigurationError
from actiondesk.http.errors import error_response
from actiondesk.services.records import RecordsService
from actiondesk.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("actiondesk")


class Desk:
    """An admin panel over one database.

    ``Desk`` is itself an ASGI application: run it with ``actiondesk serve module:desk`` or
    any ASGI server, or mount it in a FastAPI/Starlette app (``app.mount("/admin", desk)``).
    Collections are loaded on start-up (or on the first request when mounted, since mounted
    apps do not receive lifespan events).

    Settings not given here are read from ``ACTIONDESK_*`` environment variables.
    """

    def __init__(
        self,
        database_url: str | None = None,
        state_url: str | None = None,
        secret_key: str | None = None,
        *,
        models: Sequence[ModelSource] = (),
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        relationship_names: Mapping[str, str] | None = None,
        schema: str | None = None,
        title: str | None = None,
        default_page_size: int | None = None,
        max_page_size: int | None = None,
        template_dirs: Sequence[str | Path] = (),
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = Settings.resolve(
            database_url=database_url,
            state_url=state_url,
            secret_key=secret_key,
            title=title,
            default_page_size=default_page_size,
            max_page_size=max_page_size,
        )
        self.datasource = Datasource(
            self.settings.database_url,
            models=models,
            include=include,
            exclude=exclude,
            relationship_names=relationship_names,
            schema=schema,
            engine_options=engine_options,
        )
        self.records = RecordsService(
            self.datasource,
            default_page_size=self.settings.default_page_size,
            max_page_size=self.settings.max_page_size,
        )
        self.template_dirs = tuple(str(d) for d in template_dirs)
        self._app: FastAPI | None = None
        self._started = False
        self._start_lock = asyncio.Lock()

    @property
    def app(self) -> FastAPI:
        """The FastAPI application (built once, on first use)."""
        if self._app is None:
            from actiondesk.http.app import build_app

            self._app = build_app(self)
        return self._app

    async def start(self) -> None:
        """Connect to the database and load the collections (once)."""
        async with self._start_lock:
            if self._started:
                return
            await self.datasource.connect()
            self._started = True

    async def stop(self) -> None:
        await self.datasource.close()
        self._started = False

    async def check(self) -> list[str]:
        """Every configuration problem found, without raising; empty when all is well."""
        try:
            await self.datasource.connect()
        except ConfigurationError as exc:
            return list(exc.problems)
        finally:
            await self.datasource.close()
        return []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if not self._started:
            try:
                await self.start()
            except ConfigurationError as exc:
                log.error("actiondesk cannot start: %s", exc)
                if scope["type"] == "http":
                    response = error_response(503, "actiondesk cannot start", detail=str(exc))
                    await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except ConfigurationError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
