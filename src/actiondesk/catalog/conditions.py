"""Whether an action can run on a selection: its ``enabled_if`` and an admin's extra
condition, checked on every selected record with one set-based query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actiondesk.actions.condition_text import condition_sentence
from actiondesk.actions.form_values import json_value
from actiondesk.actions.forms import FormFieldType
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action, EnabledIf
from actiondesk.data.filters import Condition, Filter, Group, compile_filter, matches
from actiondesk.data.schema import Collection

if TYPE_CHECKING:
    from actiondesk.permissions.model import Policy

_NUMERIC_FORM = frozenset({FormFieldType.NUMBER, FormFieldType.DECIMAL})


@dataclass(frozen=True)
class EnabledState:
    enabled: bool
    reason: str | None = None


async def enabled(
    action: Action, selection: Selection, total: int, extra: Filter | None = None
) -> EnabledState:
    """Whether every selected record meets the action's ``enabled_if`` and the admin's
    extra condition (one set-based query for a filter condition)."""
    state = await _meets(action.enabled_if, action.disabled_reason, selection, total)
    if state.enabled and extra is not None:
        state = await _meets(extra, "an administrator's condition on this action does not "
                             "hold", selection, total)
    return state


async def _meets(
    condition: EnabledIf,
    disabled_reason: str | None,
    selection: Selection,
    total: int,
) -> EnabledState:
    if condition is None:
        return EnabledState(True)
    if isinstance(condition, Condition | Group):
        clause = compile_filter(selection.collection, condition)
        failing = total - await selection.count_matching(clause)
    else:
        failing = 0
        async for batch in selection.batches():
            failing += sum(1 for row in batch if not condition(row))
    if failing == 0:
        return EnabledState(True)
    reason = disabled_reason or describe_condition(condition, selection.collection)
    if total == 1:
        return EnabledState(False, reason)
    return EnabledState(False, f"{failing} of the {total} selected records: {reason}")


def describe_condition(condition: Any, collection: Collection) -> str:
    """What operators are told when a condition without a ``disabled_reason`` fails."""
    if isinstance(condition, Condition | Group):
        return condition_sentence(condition, collection)
    return "the action's condition does not hold"


async def approval_applies(
    policy: Policy | None, selection: Selection | None, values: Mapping[str, Any] | None
) -> bool | None:
    """Whether an approval rule's condition holds: on the form values, or on any selected
    record; always without a condition. None when it is on form values not given yet (the
    action list, before the form is filled)."""
    if policy is None or policy.condition is None:
        return True
    if policy.condition_on == "values":
        if values is None:
            return None
        return matches(policy.condition, {k: json_value(v) for k, v in values.items()})
    if selection is None:
        return False
    clause = compile_filter(selection.collection, policy.condition)
    return await selection.count_matching(clause) > 0


def approval_condition_text(
    policy: Policy | None, action: Action, collection: Collection | None
) -> str | None:
    """An approval rule's condition as operators read it (``only when amount is greater than
    1,000``), or None without a condition. A condition on form values is typed by the
    action's form fields, not by the collection's columns."""
    if policy is None or policy.condition is None:
        return None
    if policy.condition_on == "records":
        sentence = condition_sentence(policy.condition, collection)
    else:
        numeric = frozenset(f.name for f in action.form if f.type in _NUMERIC_FORM)
        sentence = condition_sentence(policy.condition, None, numeric)
    return sentence[0].lower() + sentence[1:]
