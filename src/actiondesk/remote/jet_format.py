"""Jet Admin's FlexActions declarations, read as they stand.

::

    {"name": "transfer", "label": "Account transfer",
     "model_action": {"model": "app.Account", "for_instance": true, "bulk": false},
     "params": [{"name": "amount", "field": "DecimalField", "required": true},
                {"name": "to", "field": "ForeignKey",
                 "params": {"related_model": {"model": "app.Account"}}}]}
    {"name": "recompute_stats", "common_action": {}, "params": []}

``model`` may be one model or a list (one action per collection). ``for_instance`` makes a
single action, ``bulk`` a bulk one, neither a global action on the collection;
``common_action`` is a global action without a collection. Models become collections through
the provider's name mapping, else the last dotted part (``app.accounts`` → ``accounts``).
``params`` go through ``actiondesk.fields.jet_params``, as for local Jet-style forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actiondesk.actions.forms import FormField, humanize, jet_params
from actiondesk.actions.spec import Scope

_KEYS = frozenset({"name", "label", "verbose_name", "description", "model_action",
                   "common_action", "params", "submit_label"})
_MODEL_ACTION_KEYS = frozenset({"model", "for_instance", "bulk"})


@dataclass(frozen=True)
class JetDeclaration:
    """What a Jet declaration says, one per collection it applies to."""

    name: str
    label: str
    description: str | None
    submit_label: str | None
    scope: Scope
    collection: str | None
    model: str | None
    form: tuple[FormField, ...]


def is_jet(item: Mapping[str, Any]) -> bool:
    return "model_action" in item or "common_action" in item


def collection_of(model: str, names: Mapping[str, str]) -> str:
    return names.get(model, model.split(".")[-1])


def declared_name(item: Mapping[str, Any], keys: frozenset[str]) -> str:
    """The name of a declaration (of either dialect) whose keys are all in ``keys``."""
    unknown = set(item) - keys
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("'name' must be non-empty text")
    return name


def check_text(item: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """ValueError naming the first of ``keys`` given as something other than text."""
    for key in keys:
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ValueError(f"{key!r} must be text")


def read_jet(item: Mapping[str, Any], names: Mapping[str, str]) -> list[JetDeclaration]:
    """The actions a Jet declaration stands for; ValueError says what is malformed."""
    name = declared_name(item, _KEYS)
    label = item.get("label", item.get("verbose_name"))
    if label is not None and not isinstance(label, str):
        raise ValueError("'label' must be text")
    check_text(item, ("description", "submit_label"))
    params = item.get("params") or []
    if not isinstance(params, list) or not all(isinstance(p, Mapping) for p in params):
        raise ValueError("'params' must be a list of objects")
    form = jet_params(params, names)
    common: dict[str, Any] = {
        "name": name, "label": label or humanize(name), "description": item.get("description"),
        "submit_label": item.get("submit_label"), "form": form,
    }
    if "common_action" in item:
        if "model_action" in item:
            raise ValueError("give model_action or common_action, not both")
        if not isinstance(item["common_action"], Mapping):
            raise ValueError("'common_action' must be an object")
        return [JetDeclaration(scope=Scope.GLOBAL, collection=None, model=None, **common)]
    model_action = item["model_action"]
    if not isinstance(model_action, Mapping):
        raise ValueError("'model_action' must be an object")
    unknown = set(model_action) - _MODEL_ACTION_KEYS
    if unknown:
        raise ValueError(f"model_action has unknown key(s) {', '.join(sorted(unknown))}")
    models = model_action.get("model")
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, list) or not models or not all(
        isinstance(m, str) and m for m in models
    ):
        raise ValueError("model_action.model must be a model name or a list of them")
    flags = {k: model_action.get(k, False) for k in ("for_instance", "bulk")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise ValueError("model_action.for_instance and .bulk must be true or false")
    scope = Scope.BULK if flags["bulk"] else Scope.SINGLE if flags["for_instance"] else (
        Scope.GLOBAL)
    return [
        JetDeclaration(scope=scope, collection=collection_of(m, names), model=m, **common)
        for m in dict.fromkeys(models)
    ]
