"""Reading a provider's action list: actiondesk's own declarations and Jet's, side by side.

An answer to ``GET_ACTION_LIST`` is a list of declarations (or ``{"actions": [...]}``). Each
one is read on its own: a malformed one is skipped with the reason, the others still work.
actiondesk's own declaration::

    {"name": "Refund order", "slug": "refund-order", "collection": "orders",
     "scope": "bulk", "description": "...", "submit_label": "Refund", "download": false,
     "enabled_if": {"field": "status", "operator": "equal", "value": "paid"},
     "disabled_reason": "Only paid orders can be refunded",
     "form": [{"name": "amount", "type": "decimal", "required": true, "min": "0.01"},
              {"name": "reason", "type": "enum", "enum_values": ["damaged", "late"]}]}

Form fields take every type and static property of local forms (``visible_if`` is a filter on
the other values). Jet declarations are described in ``jet_format``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from actiondesk.actions.forms import FormField, form_field
from actiondesk.actions.spec import Action, ActionSource, Handler, make_action
from actiondesk.remote.jet_format import check_text, declared_name, is_jet, read_jet

MAX_ACTIONS = 1000
Dialect = Literal["native", "jet"]
_KEYS = frozenset({"name", "slug", "collection", "scope", "description", "submit_label",
                   "download", "enabled_if", "disabled_reason", "form"})
_FIELD_TYPES: Mapping[str, tuple[type, ...]] = {
    "label": (str,), "description": (str,), "placeholder": (str,), "pattern": (str,),
    "required": (bool,), "read_only": (bool,), "secret": (bool,),
    "min_length": (int,), "max_length": (int,), "max_file_bytes": (int,),
    "min": (int, float, str), "max": (int, float, str), "enum_values": (list,),
    "visible_if": (dict,), "reference": (str,),
}


@dataclass(frozen=True)
class Target:
    """What EXECUTE_ACTION names: the declared name, and Jet's model for Jet declarations."""

    name: str
    dialect: Dialect
    model: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A declaration that was not taken, and why."""

    index: int
    name: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "reason": self.reason}

    def __str__(self) -> str:
        named = f" {self.name!r}" if self.name else ""
        return f"declaration #{self.index}{named} skipped: {self.reason}"


MakeHandler = Callable[[Target], Handler]


def declarations_of(answer: Any) -> list[Any]:
    """The list of declarations in an answer; ValueError when the answer holds none."""
    items = answer.get("actions") if isinstance(answer, dict) else answer
    if not isinstance(items, list):
        raise ValueError("the action list must be a JSON list, or {\"actions\": [...]}")
    if len(items) > MAX_ACTIONS:
        raise ValueError(f"the action list holds more than {MAX_ACTIONS} declarations")
    return items


def read_declarations(
    items: Sequence[Any],
    *,
    model_names: Mapping[str, str],
    make_handler: MakeHandler,
    source: ActionSource,
) -> tuple[list[tuple[int, Action]], list[Skipped]]:
    """Action specs from declarations (with the index of the declaration each comes from),
    and the declarations skipped with their reasons."""
    actions: list[tuple[int, Action]] = []
    skipped: list[Skipped] = []
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        shown = name if isinstance(name, str) else None
        try:
            if not isinstance(item, dict):
                raise ValueError("a declaration must be a JSON object")
            built = (_jet(item, model_names, make_handler) if is_jet(item)
                     else [_native(item, make_handler)])
        except Exception as exc:  # every malformation is reported, none stops the list
            skipped.append(Skipped(index, shown, _reason(exc)))
            continue
        actions.extend((index, replace(action, source=source)) for action in built)
    return actions, skipped


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)[:500]


def _jet(item: Mapping[str, Any], names: Mapping[str, str],
         make_handler: MakeHandler) -> list[Action]:
    return [
        make_action(
            make_handler(Target(d.name, "jet", d.model)), collection=d.collection, name=d.label,
            slug=None, scope=d.scope, description=d.description,
            submit_label=d.submit_label, form=d.form, download=False, enabled_if=None,
            disabled_reason=None,
        )
        for d in read_jet(item, names)
    ]


def _native(item: Mapping[str, Any], make_handler: MakeHandler) -> Action:
    name = declared_name(item, _KEYS)
    check_text(item, ("slug", "collection", "scope", "description", "submit_label",
                      "disabled_reason"))
    if not isinstance(item.get("download", False), bool):
        raise ValueError("'download' must be true or false")
    enabled_if = item.get("enabled_if")
    if enabled_if is not None and not isinstance(enabled_if, dict):
        raise ValueError("'enabled_if' must be a filter object")
    form = item.get("form") or []
    if not isinstance(form, list):
        raise ValueError("'form' must be a list of fields")
    scope = item.get("scope")
    return make_action(
        make_handler(Target(name, "native")), collection=item.get("collection"), name=name,
        slug=item.get("slug"), scope=scope,
        description=item.get("description"), submit_label=item.get("submit_label"),
        form=[_field(spec, i) for i, spec in enumerate(form)],
        download=bool(item.get("download", False)), enabled_if=enabled_if,
        disabled_reason=item.get("disabled_reason"),
    )


def _field(spec: Any, index: int) -> FormField:
    if not isinstance(spec, dict):
        raise ValueError(f"form field #{index} must be an object")
    options = dict(spec)
    name, kind = options.pop("name", None), options.pop("type", None)
    if not isinstance(name, str) or not isinstance(kind, str):
        raise ValueError(f"form field #{index} needs 'name' and 'type' (text)")
    for key, value in options.items():
        allowed = _FIELD_TYPES.get(key)
        if allowed is not None and value is not None and (
            not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
        ):
            raise ValueError(f"form field {name!r}: {key} has the wrong type")
    return form_field(name, kind, **options)
