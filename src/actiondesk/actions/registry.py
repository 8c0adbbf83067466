"""The registry of declared actions, per collection (None for global actions)."""

from __future__ import annotations

from collections.abc import Mapping

from actiondesk.actions.forms import FormFieldType
from actiondesk.actions.spec import Action
from actiondesk.data.filters import Condition, Group, compile_filter
from actiondesk.data.schema import Collection
from actiondesk.errors import ConcealedError, ConfigurationError, NotFoundError


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[tuple[str | None, str], Action] = {}

    def add(self, action: Action, known_collections: Mapping[str, Collection] | None) -> None:
        key = (action.collection, action.slug)
        if key in self._actions:
            where = f"collection {action.collection!r}" if action.collection else "global actions"
            raise ConfigurationError(
                f"action {action.name!r}: slug {action.slug!r} is already used in {where}; "
                "give one of them another name or slug="
            )
        if known_collections is not None:
            problems = problems_of(action, known_collections)
            if problems:
                raise ConfigurationError("; ".join(problems), problems)
        self._actions[key] = action

    def remove(self, collection: str | None, slug: str) -> None:
        """Forget an action (remote actions no longer listed by their provider)."""
        self._actions.pop((collection, slug), None)

    def all(self) -> list[Action]:
        return list(self._actions.values())

    def for_collection(self, collection: str | None) -> list[Action]:
        return [a for (c, _), a in self._actions.items() if c == collection]

    def get(self, collection: str | None, slug: str) -> Action:
        found = self._actions.get((collection, slug))
        if found is None:
            raise unknown_action(collection, slug)
        return found

    def check(self, collections: Mapping[str, Collection]) -> list[str]:
        """Problems of every action against the loaded collections."""
        return [p for a in self._actions.values() for p in problems_of(a, collections)]


def unknown_action(
    collection: str | None, slug: str, *, concealing: str | None = None
) -> NotFoundError:
    """The 404 for an unknown action; with ``concealing`` (the real reason), the same answer
    for one the caller may not see."""
    where = f"on {collection}" if collection else "among global actions"
    message = f"no action {slug!r} {where}"
    if concealing is not None:
        return ConcealedError(message, reason=concealing)
    return NotFoundError(message)


def problems_of(action: Action, collections: Mapping[str, Collection]) -> list[str]:
    where = f"action {action.name!r}"
    known = ", ".join(sorted(collections)) or "none"
    if action.collection is not None and action.collection not in collections:
        return [f"{where}: unknown collection {action.collection!r} (known: {known})"]
    problems = []
    for spec in action.form:
        if spec.type is FormFieldType.REFERENCE and spec.reference not in collections:
            problems.append(
                f"{where}: form field {spec.name!r} references unknown collection "
                f"{spec.reference!r} (known: {known})"
            )
    if isinstance(action.enabled_if, Condition | Group) and action.collection is not None:
        try:
            compile_filter(collections[action.collection], action.enabled_if)
        except Exception as exc:  # FilterError: say it as a configuration problem
            problems.append(f"{where}: enabled_if: {exc}")
    return problems
