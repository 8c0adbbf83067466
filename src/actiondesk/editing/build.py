"""The built-in record actions of a collection, as Action specs like any declared action:
listed, permitted, approved, audited and run through the one execution path."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from actiondesk.actions.spec import Action, Scope, make_action
from actiondesk.data.schema import Collection
from actiondesk.editing.forms import (
    bulk_form,
    create_form,
    edit_form,
    plan_of,
    prepare_bulk,
    prepare_create,
    prepare_edit,
)
from actiondesk.editing.options import Editing
from actiondesk.editing.statements import (
    bulk_edit_handler,
    create_handler,
    delete_handler,
    edit_handler,
)

# The stable slugs of the built-in actions (policies and the API name them).
EDIT, BULK_EDIT, CREATE, DELETE = "edit", "bulk-edit", "create", "delete"
BUILTIN_SLUGS = (EDIT, BULK_EDIT, CREATE, DELETE)


def record_actions(
    collection: Collection, options: Editing, collections: Mapping[str, Collection]
) -> list[Action]:
    """The built-in actions ``options`` switch on for ``collection``."""
    plan = plan_of(collection, options, collections)
    name = collection.name
    actions = []
    if options.edit and plan.writable:
        edit = make_action(
            edit_handler(plan), collection=name, name="Edit", slug=EDIT, scope=Scope.SINGLE,
            description="Change this record's fields", submit_label="Save",
            form=edit_form(plan), download=False, enabled_if=options.condition("edit"),
            disabled_reason=options.edit_disabled_reason,
        )
        bulk = make_action(
            bulk_edit_handler(plan), collection=name, name="Set a field", slug=BULK_EDIT,
            scope=Scope.BULK, description="Set one field on every selected record",
            submit_label="Set", form=bulk_form(plan), download=False,
            enabled_if=options.condition("edit"),
            disabled_reason=options.edit_disabled_reason,
        )
        actions += [dataclasses.replace(edit, builtin=EDIT, prepare=prepare_edit(plan)),
                    dataclasses.replace(bulk, builtin=BULK_EDIT, prepare=prepare_bulk(plan))]
    if options.create and plan.creatable:
        create = make_action(
            create_handler(plan), collection=name, name="New", slug=CREATE,
            scope=Scope.GLOBAL, description=f"Create a record in {name}", submit_label="Create",
            form=create_form(plan), download=False, enabled_if=None, disabled_reason=None,
        )
        actions.append(dataclasses.replace(create, builtin=CREATE,
                                           prepare=prepare_create(plan)))
    if options.delete:
        delete = make_action(
            delete_handler(plan, collections), collection=name, name="Delete", slug=DELETE,
            scope=Scope.BULK, description="Delete the selected records",
            submit_label="Delete", form=(), download=False,
            enabled_if=options.condition("delete"),
            disabled_reason=options.delete_disabled_reason,
        )
        actions.append(dataclasses.replace(delete, builtin=DELETE))
    return actions
