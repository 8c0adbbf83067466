"""Moved to http/middleware/errors.py."""
from actiondesk.http.middleware.errors import *  # noqa: F403  # moved; shim removed at integration
