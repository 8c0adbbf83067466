"""The API docs page (Swagger UI), with a Content-Security-Policy of its own.

Swagger UI is not part of actiondesk: the page loads it from its CDN and starts it with one
inline script. The desk's policy allows neither, so this page names exactly what it needs:
the CDN folder, and the inline script by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_hashes(page: str) -> list[str]:
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(page)
    ]


def docs_policy(page: str) -> str:
    scripts = " ".join([SWAGGER_CDN, *_script_hashes(page)])
    return (
        f"default-src 'self'; script-src 'self' {scripts}; style-src 'self' {SWAGGER_CDN}; "
        "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


@router.get("/api/docs", name="swagger_ui_html")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = (request.scope.get("root_path", "") or "").rstrip("/")
    title: str = request.app.title
    page = get_swagger_ui_html(
        openapi_url=root + "/api/openapi.json",
        # FastAPI writes the title into the page as it is.
        title=html.escape(title) + " · API",
        swagger_js_url=SWAGGER_CDN + "swagger-ui-bundle.js",
        swagger_css_url=SWAGGER_CDN + "swagger-ui.css",
        swagger_favicon_url="data:,",
    )
    text = bytes(page.body).decode()
    return HTMLResponse(text, headers={"Content-Security-Policy": docs_policy(text)})
