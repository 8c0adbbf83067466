"""Action forms: loaded and recomputed on change with the same checks as an execution, and
validated on the server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from actiondesk.actions.context import FormContext
from actiondesk.actions.document import ActionRequest
from actiondesk.actions.form_values import json_value, validate_values
from actiondesk.actions.forms import FormField, ResolvedField, compute, resolve_field
from actiondesk.actions.spec import Action
from actiondesk.catalog.conditions import enabled
from actiondesk.catalog.listing import Catalog
from actiondesk.data.filters import Condition, Group, matches
from actiondesk.data.record_ids import decode_id
from actiondesk.errors import BadRequestError, ForbiddenError, NotFoundError

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access


class Forms:
    """Form load and change (``changed_field``), and server-side validation of values."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.datasource = catalog.datasource
        self.resolver = catalog.resolver

    async def resolve_form(
        self,
        action: Action,
        context: FormContext,
        *,
        initial: bool,
    ) -> tuple[list[ResolvedField], dict[str, Any]]:
        """Every field computed for the context; the values shown (defaults on load)."""
        if initial:
            defaults = {f.name: await compute(f.default, context) for f in action.form}
            context = FormContext(
                caller=context.caller, action=action, collection=context.collection,
                selection=context.selection, values=defaults, parent=context.parent,
            )

        async def visible(spec: FormField) -> bool:
            condition = spec.visible_if
            if condition is None:
                return True
            if isinstance(condition, Condition | Group):
                return matches(condition, context.values)
            return bool(await compute(condition, context))

        fields = [await resolve_field(spec, context, visible) for spec in action.form]
        shown = {}
        for field in fields:
            if field.read_only or initial or field.name not in context.values:
                shown[field.name] = json_value(field.default)
            else:
                shown[field.name] = context.values[field.name]
        return fields, shown

    async def form(
        self,
        collection: str | None,
        slug: str,
        request: ActionRequest,
        access: Access,
    ) -> dict[str, Any]:
        """Form load (no ``changed_field``) or change: the same checks as execution."""
        action = self.catalog.action(collection, slug, access)
        access.require_visible(action)
        selection, total = await self.resolver.resolve(action, request, access)
        if selection is not None:
            state = await enabled(action, selection, total, access.extra_condition(action))
            if not state.enabled:
                raise ForbiddenError(f"{action.name} cannot run on this selection: "
                                     f"{state.reason}")
        changed = request.changed_field
        if changed is not None and action.form_field(changed) is None:
            raise BadRequestError(
                f"changed_field {changed!r} is not a field of this form",
                fields={"data.attributes.changed_field": "unknown field"},
            )
        context = FormContext(
            caller=access.caller, action=action, collection=self.resolver.collection_of(action),
            selection=selection, values=dict(request.values or {}), changed_field=changed,
            parent=request.parent,
        )
        fields, shown = await self.resolve_form(action, context, initial=changed is None)
        return {
            "action": action.to_json(),
            "fields": [field_json(f, shown[f.name]) for f in fields],
            "changed_field": changed,
        }

    async def validate(
        self, fields: list[ResolvedField], values: Mapping[str, Any], access: Access
    ) -> dict[str, Any]:
        """The typed values of a submitted form (FormValidationError with every problem)."""
        return await validate_values(fields, values, self.reference_checker(access))

    def reference_checker(self, access: Access) -> Callable[[str, str], Awaitable[bool]]:
        """Whether a referenced record exists, for a caller who must be able to read it."""

        async def exists(collection_name: str, record_id: str) -> bool:
            access.require_read(collection_name)
            return await self.reference_exists(collection_name, record_id)

        return exists

    async def reference_exists(self, collection_name: str, record_id: str) -> bool:
        collection = self.datasource.collection(collection_name)
        try:
            pk = decode_id(collection, record_id)
        except NotFoundError:
            return False
        return await self.datasource.get_row(collection, pk) is not None


def field_json(field: ResolvedField, value: Any) -> dict[str, Any]:
    constraints = {
        k: json_value(v)
        for k, v in (
            ("min", field.min), ("max", field.max), ("min_length", field.min_length),
            ("max_length", field.max_length), ("pattern", field.pattern),
            ("places", field.spec.places), ("max_digits", field.spec.max_digits),
        )
        if v is not None
    }
    return {
        "name": field.name,
        "type": field.type.value,
        "label": field.label,
        "description": field.description,
        "required": field.required,
        "value": value,
        "read_only": field.read_only,
        "enum_values": list(field.enum_values) if field.enum_values is not None else None,
        "placeholder": field.placeholder,
        "constraints": constraints,
        "visible": field.visible,
        "reference": field.spec.reference,
        "max_file_bytes": field.spec.max_file_bytes if field.type.value.startswith("file")
        else None,
    }
