"""The desk's remote providers: their action lists, kept in the registry as normal actions.

Lists are fetched at start-up, on demand (``POST /api/settings/remote/refresh``,
``actiondesk remote refresh``) and every ``remote_refresh_interval`` seconds. The last list
received from each provider is kept in the state database (``actiondesk_meta``), so a
provider that is down keeps its last known actions, marked stale, across restarts; and every
server process picks up a list another process (or the CLI) fetched within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from actiondesk.data.state import meta_table
from actiondesk.errors import ConfigurationError, UpstreamError
from actiondesk.remote.calls import message_handler
from actiondesk.remote.client import ProviderClient
from actiondesk.remote.config import RemoteProvider
from actiondesk.remote.declarations import (
    Skipped,
    Target,
    declarations_of,
    read_declarations,
)
from actiondesk.remote.protocol import GET_ACTION_LIST, decode_json

if TYPE_CHECKING:
    from actiondesk.actions.registry import ActionRegistry
    from actiondesk.data.datasource import Datasource
    from actiondesk.data.state import StateStore

log = logging.getLogger("actiondesk.remote")

TICK_SECONDS = 5.0
_LIST_KEY = "remote_actions:"
_VERSION_KEY = "remote_actions_version"
_m = meta_table.c


class ProviderState:
    """One provider: its configuration, connection, and the action list in use."""

    def __init__(self, config: RemoteProvider) -> None:
        self.config = config
        self.client = ProviderClient(config)
        self.keys: list[tuple[str | None, str]] = []
        self.raw: list[Any] | None = None
        self.skipped: list[Skipped] = []
        self.fetched_at: dt.datetime | None = None
        self.checked_at: dt.datetime | None = None
        self.error: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def stale(self) -> bool:
        return self.error is not None

    def to_json(self) -> dict[str, Any]:
        """What an action from this provider shows of it (``ActionSource``)."""
        return {"provider": self.name, "stale": self.stale}

    def status(self) -> str:
        if not self.config.discover:
            return "endpoints-only"
        if self.raw is None:
            return "unavailable" if self.checked_at else "not-fetched"
        return "stale" if self.stale else "ok"

    def status_json(self, registry: ActionRegistry) -> dict[str, Any]:
        actions = []
        for collection, slug in self.keys:
            with contextlib.suppress(Exception):
                spec = registry.get(collection, slug)
                actions.append({"slug": spec.slug, "name": spec.name,
                                "collection": spec.collection, "scope": spec.scope.value})
        return {
            **self.config.to_json(),
            "status": self.status(),
            "stale": self.stale,
            "fetched_at": _iso(self.fetched_at),
            "checked_at": _iso(self.checked_at),
            "error": self.error,
            "actions": actions,
            "skipped": [s.to_json() for s in self.skipped],
        }


class EndpointSource:
    """What an endpoint action shows of where it runs (``ActionSource``)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "endpoint": True, "stale": False}


class RemoteService:
    def __init__(
        self,
        registry: ActionRegistry,
        datasource: Datasource,
        store: StateStore,
        *,
        refresh_interval: float,
    ) -> None:
        self.registry = registry
        self.datasource = datasource
        self.store = store
        self.refresh_interval = refresh_interval
        self.providers: dict[str, ProviderState] = {}
        self.endpoint_providers: dict[str, str] = {}  # action name -> provider it needs
        self._task: asyncio.Task[None] | None = None
        self._version: int | None = None
        self._lock = asyncio.Lock()
        self.tick = TICK_SECONDS

    # -- configuration ------------------------------------------------------------------------

    def add_provider(self, config: RemoteProvider, *, replace: bool = False) -> None:
        if config.name in self.providers and not replace:
            raise ConfigurationError(
                f"remote provider {config.name!r} is declared twice; give one another name"
            )
        self.providers[config.name] = ProviderState(config)

    def client(self, name: str) -> ProviderClient:
        state = self.providers.get(name)
        if state is None:
            raise UpstreamError(f"no remote provider named {name!r} is configured")
        return state.client

    def problems(self) -> list[str]:
        """Endpoint actions naming a provider that is not configured."""
        known = ", ".join(sorted(self.providers)) or "none"
        return [
            f"action {action!r}: unknown remote provider {name!r} (configured: {known})"
            for action, name in self.endpoint_providers.items() if name not in self.providers
        ]

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Fetch every list (a provider that cannot answer gets its stored list, stale), then
        keep them fresh in the background."""
        self._version = await self._read_version()
        await self.refresh()
        if self._task is None and any(s.config.discover for s in self.providers.values()):
            self._task = asyncio.create_task(self._keep_fresh(), name="actiondesk-remote")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for state in self.providers.values():
            await state.client.close()

    async def check(self) -> list[str]:
        """Every problem with the providers: unreachable, or declarations skipped."""
        problems = self.problems()
        try:
            for state in self.providers.values():
                if not state.config.discover:
                    continue
                await self._refresh_one(state, persist=False)
                where = f"remote provider {state.name!r}"
                if state.error:
                    problems.append(f"{where}: {state.error}")
                problems.extend(f"{where}: {skipped}" for skipped in state.skipped)
        finally:
            for state in self.providers.values():
                await state.client.close()
        return problems

    # -- refreshing ---------------------------------------------------------------------------

    async def refresh(self, name: str | None = None, *, persist: bool = True) -> None:
        """Fetch the lists of every provider (or one) now, in parallel; each within its
        timeout."""
        if name is not None and name not in self.providers:
            from actiondesk.errors import NotFoundError

            raise NotFoundError(f"no remote provider {name!r}",
                                fields={"provider": "unknown provider"})
        states = [s for s in self.providers.values()
                  if s.config.discover and (name is None or s.name == name)]
        async with self._lock:
            await asyncio.gather(*(self._refresh_one(s, persist=persist) for s in states))

    async def _refresh_one(self, state: ProviderState, *, persist: bool) -> None:
        state.checked_at = _now()
        try:
            answer = await state.client.message(GET_ACTION_LIST, {})
            if answer.status != 200:
                raise UpstreamError(f"{state.client.where} answered HTTP {answer.status} to "
                                    f"{GET_ACTION_LIST}")
            items = declarations_of(decode_json(answer, state.client.where))
        except (UpstreamError, ValueError) as exc:
            state.error = getattr(exc, "message", None) or str(exc)
            log.warning("remote provider %r: action list not refreshed: %s", state.name,
                        state.error)
            if state.raw is None and persist:
                await self._load_stored(state)
            return
        state.error = None
        changed = _canonical(items) != _canonical(state.raw)
        state.fetched_at = state.checked_at
        if changed or not state.keys:
            self._apply(state, items)
        if changed and persist:
            await self._store(state, items)

    def _apply(self, state: ProviderState, items: list[Any]) -> None:
        """Put a provider's actions in the registry in place of its previous ones."""
        provider = state.name

        def make_handler(target: Target) -> Any:
            return message_handler(lambda: self.client(provider), target)

        found, skipped = read_declarations(
            items, model_names=state.config.collections, make_handler=make_handler,
            source=state,
        )
        for collection, slug in state.keys:
            self.registry.remove(collection, slug)
        keys = []
        for index, action in found:
            try:
                self.registry.add(action, self.datasource.collections)
            except ConfigurationError as exc:
                skipped.append(Skipped(index, action.name, "; ".join(exc.problems)))
                continue
            keys.append((action.collection, action.slug))
        state.keys, state.raw = keys, items
        state.skipped = sorted(skipped, key=lambda s: s.index)
        for problem in state.skipped:
            log.warning("remote provider %r: %s", provider, problem)

    # -- the stored lists ---------------------------------------------------------------------

    async def _store(self, state: ProviderState, items: list[Any]) -> None:
        value = json.dumps({"fetched_at": _iso(state.fetched_at), "actions": items})
        try:
            async with self.store.write() as conn:
                await _put(conn, _LIST_KEY + state.name, value)
                version = _as_int(await conn.scalar(
                    sa.select(_m.value).where(_m.key == _VERSION_KEY).with_for_update()
                )) + 1
                await _put(conn, _VERSION_KEY, str(version))
            self._version = version
        except Exception:
            # The list is in use here; other processes get it at their own next refresh.
            log.exception("remote provider %r: could not store its action list", state.name)

    async def _load_stored(self, state: ProviderState) -> bool:
        async with self.store.read() as conn:
            value = await conn.scalar(sa.select(_m.value).where(_m.key == _LIST_KEY + state.name))
        if value is None:
            return False
        try:
            stored = json.loads(value)
            items = declarations_of(stored["actions"])
        except (ValueError, KeyError, TypeError):
            log.warning("remote provider %r: the stored action list is unreadable", state.name)
            return False
        if _canonical(items) == _canonical(state.raw):
            return True
        fetched = stored.get("fetched_at")
        state.fetched_at = dt.datetime.fromisoformat(fetched) if fetched else None
        self._apply(state, items)
        return True

    async def _read_version(self) -> int:
        async with self.store.read() as conn:
            return _as_int(await conn.scalar(sa.select(_m.value).where(_m.key == _VERSION_KEY)))

    async def _keep_fresh(self) -> None:
        """Every few seconds, take up lists stored by another process; every
        ``refresh_interval`` seconds (when not 0), fetch them again."""
        last_fetch = asyncio.get_running_loop().time()
        while True:
            interval = self.refresh_interval
            await asyncio.sleep(min(self.tick, interval) if interval > 0 else self.tick)
            try:
                version = await self._read_version()
                if version != self._version:
                    self._version = version
                    async with self._lock:
                        for state in self.providers.values():
                            if state.config.discover:
                                await self._load_stored(state)
                now = asyncio.get_running_loop().time()
                if interval > 0 and now - last_fetch >= interval:
                    last_fetch = now
                    await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("remote providers: background refresh failed; retrying")

    def status_json(self) -> list[dict[str, Any]]:
        return [state.status_json(self.registry) for state in self.providers.values()]


async def _put(conn: Any, key: str, value: str) -> None:
    done = await conn.execute(sa.update(meta_table).where(_m.key == key).values(value=value))
    if done.rowcount == 0:
        await conn.execute(sa.insert(meta_table).values(key=key, value=value))


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
