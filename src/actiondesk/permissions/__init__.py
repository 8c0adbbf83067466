"""Who may read, see, trigger and approve what: roles, policies and action settings
(``model``), kept in the state database (``store``), validated (``checks``), cached and
changed by the ``PermissionsService`` (``service``), and applied to one caller (``access``)."""

from actiondesk.permissions.access import Access
from actiondesk.permissions.model import (
    ActionSetting,
    Decision,
    PermissionSnapshot,
    Policy,
    RoleSpec,
    describe_action,
)
from actiondesk.permissions.service import PermissionsService

__all__ = [
    "Access",
    "ActionSetting",
    "Decision",
    "PermissionSnapshot",
    "PermissionsService",
    "Policy",
    "RoleSpec",
    "describe_action",
]
