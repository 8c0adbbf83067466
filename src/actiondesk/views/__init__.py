"""Saved views of a list (Forest's segments): a named filter, search, sort, columns and page
size on one collection, personal or shared with chosen roles, stored (``service``) or
declared in code (``model.code_view``)."""

from actiondesk.views.model import SavedView, ViewData, code_view
from actiondesk.views.service import ViewsService

__all__ = ["SavedView", "ViewData", "ViewsService", "code_view"]
