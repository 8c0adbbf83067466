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
# Builds the result of a partitioned run from what each partition's handler returned.
Combine: TypeAlias = Callable[[list[Any]], "Result"]
# ``parallel=True``: one partition per this many selected records, at most MAX_PARTITIONS.
PARTITION_RECORDS = 100_000
MAX_PARTITIONS = 64
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
    # Partitioned runs (see actiondesk.background.partitions).
    parallel: bool = False
    partitions: int | None = None
    combine: Combine | None = None
    max_parallel: int | None = None

    @property
    def partitioned(self) -> bool:
        return self.parallel or self.partitions is not None

    def partition_count(self, record_count: int) -> int:
        """How many key-range partitions a run on this many records is split into (1: not
        split)."""
        if self.partitions is not None:
            wanted = self.partitions
        elif self.parallel:
            wanted = -(-record_count // PARTITION_RECORDS)
        else:
            return 1
        return max(1, min(wanted, MAX_PARTITIONS, record_count))

    def runs_in_background(self, record_count: int | None) -> bool:
        """Whether a run on this many selected records is queued for a runner."""
        if self.background or self.partitioned:
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
            "background": self.background or self.partitioned,
            "background_above": self.background_above,
            "builtin": self.builtin,
            "parallel": self.partitioned,
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
    parallel: bool = False,
    partitions: int | None = None,
    combine: Combine | None = None,
    max_parallel: int | None = None,
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
    problems.extend(_partition_problems(parallel, partitions, combine, max_parallel,
                                        resolved_scope))
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
        parallel=parallel,
        partitions=partitions,
        combine=combine,
        max_parallel=max_parallel,
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


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int) and value >= low
            and (high is None or value <= high))


def _partition_problems(
    parallel: Any, partitions: Any, combine: Any, max_parallel: Any, scope: Scope
) -> list[str]:
    problems = []
    if not isinstance(parallel, bool):
        problems.append(f"parallel must be True or False, not {parallel!r}")
    if partitions is not None and not _whole(partitions, 2, MAX_PARTITIONS):
        problems.append(f"partitions must be a whole number from 2 to {MAX_PARTITIONS}, not "
                        f"{partitions!r}")
    if parallel is True and partitions is not None:
        problems.append("give parallel=True (one partition per "
                        f"{PARTITION_RECORDS:,} records) or partitions=N, not both")
    split = parallel is True or partitions is not None
    if split and scope is not Scope.BULK:
        problems.append("a partitioned run splits its selection: only a bulk action can be "
                        "parallel or have partitions")
    if combine is not None and not callable(combine):
        problems.append("combine must be a function of the partitions' results")
    if (combine is not None or max_parallel is not None) and not split:
        problems.append("combine and max_parallel are for partitioned actions: add "
                        "parallel=True or partitions=N")
    if max_parallel is not None and not _whole(max_parallel, 1):
        problems.append(f"max_parallel must be a whole number >= 1, not {max_parallel!r}")
    return problems
