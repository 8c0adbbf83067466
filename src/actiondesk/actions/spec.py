"""The action spec: one typed, frozen object per declared action."""

from __future__ import annotations

import enum
import inspect
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from actiondesk.actions.forms import FormField, check_form_field
from actiondesk.data.filters import Filter, parse_filter
from actiondesk.errors import ConfigurationError

if TYPE_CHECKING:
    from actiondesk.actions.context import ActionContext, FormContext
    from actiondesk.actions.results import Result

Handler: TypeAlias = Callable[["ActionContext"], "Awaitable[Result] | Result"]
RecordCondition: TypeAlias = Callable[[Mapping[str, Any]], bool]
EnabledIf: TypeAlias = Filter | RecordCondition | None
# Turns validated form values into the values the handler gets, before any approval
# (FormValidationError per field): the built-in record actions check and transform with it.
Prepare: TypeAlias = Callable[["FormContext", dict[str, Any]], Awaitable[dict[str, Any]]]


class ActionSource(Protocol):
    """Where an action declared elsewhere runs (a remote provider), shown with it."""

    def to_json(self) -> dict[str, Any]: ...


class Scope(enum.StrEnum):
    SINGLE = "single"
    BULK = "bulk"
    GLOBAL = "global"


def slugify(name: str) -> str:
    """``"Mark as Live"`` → ``"mark-as-live"``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Action:
    """A declared action. Build it with ``@desk.action(...)``; the decorator returns this."""

    name: str
    slug: str
    collection: str | None
    scope: Scope
    handler: Handler
    description: str | None = None
    submit_label: str | None = None
    form: tuple[FormField, ...] = ()
    download: bool = False
    enabled_if: EnabledIf = None
    disabled_reason: str | None = None
    # Set for actions that run in another service (see actiondesk.remote).
    source: ActionSource | None = None
    background: bool = False
    background_above: int | None = None
    # Set for the built-in record actions (see actiondesk.editing): edit, bulk-edit, ...
    builtin: str | None = None
    prepare: Prepare | None = None

    def runs_in_background(self, record_count: int | None) -> bool:
        """Whether a run on this many selected records is queued for a runner."""
        if self.background:
            return True
        return self.background_above is not None and (record_count or 0) > self.background_above

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)

    def form_field(self, name: str) -> FormField | None:
        return next((f for f in self.form if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "collection": self.collection,
            "scope": self.scope.value,
            "description": self.description,
            "submit_label": self.submit_label or self.name,
            "download": self.download,
            "has_form": bool(self.form),
            **({"remote": self.source.to_json()} if self.source is not None else {}),
            "background": self.background,
            "background_above": self.background_above,
            "builtin": self.builtin,
        }


def make_action(
    handler: Handler,
    *,
    collection: str | None,
    name: str | None,
    slug: str | None,
    scope: Scope | str | None,
    description: str | None,
    submit_label: str | None,
    form: Sequence[FormField],
    download: bool,
    enabled_if: EnabledIf | Mapping[str, Any],
    disabled_reason: str | None,
    background: bool = False,
    background_above: int | None = None,
) -> Action:
    """Check a declaration and build its spec; ConfigurationError says what to change."""
    label = name or handler.__name__.replace("_", " ").strip().capitalize()
    where = f"action {label!r}"
    problems: list[str] = []
    if scope is None:
        scope = Scope.SINGLE if collection else Scope.GLOBAL
    try:
        resolved_scope = Scope(scope)
    except ValueError:
        raise ConfigurationError(
            f"{where}: scope {scope!r} is not one of single, bulk, global"
        ) from None
    if resolved_scope is not Scope.GLOBAL and not collection:
        problems.append(
            f"a {resolved_scope.value} action needs a collection: "
            f"@desk.action('<collection>', scope='{resolved_scope.value}'), or use "
            "scope='global'"
        )
    final_slug = slug or slugify(label)
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", final_slug):
        problems.append(f"slug {final_slug!r} must be lowercase letters and digits joined by -")
    if not callable(handler):
        problems.append("the handler must be a function")
    fields = tuple(form)
    names = [f.name for f in fields if isinstance(f, FormField)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"form field names must be unique; repeated: {', '.join(duplicates)}")
    for spec in fields:
        if not isinstance(spec, FormField):
            problems.append(
                f"form items must be form fields (actiondesk.fields.String(...), ...), "
                f"not {type(spec).__name__}"
            )
            continue
        try:
            check_form_field(spec)
        except ConfigurationError as exc:
            problems.extend(exc.problems)
    condition: EnabledIf
    if isinstance(enabled_if, Mapping):
        try:
            condition = parse_filter(enabled_if)
        except Exception as exc:  # FilterError: reported with the other problems
            problems.append(f"enabled_if: {exc}")
            condition = None
    else:
        condition = enabled_if
    if condition is not None and resolved_scope is Scope.GLOBAL:
        problems.append("enabled_if tests records; a global action has none")
    problems.extend(_background_problems(background, background_above, resolved_scope))
    if problems:
        raise ConfigurationError(
            f"{where}: " + "; ".join(problems), [f"{where}: {p}" for p in problems]
        )
    return Action(
        name=label,
        slug=final_slug,
        collection=collection,
        scope=resolved_scope,
        handler=handler,
        description=description,
        submit_label=submit_label,
        form=fields,
        download=download,
        enabled_if=condition,
        disabled_reason=disabled_reason,
        background=background,
        background_above=background_above,
    )


def _background_problems(
    background: Any, background_above: Any, scope: Scope
) -> list[str]:
    problems = []
    if not isinstance(background, bool):
        problems.append(f"background must be True or False, not {background!r}")
    if background_above is not None:
        if isinstance(background_above, bool) or not isinstance(background_above, int) or (
            background_above < 1
        ):
            problems.append(
                f"background_above must be a whole number of records >= 1, not "
                f"{background_above!r}"
            )
        elif background is True:
            problems.append(
                "give background=True (always) or background_above=N (when more than N "
                "records are selected), not both"
            )
        elif scope is Scope.GLOBAL:
            problems.append(
                "background_above counts selected records; a global action has none: use "
                "background=True"
            )
    return problems
