"""Moved to http/middleware/body_limit.py."""
from actiondesk.http.middleware.body_limit import *  # noqa: F403  # moved; shim removed at integration
