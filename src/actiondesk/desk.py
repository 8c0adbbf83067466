"""The Desk: configuration, the registry of collections, and the ASGI application."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from actiondesk.actions.forms import FormField
from actiondesk.actions.registry import ActionRegistry
from actiondesk.actions.spec import Action, Combine, EnabledIf, Handler, make_action
from actiondesk.actions.spec import Scope as ActionScope
from actiondesk.activity.service import ActivityService
from actiondesk.approvals.workflow import ApprovalsService
from actiondesk.background.config import RunnerConfig
from actiondesk.background.service import BackgroundRuns
from actiondesk.catalog.forms import Forms
from actiondesk.catalog.listing import Catalog
from actiondesk.data.collections import ModelSource
from actiondesk.data.datasource import Datasource
from actiondesk.data.display import CollectionDisplay, FieldDisplay
from actiondesk.data.state import StateStore
from actiondesk.editing import Editing, record_actions
from actiondesk.editing.options import editing_of, problems_of
from actiondesk.errors import ConfigurationError
from actiondesk.execution.pipeline import ExecutionPipeline
from actiondesk.exports.service import ExportService
from actiondesk.http.app import ExecuteFirst, build_app
from actiondesk.http.dependencies import Services
from actiondesk.http.middleware.body_limit import BodyLimit
from actiondesk.http.middleware.errors import error_response
from actiondesk.http.middleware.security_headers import SecurityHeaders, security_headers
from actiondesk.notifications.service import NotificationsService, NotifyConfig
from actiondesk.permissions.service import PermissionsService
from actiondesk.remote.calls import endpoint_handler
from actiondesk.remote.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_TIMEOUT,
    RemoteProvider,
)
from actiondesk.remote.service import EndpointSource, RemoteService
from actiondesk.runs.executor import Executor
from actiondesk.runs.store import RunsService
from actiondesk.selections.resolve import SelectionResolver
from actiondesk.services.audit import AuditService
from actiondesk.services.records import RecordsService
from actiondesk.services.tokens import TokenService
from actiondesk.services.users import UsersService
from actiondesk.settings import Settings
from actiondesk.views.model import code_view
from actiondesk.views.service import ViewsService

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("actiondesk")


class Desk:
    """An admin panel over one database.

    ``Desk`` is itself an ASGI application: run it with ``actiondesk serve module:desk`` or
    any ASGI server, or mount it in a FastAPI/Starlette app (``app.mount("/admin", desk)``).
    Collections are loaded on start-up (or on the first request when mounted, since mounted
    apps do not receive lifespan events).

    Every setting of ``Settings`` (``database_url``, ``secret_key``, ``dev_mode``, ``runner``...,
    see README's "Settings") is given by name, ``Desk(database_url=..., dev_mode=True)``, or as
    one object, ``Desk(settings=Settings(...))``; a setting not given is read from its
    ``ACTIONDESK_*`` environment variable. An unknown setting or a bad value fails here, with
    ``ConfigurationError``. The other arguments are code: ``models``, ``include``, ``exclude``,
    ``relationship_names``, ``schema`` (what to show), ``template_dirs``, ``engine_options``,
    and ``collections``: which collections get the built-in record actions (edit, create,
    delete) and on which fields, ``{"orders": Editing(...)}`` (as ``desk.collection``).
    Every API request needs a signed-in user (session cookie with CSRF, or a bearer token).
    """

    def __init__(
        self,
        *,
        models: Sequence[ModelSource] = (),
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        relationship_names: Mapping[str, str] | None = None,
        schema: str | None = None,
        template_dirs: Sequence[str | Path] = (),
        engine_options: Mapping[str, Any] | None = None,
        collections: Mapping[str, Editing | Mapping[str, Any]] | None = None,
        settings: Settings | None = None,
        **setting_values: Any,
    ) -> None:
        self.settings = _settings_of(settings, setting_values)
        runner_config = RunnerConfig(self.settings.runner, self.settings.runner_concurrency,
                                     self.settings.run_lease)
        self.datasource = Datasource(
            self.settings.database_url,
            models=models,
            include=include,
            exclude=exclude,
            relationship_names=relationship_names,
            schema=schema,
            engine_options=engine_options,
            max_connections=self.settings.db_max_connections,
        )
        self.records = RecordsService(
            self.datasource,
            default_page_size=self.settings.default_page_size,
            max_page_size=self.settings.max_page_size,
        )
        self.state = StateStore(
            self.settings.state_url,
            async_driver="psycopg" if runner_config.runner == "procrastinate" else None,
            sqlite_synchronous=self.settings.state_sqlite_synchronous,
            max_connections=self.settings.db_max_connections,
        )
        self.runs = RunsService(self.state, lease=runner_config.lease)
        self.users = UsersService(self.state)
        self.audit = AuditService(self.state)
        self.permissions = PermissionsService(self.state, dev_mode=self.settings.dev_mode)
        self.tokens = TokenService(
            self.settings.secret_key,
            external_secret=self.settings.external_identity_secret,
        )
        self.registry = ActionRegistry()
        self.selections = SelectionResolver(self.datasource)
        self.catalog = Catalog(self.registry, self.datasource, self.selections)
        self.forms = Forms(self.catalog)
        self.executor = Executor(self.datasource, self.runs)
        self.background = BackgroundRuns(self.registry, self.selections, self.executor,
                                         self.state, runner_config)
        self.approvals = ApprovalsService(
            self.state, self.datasource, self.registry, self.executor, self.background,
            ttl=self.settings.approval_ttl,
        )
        self.actions = ExecutionPipeline(self.catalog, self.forms, self.executor,
                                         self.approvals, self.background)
        self.activity = ActivityService(self.state, self.selections)
        self.notifications = NotificationsService(self.state, self.permissions, NotifyConfig(
            smtp_url=self.settings.notify_smtp_url, email_from=self.settings.notify_email_from,
            webhook_url=self.settings.notify_webhook_url,
            webhook_secret=self.settings.notify_webhook_secret,
            timeout=self.settings.notify_timeout, public_url=self.settings.public_url,
        ))
        self.approvals.on_news(self.notifications.tell)
        self.exports = ExportService(self.records, self.runs)
        self.views = ViewsService(self.state, self.datasource,
                                  max_page_size=self.settings.max_page_size)
        self.remote = RemoteService(self.registry, self.datasource, self.state,
                                    refresh_interval=self.settings.remote_refresh_interval)
        self._env_providers = {p.name for p in self.settings.remote_providers}
        for provider in self.settings.remote_providers:
            self.remote.add_provider(provider)
        self.template_dirs = tuple(str(d) for d in template_dirs)
        self.editing: dict[str, Editing] = {
            name: editing_of(options) for name, options in (collections or {}).items()
        }
        self._app: FastAPI | None = None
        self._entry: ExecuteFirst | None = None
        self._started = False
        self._start_lock = asyncio.Lock()
        # Every answer, the desk's own 503 included, carries the security headers.
        self._asgi = SecurityHeaders(
            BodyLimit(self._serve, self.settings.max_body_bytes),
            security_headers(connect_src=self.settings.webhook_origins),
        )

    @property
    def app(self) -> FastAPI:
        """The FastAPI application (built once, on first use)."""
        if self._app is None:
            self._app = build_app(self.services)
        return self._app

    @property
    def entry(self) -> ExecuteFirst:
        """Where a request enters the app (the execute routes first)."""
        if self._entry is None or self._entry.app is not self.app:
            self._entry = ExecuteFirst(self.app)
        return self._entry

    @property
    def services(self) -> Services:
        """What the HTTP layer's routes use."""
        return Services(
            settings=self.settings, datasource=self.datasource, registry=self.registry,
            records=self.records, catalog=self.catalog, forms=self.forms, actions=self.actions,
            runs=self.runs, background=self.background, approvals=self.approvals,
            permissions=self.permissions, users=self.users, tokens=self.tokens,
            audit=self.audit, remote=self.remote, activity=self.activity,
            notifications=self.notifications, exports=self.exports, views=self.views,
            template_dirs=self.template_dirs,
        )

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
        background: bool = False,
        background_above: int | None = None,
        parallel: bool = False,
        partitions: int | None = None,
        combine: Combine | None = None,
        max_parallel: int | None = None,
    ) -> Callable[[Handler], Action]:
        """Declare an action; the decorated function is its handler.

        ``scope`` is ``single`` (default with a collection), ``bulk`` or ``global`` (default
        without one). ``enabled_if`` is a filter on the record (``Condition(...)``, a filter
        dict) or a function of the record; ``disabled_reason`` is what users are told when
        it does not hold. ``background=True`` queues every run for a runner (execute answers
        202 with the run), ``background_above=N`` only runs on more than N records.
        ``parallel=True`` (one partition per 100,000 records) or ``partitions=N`` split a
        background run into key-range partitions run by any number of workers, at most
        ``max_parallel`` at once, their results merged by ``combine``. The decorator returns
        the frozen ``Action`` spec.
        """

        def register(handler: Handler) -> Action:
            spec = make_action(
                handler, collection=collection, name=name, slug=slug, scope=scope,
                description=description, submit_label=submit_label, form=form,
                download=download, enabled_if=enabled_if, disabled_reason=disabled_reason,
                background=background, background_above=background_above,
                parallel=parallel, partitions=partitions, combine=combine,
                max_parallel=max_parallel,
            )
            self.add_action(spec)
            return spec

        return register

    def display(
        self,
        collection: str,
        *,
        label: str | None = None,
        description: str | None = None,
        record_label: str | None = None,
        fields: Mapping[str, FieldDisplay] | None = None,
    ) -> CollectionDisplay:
        """Declare how a collection reads: ``record_label`` (a field, or a template such as
        ``"{firstname} {lastname}"``) names its records wherever they appear, references
        included; ``fields`` give labels, descriptions, formats and enum labels
        (``FieldDisplay``). Anything not declared has a default. A mistake (an unknown field,
        a money format without currency) raises ``DisplayError`` here, or on start for
        reflected tables. Returns the frozen ``CollectionDisplay``."""
        spec = CollectionDisplay(collection, label=label, description=description,
                                 record_label=record_label, fields=fields or {})
        self.datasource.add_display(spec)
        return spec

    def remote_provider(
        self,
        name: str,
        *,
        url: str,
        secret: str,
        timeout: float = DEFAULT_TIMEOUT,
        collections: Mapping[str, str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        discover: bool = True,
        signed_answers: bool = True,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> RemoteProvider:
        """Declare a service whose actions this desk lists and runs (see
        docs/remote-actions.md). ``collections`` maps its model names to collections;
        ``discover=False`` for a provider used only by ``endpoint_action``. A provider of
        the same name from the environment is replaced."""
        provider = RemoteProvider(
            name=name, url=url, secret=secret, timeout=timeout,
            collections=collections or {}, batch_size=batch_size, discover=discover,
            signed_answers=signed_answers, max_answer_bytes=max_answer_bytes,
        )
        self.remote.add_provider(provider, replace=name in self._env_providers)
        self._env_providers.discard(name)
        return provider

    def endpoint_action(
        self,
        collection: str | None = None,
        *,
        name: str,
        endpoint: str,
        provider: str,
        http_method: str = "POST",
        slug: str | None = None,
        scope: ActionScope | str | None = None,
        description: str | None = None,
        submit_label: str | None = None,
        form: Sequence[FormField] = (),
        download: bool = False,
        enabled_if: EnabledIf | Mapping[str, Any] = None,
        disabled_reason: str | None = None,
    ) -> Action:
        """Declare an action run at an HTTP endpoint, as Forest's ``endpoint`` and
        ``httpMethod``: after every check here, its JSON:API request is sent, signed with
        ``provider``'s secret, to ``endpoint`` (a path on the provider's host, or a URL) and
        the answer is the action's result."""
        method = http_method.upper()
        if method not in ("POST", "PUT", "PATCH", "DELETE", "GET"):
            raise ConfigurationError(
                f"action {name!r}: http_method {http_method!r} is not one of POST, PUT, "
                "PATCH, DELETE, GET"
            )
        if not endpoint.startswith(("/", "http://", "https://")):
            raise ConfigurationError(
                f"action {name!r}: endpoint {endpoint!r} must be a path (/...) or an http(s) URL"
            )
        handler = endpoint_handler(lambda: self.remote.client(provider), endpoint, method)
        spec = make_action(
            handler, collection=collection, name=name, slug=slug, scope=scope,
            description=description, submit_label=submit_label, form=form,
            download=download, enabled_if=enabled_if, disabled_reason=disabled_reason,
        )
        spec = dataclasses.replace(spec, source=EndpointSource(provider))
        self.remote.endpoint_providers[spec.name] = provider
        self.add_action(spec)
        return spec

    def collection(self, name: str, **options: Any) -> Editing:
        """Give a collection the built-in record actions: *Edit* (``edit``, and ``bulk-edit``
        "set a field" on a selection), *New* (``create``) and *Delete* (``delete``), on the
        fields ``options`` allow (see ``Editing``). They are actions like any other: listed,
        permitted per role, approved, audited. Checked against the schema on start-up."""
        editing = editing_of(options)
        self.editing[name] = editing
        return editing

    def _editing_problems(self) -> list[str]:
        collections = self.datasource.collections
        problems = []
        for name, options in self.editing.items():
            if name not in collections:
                problems.append(f"collections: unknown collection {name!r} (known: "
                                f"{', '.join(sorted(collections)) or 'none'})")
            else:
                problems.extend(problems_of(name, options, collections[name]))
        return problems

    def _add_record_actions(self) -> None:
        collections = self.datasource.collections
        for name, options in self.editing.items():
            for spec in record_actions(collections[name], options, collections):
                # Added again on a restart; a declared action of the same slug is an error.
                known = {a.slug: a for a in self.registry.for_collection(name)}
                if spec.slug in known and known[spec.slug].builtin:
                    self.registry.remove(name, spec.slug)
                self.registry.add(spec, collections)

    def view(
        self,
        collection: str,
        name: str,
        *,
        filter: Mapping[str, Any] | None = None,
        search: str | None = None,
        sort: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        page_size: int | None = None,
        roles: Sequence[str] | None = None,
    ) -> None:
        """Declare a saved view of ``collection``, listed under it in the sidebar for every
        role that reads it (or only ``roles``): a filter (the filter language, as a dict), a
        search, a sort (``"-capital,name"`` or a list), columns and a page size. Checked
        against the collection when the desk starts; nobody can change it from the UI."""
        self.views.declare(code_view(collection, name, filter=filter, search=search, sort=sort,
                                     columns=columns, page_size=page_size, roles=roles))

    def add_action(self, action: Action) -> None:
        """Register an action spec (what ``@desk.action`` does)."""
        self.registry.add(action, self.datasource.declared_collections())

    async def start(self, *, runner: bool = False) -> None:
        """Connect to the database, load the collections, check the actions and bring the
        state database up to date (once). With ``runner`` (serving, ``actiondesk worker``),
        also start the runner of background runs."""
        async with self._start_lock:
            if self._started:
                if runner:
                    await self.background.start()
                return
            await self.datasource.connect()
            problems = self.registry.check(self.datasource.collections)
            problems.extend(self.views.check_declared())
            problems.extend(self.remote.problems())
            problems.extend(self._editing_problems())
            if problems:
                raise ConfigurationError("; ".join(problems), problems)
            self._add_record_actions()
            await self.state.start()
            await self.remote.start()
            if runner:
                await self.background.start()
            self._started = True

    async def stop(self) -> None:
        await self.notifications.drain()
        await self.background.stop()
        await self.remote.stop()
        await self.datasource.close()
        await self.state.close()
        self._started = False

    async def check(self) -> list[str]:
        """Every configuration problem found, without raising; empty when all is well."""
        problems: list[str] = []
        try:
            await self.datasource.connect()
            problems.extend(self.registry.check(self.datasource.collections))
            problems.extend(self._editing_problems())
            problems.extend(self.views.check_declared())
            problems.extend(await self.remote.check())
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
                await self.start(runner=True)
            except ConfigurationError as exc:
                log.error("actiondesk cannot start: %s", exc)
                if scope["type"] == "http":
                    response = error_response(503, "actiondesk cannot start", detail=str(exc))
                    await response(scope, receive, send)
                return
        await self.entry(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start(runner=True)
                except ConfigurationError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _settings_of(settings: Settings | None, values: dict[str, Any]) -> Settings:
    if settings is None:
        return Settings(**values)
    if not isinstance(settings, Settings):
        raise ConfigurationError(
            f"settings must be an actiondesk Settings, not a {type(settings).__name__}")
    if values:
        raise ConfigurationError(
            f"give the settings either as settings=Settings(...) or by name ({', '.join(values)}"
            "=...), not both")
    return settings
