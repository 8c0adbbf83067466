"""Moved to http/middleware/security_headers.py."""
from actiondesk.http.middleware.security_headers import *  # noqa: F403  # moved; shim removed at integration
