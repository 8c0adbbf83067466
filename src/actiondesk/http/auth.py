"""Moved: the caller's dependencies are in http/dependencies.py, the routes in http/api/auth.py."""
from actiondesk.http.dependencies import COOKIE, CSRF_HEADER, authenticate, require_admin  # noqa: F401  # moved; shim removed at integration
