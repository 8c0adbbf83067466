"""What a handler returns, and how each result answers on the wire (Forest's shapes).

``None`` → 204; ``Success`` → ``{success, html?, refresh?}``; ``Html`` → ``{html}``;
``Refresh`` → ``{success?, refresh: {relationships}}``; ``Error`` (or raising ``ActionError``)
→ 400 ``{error, html?}``; ``Webhook`` → ``{webhook: {url, method, headers, body}}``;
``Redirect`` → ``{redirectTo}``; ``File`` → the file as an attachment.
HTML is sanitised (formatting and classes kept; scripts, handlers, ``javascript:`` dropped).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import anyio
import nh3

from actiondesk.actions.filenames import safe_filename

_WEBHOOK_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def sanitize_html(html: str) -> str:
    """HTML safe to show in the UI: formatting and classes kept; scripts, event handlers,
    styles and non-http(s)/mailto links removed."""
    return nh3.clean(
        html,
        generic_attribute_prefixes=set(),
        attributes={
            "*": {"class", "title"},
            "a": {"href", "title", "class"},
            "img": {"src", "alt", "width", "height", "class"},
            "td": {"colspan", "rowspan", "class"},
            "th": {"colspan", "rowspan", "class", "scope"},
        },
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class UnsafeResultError(ValueError):
    """A result that would send the user somewhere unsafe: a redirect or webhook to a URL
    that is not an internal path or http(s), or a webhook with a malformed header. When a
    handler makes one (from user input, say), the request is answered 400 and the run
    records why."""


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. "http://[::1": no URL at all
        return None


def check_redirect(to: str) -> str:
    """An internal path (``/...``) or an absolute http(s) URL; anything else is refused."""
    if not isinstance(to, str) or not to or _has_control(to) or "\\" in to:
        raise UnsafeResultError(f"redirect target {to!r} is not allowed")
    if to.startswith("/"):
        if to.startswith("//"):
            raise UnsafeResultError(f"redirect target {to!r} is protocol-relative; not allowed")
        return to
    parts = _split(to)
    if parts is not None and parts.scheme.lower() in ("http", "https") and parts.netloc:
        return to
    raise UnsafeResultError(
        f"redirect target {to!r} is not allowed: use an internal path or an http(s) URL"
    )


@dataclass(frozen=True)
class Success:
    """``record``: what the action did to records (the built-in record actions' changes),
    answered and kept in the run's audit."""

    message: str | None = None
    html: str | None = None
    refresh: Sequence[str] = ()
    record: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Html:
    html: str


@dataclass(frozen=True)
class Refresh:
    relationships: Sequence[str]
    message: str | None = None


@dataclass(frozen=True)
class Error:
    message: str
    html: str | None = None


class ActionError(Exception):
    """Raise from a handler to answer 400 with this message (and optional HTML)."""

    def __init__(self, message: str, html: str | None = None) -> None:
        self.message = message
        self.html = html
        super().__init__(message)


@dataclass(frozen=True)
class Webhook:
    """Ask the browser to call a URL (http or https only)."""

    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = _split(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise UnsafeResultError(f"webhook URL {self.url!r} must be an http(s) URL")
        if _has_control(self.url):
            raise UnsafeResultError("webhook URL has control characters")
        if self.method.upper() not in _WEBHOOK_METHODS:
            raise UnsafeResultError(
                f"webhook method {self.method!r} is not one of {_WEBHOOK_METHODS}")
        for name, value in self.headers.items():
            if not _HEADER_NAME.match(name) or _has_control(str(value)):
                raise UnsafeResultError(f"webhook header {name!r} is not a valid header")


@dataclass(frozen=True)
class Redirect:
    """Send the user to an internal path (same tab) or an http(s) URL (new tab)."""

    to: str

    def __post_init__(self) -> None:
        check_redirect(self.to)


@dataclass(frozen=True)
class File:
    """A file to download: give ``content`` (bytes or text), ``stream`` (an iterable or
    async iterable of bytes) or ``path``."""

    filename: str
    content: bytes | str | None = None
    stream: AsyncIterable[bytes] | Iterable[bytes] | None = None
    path: str | Path | None = None
    mime: str = "application/octet-stream"

    def __post_init__(self) -> None:
        given = [x for x in (self.content, self.stream, self.path) if x is not None]
        if len(given) != 1:
            raise ValueError("File needs exactly one of content=, stream= or path=")
        if not re.fullmatch(r"[\w.+-]+/[\w.+-]+(; ?charset=[\w-]+)?", self.mime):
            raise ValueError(f"File mime {self.mime!r} is not a media type")


Result = Success | Html | Refresh | Error | Webhook | Redirect | File | None


def content_disposition(filename: str) -> str:
    """An attachment header safe from injection, with the UTF-8 name for modern browsers."""
    safe = safe_filename(filename, "download")
    ascii_name = unicodedata.normalize("NFKD", safe).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'[";\\%/]', "_", ascii_name).strip()
    if not re.search(r"[A-Za-z0-9]", ascii_name.rsplit(".", 1)[0]):
        ascii_name = "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"


@dataclass(frozen=True)
class Rendered:
    """A result as the wire sees it: status, JSON body (None for 204 and files), kind."""

    status: int
    body: dict[str, Any] | None
    kind: str
    message: str | None
    file: File | None = None


def render(result: Result) -> Rendered:
    if result is None:
        return Rendered(204, None, "none", None)
    if isinstance(result, Success):
        body: dict[str, Any] = {}
        if result.message is not None:
            body["success"] = result.message
        if result.html is not None:
            body["html"] = sanitize_html(result.html)
        if result.refresh:
            body["refresh"] = {"relationships": list(result.refresh)}
        if result.record is not None:
            body["record"] = dict(result.record)
        if not body:
            body["success"] = "Done"
        kind = "html" if result.html is not None else "success"
        return Rendered(200, body, kind, result.message)
    if isinstance(result, Html):
        return Rendered(200, {"html": sanitize_html(result.html)}, "html", None)
    if isinstance(result, Refresh):
        body = {"refresh": {"relationships": list(result.relationships)}}
        if result.message is not None:
            body["success"] = result.message
        return Rendered(200, body, "success", result.message)
    if isinstance(result, Error):
        body = {"error": result.message}
        if result.html is not None:
            body["html"] = sanitize_html(result.html)
        return Rendered(400, body, "error", result.message)
    if isinstance(result, Webhook):
        hook = {
            "url": result.url,
            "method": result.method.upper(),
            "headers": dict(result.headers),
            "body": result.body,
        }
        return Rendered(200, {"webhook": hook}, "webhook", None)
    if isinstance(result, Redirect):
        return Rendered(200, {"redirectTo": result.to}, "redirect", result.to)
    if isinstance(result, File):
        return Rendered(200, None, "file", safe_filename(result.filename), file=result)
    raise TypeError(
        f"a handler returned {type(result).__name__}; return None, Success, Html, Refresh, "
        "Error, Webhook, Redirect or File"
    )


async def iterate_file(file: File, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The bytes of a file result, chunk by chunk (async generator)."""
    if file.content is not None:
        yield file.content.encode() if isinstance(file.content, str) else file.content
        return
    if file.path is not None:
        async with await anyio.open_file(file.path, "rb") as handle:
            while chunk := await handle.read(chunk_size):
                yield chunk
        return
    stream = file.stream
    if hasattr(stream, "__aiter__"):
        async for chunk in stream:  # type: ignore[union-attr]
            yield chunk
    else:
        for chunk in stream:  # type: ignore[union-attr]
            yield chunk
