"""Built-in record actions: edit, create and delete, as governed actions (see ``Editing``)."""

from actiondesk.editing.build import BUILTIN_SLUGS, record_actions
from actiondesk.editing.options import Editing, InvalidValues, ValidateHook

__all__ = ["BUILTIN_SLUGS", "Editing", "InvalidValues", "ValidateHook", "record_actions"]
