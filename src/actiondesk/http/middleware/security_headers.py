"""Security headers on every response of the desk (pages, API, static files, errors).

A pure ASGI middleware, so it also covers the answers produced outside FastAPI's routing (the
500 of an unexpected error, the 503 of a desk that cannot start). A header a route has set
itself is kept: the API docs page sets its own Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: the pages load their modules and stylesheets from
# /static. Images may be data: URLs (icons, previews of uploads).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def security_headers(connect_src: str = "") -> dict[str, str]:
    """``SECURITY_HEADERS`` with ``connect-src`` opened to ``connect_src`` besides the desk:
    the browser itself sends the webhooks actions answer with (Forest's contract)."""
    headers = dict(SECURITY_HEADERS)
    if connect_src:
        headers["Content-Security-Policy"] = (
            f"{CONTENT_SECURITY_POLICY}; connect-src 'self' {connect_src}"
        )
    return headers


# Answers of the API hold records and audit data: no shared or browser cache keeps them.
API_CACHE_CONTROL = "no-store"


class SecurityHeaders:
    """Add ``SECURITY_HEADERS`` (and ``Cache-Control: no-store`` under ``/api/``) to every
    HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = tuple((name.lower(), value) for name, value in headers.items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "") or ""
        is_api = path.removeprefix(root).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                if is_api:
                    headers.setdefault("cache-control", API_CACHE_CONTROL)
            await send(message)

        await self.app(scope, receive, send_with_headers)
