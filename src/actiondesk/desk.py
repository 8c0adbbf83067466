"""The Desk: configuration, the registry of collections, and the ASGI application."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from actiondesk.actions.engine import ActionsService
from actiondesk.actions.forms import FormField
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.spec import Action, EnabledIf, Handler, make_action
from actiondesk.actions.spec import Scope as ActionScope
from actiondesk.data.collections import ModelSource
from actiondesk.data.datasource import Datasource
from actiondesk.data.state import StateStore
from actiondesk.errors import ConfigurationError
from actiondesk.http.body_limit import BodyLimit
from actiondesk.http.errors import error_response
from actiondesk.http.security_headers import SecurityHeaders
from actiondesk.services.approvals import ApprovalsService
from actiondesk.services.audit import AuditService
from actiondesk.services.permissions import PermissionsService
from actiondesk.services.records import RecordsService
from actiondesk.services.runs import RunsService
from actiondesk.services.tokens import TokenService
from actiondesk.services.users import UsersService
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
    Every API request needs a signed-in user (session cookie with CSRF, or a bearer token);
    ``dev_mode=True`` lets every signed-in user trigger every action, and is shown as such.
    ``external_identity_secret`` accepts JWTs signed by the host application instead.
    ``approval_ttl`` is how long an approval request waits before it expires (7 days).
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
        max_body_bytes: int | None = None,
        dev_mode: bool | None = None,
        external_identity_secret: str | None = None,
        template_dirs: Sequence[str | Path] = (),
        engine_options: Mapping[str, Any] | None = None,
        approval_ttl: dt.timedelta | None = None,
    ) -> None:
        self.settings = Settings.resolve(
            database_url=database_url,
            state_url=state_url,
            secret_key=secret_key,
            title=title,
            default_page_size=default_page_size,
            max_page_size=max_page_size,
            max_body_bytes=max_body_bytes,
            dev_mode=dev_mode,
            external_identity_secret=external_identity_secret,
            approval_ttl=approval_ttl,
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
        self.state = StateStore(self.settings.state_url)
        self.runs = RunsService(self.state)
        self.users = UsersService(self.state)
        self.audit = AuditService(self.state)
        self.permissions = PermissionsService(self.state, dev_mode=self.settings.dev_mode)
        self.tokens = TokenService(
            self.settings.secret_key,
            external_secret=self.settings.external_identity_secret,
        )
        self.registry = ActionRegistry()
        self.actions = ActionsService(self.registry, self.datasource, self.runs)
        self.approvals = ApprovalsService(
            self.state, self.datasource, self.runs, self.registry, actions=self.actions,
            ttl=self.settings.approval_ttl,
        )
        self.actions.approvals = self.approvals
        self.template_dirs = tuple(str(d) for d in template_dirs)
        self._app: FastAPI | None = None
        self._started = False
        self._start_lock = asyncio.Lock()
        # Every answer, the desk's own 503 included, carries the security headers.
        self._asgi = SecurityHeaders(BodyLimit(self._serve, self.settings.max_body_bytes))

    @property
    def app(self) -> FastAPI:
        """The FastAPI application (built once, on first use)."""
        if self._app is None:
            from actiondesk.http.app import build_app

            self._app = build_app(self)
        return self._app

    def action(
        self,
        collection: str | None = None,
        *,
        name: str | None = None,
        slug: str | None = None,
        scope: ActionScope | str | None = None,
        description: str | None = None,
        submit_label: str | None = None,
        form: Sequence[FormField] = (),
        download: bool = False,
        enabled_if: EnabledIf | Mapping[str, Any] = None,
        disabled_reason: str | None = None,
    ) -> Callable[[Handler], Action]:
        """Declare an action; the decorated function is its handler.

        ``scope`` is ``single`` (default with a collection), ``bulk`` or ``global`` (default
        without one). ``enabled_if`` is a filter on the record (``Condition(...)``, a filter
        dict) or a function of the record; ``disabled_reason`` is what users are told when
        it does not hold. The decorator returns the frozen ``Action`` spec.
        """

        def register(handler: Handler) -> Action:
            spec = make_action(
                handler, collection=collection, name=name, slug=slug, scope=scope,
                description=description, submit_label=submit_label, form=form,
                download=download, enabled_if=enabled_if, disabled_reason=disabled_reason,
            )
            self.add_action(spec)
            return spec

        return register

    def add_action(self, action: Action) -> None:
        """Register an action spec (what ``@desk.action`` does)."""
        self.registry.add(action, self.datasource.declared_collections())

    async def start(self) -> None:
        """Connect to the database, load the collections, check the actions and bring the
        state database up to date (once)."""
        async with self._start_lock:
            if self._started:
                return
            await self.datasource.connect()
            problems = self.registry.check(self.datasource.collections)
            if problems:
                raise ConfigurationError("; ".join(problems), problems)
            await self.state.start()
            self._started = True

    async def stop(self) -> None:
        await self.datasource.close()
        await self.state.close()
        self._started = False

    async def check(self) -> list[str]:
        """Every configuration problem found, without raising; empty when all is well."""
        problems: list[str] = []
        try:
            await self.datasource.connect()
            problems.extend(self.registry.check(self.datasource.collections))
        except ConfigurationError as exc:
            problems.extend(exc.problems)
        finally:
            await self.datasource.close()
        try:
            await self.state.start()
        except ConfigurationError as exc:
            problems.extend(exc.problems)
        except Exception as exc:
            # The message of an unexpected error may hold the URL; name only its type.
            problems.append(
                f"the state database cannot be reached or migrated ({type(exc).__name__})"
            )
        finally:
            await self.state.close()
        return problems

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
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
