"""The built-in record actions a page shows as buttons (Edit, Delete, New), in its page data:
the page shows them without asking the API again."""

from __future__ import annotations

from typing import Any

from actiondesk.actions.document import ActionRequest
from actiondesk.editing.forms import ORIGINAL
from actiondesk.http.dependencies import Services
from actiondesk.permissions.access import Access


async def record_actions(services: Services, collection: str, access: Access,
                         record_id: str | None = None) -> dict[str, Any]:
    """``{"actions": {builtin: action JSON with the caller's rule}, "editable": [fields]}``;
    for a record, each action's enabled state on it. Empty without a visible built-in."""
    builtins = [a for a in services.registry.for_collection(collection)
                if a.builtin and access.visible(a)]
    if not builtins:
        return {}
    if record_id is not None:
        listed = await services.catalog.list_with_state(
            collection, access, ActionRequest(ids=(record_id,)))
        entries = [e for e in listed if e.get("builtin")]
    else:
        entries = [{**a.to_json(), "rule": "trigger" if access.dev_mode
                    else access.decide(a).rule} for a in builtins]
    edit = next((a for a in builtins if a.builtin == "edit"), None)
    editable = [f.name for f in edit.form if f.name != ORIGINAL and f.read_only is not True
                ] if edit is not None else []
    return {"actions": {e["builtin"]: e for e in entries}, "editable": editable}
