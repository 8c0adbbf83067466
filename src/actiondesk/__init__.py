"""actiondesk: a self-hosted admin panel whose centre is business actions on records.

The names below are the public API; anything else may change without notice.
"""

from actiondesk.data.filters import Condition, Filter, Group, Operator, all_of, any_of, parse_filter
from actiondesk.data.record_ids import decode_id, encode_id
from actiondesk.data.schema import Collection, Field, FieldType, Relationship, RelationshipKind
from actiondesk.desk import Desk
from actiondesk.errors import (
    ActiondeskError,
    BadRequestError,
    ClientError,
    ConfigurationError,
    FilterError,
    NotFoundError,
)
from actiondesk.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ActiondeskError",
    "BadRequestError",
    "ClientError",
    "Collection",
    "Condition",
    "ConfigurationError",
    "Desk",
    "Field",
    "FieldType",
    "Filter",
    "FilterError",
    "Group",
    "NotFoundError",
    "Operator",
    "Relationship",
    "RelationshipKind",
    "Settings",
    "__version__",
    "all_of",
    "any_of",
    "decode_id",
    "encode_id",
    "parse_filter",
]
