"""actiondesk: a self-hosted admin panel whose centre is business actions on records.

The names below are the public API; anything else may change without notice.
"""

from actiondesk.actions.batches import Batch, BatchCursor, RunCancelled
from actiondesk.actions.context import ActionContext, Caller, FormContext, ParentContext
from actiondesk.actions.results import (
    ActionError,
    Error,
    File,
    Html,
    Redirect,
    Refresh,
    Result,
    Success,
    UnsafeResultError,
    Webhook,
)
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Action, Scope
from actiondesk.data.display import CollectionDisplay, DisplayError, FieldDisplay
from actiondesk.data.filters import Condition, Filter, Group, Operator, all_of, any_of, parse_filter
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.schema import Collection, Field, FieldType, Relationship, RelationshipKind
from actiondesk.desk import Desk
from actiondesk.editing import Editing, InvalidValues
from actiondesk.errors import (
    ActiondeskError,
    BadRequestError,
    ClientError,
    ConfigurationError,
    FilterError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)
from actiondesk.remote import RemoteActions, RemoteProvider
from actiondesk.settings import Settings
from actiondesk.version import __version__

__all__ = [
    "Action",
    "ActionContext",
    "ActionError",
    "ActiondeskError",
    "BadRequestError",
    "Batch",
    "BatchCursor",
    "Caller",
    "ClientError",
    "Collection",
    "CollectionDisplay",
    "Condition",
    "ConfigurationError",
    "Desk",
    "DisplayError",
    "Editing",
    "Error",
    "Field",
    "FieldDisplay",
    "FieldType",
    "File",
    "Filter",
    "FilterError",
    "ForbiddenError",
    "FormContext",
    "Group",
    "Html",
    "InvalidValues",
    "NotFoundError",
    "Operator",
    "ParentContext",
    "Redirect",
    "Refresh",
    "Relationship",
    "RelationshipKind",
    "RemoteActions",
    "RemoteProvider",
    "Result",
    "RunCancelled",
    "Scope",
    "Selection",
    "Settings",
    "Success",
    "UnavailableError",
    "UnsafeResultError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "Webhook",
    "__version__",
    "all_of",
    "any_of",
    "decode_id",
    "encode_id",
    "parse_filter",
]
