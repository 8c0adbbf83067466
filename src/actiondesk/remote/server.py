"""The remote side, in Python: serve actions to an actiondesk from any web framework.

::

    from actiondesk.remote import EXECUTE_ACTION, GET_ACTION_LIST, RemoteActions

    remote = RemoteActions(secret=os.environ["ACTIONDESK_SECRET"])

    @remote.handler(GET_ACTION_LIST)
    def action_list(message):
        return [{"name": "Refund", "collection": "orders", "scope": "single",
                 "form": [{"name": "amount", "type": "decimal", "required": True}]}]

    @remote.handler(EXECUTE_ACTION)
    def execute(message):
        if message.action == "Refund":
            refund(message.ids[0], Decimal(message.values["amount"]))
            return Success("Refunded")        # or {"success": "Refunded"}, or None (204)

``remote.asgi`` and ``remote.wsgi`` are applications to mount; ``handle`` / ``handle_async``
take the body and headers from any framework and give back status, headers and body. Every
message's signature, timestamp and nonce are checked first (401 otherwise), and every answer
is signed. Handlers may be ``def`` or ``async def``; ``add_message_handler(name, handler)`` is
the same as the decorator (Jet's bridge style).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from actiondesk.actions.filenames import safe_filename
from actiondesk.actions.form_values import FileValue
from actiondesk.actions.results import ActionError, Error, File, content_disposition, render
from actiondesk.remote.nonces import NonceStore
from actiondesk.remote.protocol import EXECUTE_ACTION, GET_ACTION_LIST
from actiondesk.remote.signing import (
    DEFAULT_TOLERANCE,
    MIN_SECRET_LENGTH,
    NonceCache,
    SignatureError,
    sign_answer,
    verify,
    verify_async,
)

log = logging.getLogger("actiondesk.remote.server")

DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024
MessageHandler = Callable[["Message"], Any]


@dataclass(frozen=True)
class Message:
    """A verified message: ``name`` and ``params``, with shortcuts for ``EXECUTE_ACTION``."""

    name: str
    params: Mapping[str, Any]

    @property
    def action(self) -> str | None:
        """The declared name of the action to run."""
        value = self.params.get("action")
        return value if isinstance(value, str) else None

    @property
    def collection(self) -> str | None:
        return self.params.get("collection")

    @property
    def model(self) -> str | None:
        """Jet's model name, for actions declared in Jet's format."""
        return self.params.get("model")

    @property
    def ids(self) -> list[str]:
        """The record ids of this message (one batch of a large selection)."""
        return list(self.params.get("ids") or [])

    @property
    def values(self) -> Mapping[str, Any]:
        """The validated form values (``data`` for Jet-declared actions)."""
        values = self.params.get("values", self.params.get("data"))
        return values if isinstance(values, Mapping) else {}

    @property
    def caller(self) -> Mapping[str, Any]:
        return self.params.get("caller") or {}

    @property
    def parent(self) -> Mapping[str, Any] | None:
        return self.params.get("parent")

    @property
    def batch(self) -> Mapping[str, Any] | None:
        """``{index, size, records, last}`` when a large selection comes in batches."""
        return self.params.get("batch")

    @property
    def is_last_batch(self) -> bool:
        return self.batch is None or bool(self.batch.get("last"))

    def file(self, name: str) -> FileValue | None:
        """A file value, decoded (``{"filename", "mime", "content": base64}``)."""
        raw = self.values.get(name)
        if raw is None:
            return None
        return _file(raw)

    def files(self, name: str) -> list[FileValue]:
        return [_file(raw) for raw in self.values.get(name) or []]


def _file(raw: Any) -> FileValue:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("content"), str):
        raise ValueError("not a file value")
    try:
        content = base64.b64decode(raw["content"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a file value's content is not base64") from None
    return FileValue(content=content, filename=safe_filename(str(raw.get("filename") or "file")),
                     mime=str(raw.get("mime") or "application/octet-stream"))


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _json_reply(status: int, document: Any) -> Reply:
    body = json.dumps(document, ensure_ascii=False, default=str).encode()
    return Reply(status, {"Content-Type": "application/json"}, body)


class RemoteActions:
    """Message handlers behind one signed endpoint.

    ``secret`` is the provider's secret (give a list to accept an old one while rotating);
    ``tolerance`` is how far a message's timestamp may be from this clock (seconds);
    ``nonces`` remembers nonces to refuse replays: one process's memory by default;
    ``SqlNonceStore(url)`` shares them between every process of the service.
    """

    def __init__(
        self,
        secret: str | Sequence[str],
        *,
        tolerance: int = DEFAULT_TOLERANCE,
        nonces: NonceStore | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.secrets = [secret] if isinstance(secret, str) else list(secret)
        if not self.secrets or any(len(s) < MIN_SECRET_LENGTH for s in self.secrets):
            raise ValueError(f"secrets must have at least {MIN_SECRET_LENGTH} characters")
        self.tolerance = tolerance
        self.nonces: NonceStore = nonces or NonceCache()
        self.max_body_bytes = max_body_bytes
        self._handlers: dict[str, MessageHandler] = {}

    def add_message_handler(self, name: str, handler: MessageHandler) -> None:
        self._handlers[name] = handler

    def handler(self, name: str) -> Callable[[MessageHandler], MessageHandler]:
        def register(handler: MessageHandler) -> MessageHandler:
            self.add_message_handler(name, handler)
            return handler

        return register

    # -- handling ------------------------------------------------------------------------------

    async def handle_async(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """Verify, dispatch and answer one message (sync handlers run in a worker thread)."""
        return await self._handle(body, headers, threaded=True)

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """``handle_async`` for sync frameworks (WSGI): runs in the calling thread."""
        return asyncio.run(self._handle(body, headers, threaded=False))

    async def _handle(self, body: bytes, headers: Mapping[str, str], *, threaded: bool) -> Reply:
        if len(body) > self.max_body_bytes:
            return _json_reply(413, {"error": f"the message is larger than "
                                              f"{self.max_body_bytes:,} bytes"})
        try:
            if threaded:
                nonce = await verify_async(self.secrets, headers, body, nonces=self.nonces,
                                           tolerance=self.tolerance)
            else:  # handle(): a fresh event loop per message, so the store's sync side
                nonce = verify(self.secrets, headers, body, nonces=self.nonces,
                               tolerance=self.tolerance)
        except SignatureError as exc:
            # Unsigned on purpose: nothing proves who sent the message.
            return _json_reply(401, {"error": f"message refused: {exc}"})
        reply = await self._dispatch(body, threaded=threaded)
        signed = sign_answer(self.secrets[0], reply.body, nonce)
        return Reply(reply.status, {**reply.headers, **signed}, reply.body)

    async def _dispatch(self, body: bytes, *, threaded: bool) -> Reply:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _json_reply(400, {"error": "the message is not JSON"})
        if not isinstance(document, dict) or not isinstance(document.get("name"), str) or (
            not isinstance(document.get("params", {}), dict)
        ):
            return _json_reply(400, {"error": "a message is {\"name\": text, \"params\": {}}"})
        message = Message(document["name"], document.get("params") or {})
        handler = self._handlers.get(message.name)
        if handler is None:
            return _json_reply(400, {"error": f"no handler for message {message.name!r}"})
        try:
            if inspect.iscoroutinefunction(handler):
                produced = await handler(message)
            elif threaded:
                produced = await anyio.to_thread.run_sync(handler, message)
            else:
                produced = handler(message)
            if inspect.isawaitable(produced):
                produced = await produced
            return await _reply_of(message, produced)
        except ActionError as exc:
            return _json_reply(400, render(Error(exc.message, exc.html)).body)
        except Exception:
            log.exception("message %s failed", message.name)
            return _json_reply(500, {"error": f"{message.name} failed; the details are in the "
                                              "service's log"})

    # -- mounting ------------------------------------------------------------------------------

    @property
    def asgi(self) -> RemoteActions:
        """The ASGI application (the object itself: ``app.mount("/actiondesk", remote.asgi)``
        or ``uvicorn.run(remote.asgi)``)."""
        return self

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        """ASGI: answers messages at any path it is mounted on."""
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            reply = _json_reply(405, {"error": "send messages with POST"})
        else:
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                reply = _json_reply(413, {"error": "the message is too large"})
            else:
                headers = {k.decode("latin-1"): v.decode("latin-1")
                           for k, v in scope["headers"]}
                reply = await self.handle_async(body, headers)
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                for k, v in reply.headers.items()]})
        await send({"type": "http.response.body", "body": reply.body})

    def wsgi(self, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
        """A WSGI application answering at any path it is mounted on."""
        if environ.get("REQUEST_METHOD") != "POST":
            reply = _json_reply(405, {"error": "send messages with POST"})
        else:
            length = environ.get("CONTENT_LENGTH") or "0"
            size = int(length) if length.isdigit() else 0
            if size > self.max_body_bytes:
                reply = _json_reply(413, {"error": "the message is too large"})
            else:
                body = environ["wsgi.input"].read(size) if size else b""
                headers = {key[5:].replace("_", "-"): value for key, value in environ.items()
                           if key.startswith("HTTP_")}
                if environ.get("CONTENT_TYPE"):
                    headers["Content-Type"] = environ["CONTENT_TYPE"]
                reply = self.handle(body, headers)
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Status')}",
                       list(reply.headers.items()))
        return [reply.body]


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            405: "Method Not Allowed", 413: "Content Too Large", 500: "Internal Server Error"}


async def _read_body(receive: Callable[[], Awaitable[Any]], limit: int) -> bytes | None:
    """The request body; None past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not event.get("more_body", False):
            return b"".join(chunks)


async def _reply_of(message: Message, produced: Any) -> Reply:
    """What a handler returned, as an answer: a ``Reply`` as is, ``None`` → 204, a JSON value
    as JSON (400 when it is an ``{"error": ...}`` object), an actiondesk result (``Success``,
    ``Html``, ``File``, ...) in its wire shape."""
    if isinstance(produced, Reply):
        return produced
    if produced is None:
        return Reply(204)
    if isinstance(produced, dict | list):
        status = 400 if isinstance(produced, dict) and "error" in produced else 200
        return _json_reply(status, produced)
    rendered = render(produced)
    if rendered.file is not None:
        return await _file_reply(rendered.file)
    if rendered.body is None:
        return Reply(204)
    return _json_reply(rendered.status, rendered.body)


async def _file_reply(file: File) -> Reply:
    from actiondesk.actions.results import iterate_file

    content = b"".join([chunk async for chunk in iterate_file(file)])
    return Reply(200, {"Content-Type": file.mime,
                       "Content-Disposition": content_disposition(file.filename)}, content)


__all__ = ["EXECUTE_ACTION", "GET_ACTION_LIST", "Message", "RemoteActions", "Reply"]
