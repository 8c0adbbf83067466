"""Turn every error into the JSON shape ``{error, detail?, fields?}``; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from actiondesk.errors import ClientError, lost_database

log = logging.getLogger("actiondesk.http")


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status)


# Refusals worth an audit entry: what a probe or an attack looks like (malformed requests,
# guessed names, missing rights, oversized bodies, brute force). Invalid form values (422) and
# conflicts (409) are the ordinary mistakes of ordinary use.
AUDITED_KINDS = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    413: "too_large", 429: "rate_limited",
}


async def _client_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClientError)  # noqa: S101 - registered for ClientError only
    if not exc.audited:
        await _audit_refusal(request, exc.status, exc.audit_reason)
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers or None)


async def _audit_refusal(request: Request, status: int, reason: str) -> None:
    """Every refusal of an API request lands in the audit with who, what and why."""
    services = getattr(request.app.state, "services", None)
    audit = services.audit if services is not None else None
    kind = AUDITED_KINDS.get(status)
    if audit is None or kind is None or not _is_api(request):
        return
    caller = getattr(request.state, "caller", None)  # set by authenticate
    try:
        await audit.record(
            kind=kind, status_code=status, reason=reason,
            caller_id=caller.id if caller else None,
            caller_email=caller.email if caller else None, method=request.method,
            path=request.url.path, address=request.client.host if request.client else None,
        )
    except Exception:
        # The refusal stands even when it cannot be written down; say so in the log.
        log.exception("could not audit a refusal of %s %s", request.method, request.url.path)


def _is_api(request: Request) -> bool:
    root: str = request.scope.get("root_path", "") or ""
    return request.url.path.removeprefix(root).startswith("/api/")


def _location(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    parts = [str(p) for p in loc]
    where = parts[0] if parts else "request"
    name = ".".join(parts[1:]) or where
    return where, name


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    fields: dict[str, str] = {}
    in_body = False
    for err in exc.errors():
        where, name = _location(err.get("loc", ()))
        in_body = in_body or where == "body"
        fields.setdefault(name, str(err.get("msg", "invalid value")))
    # Bad query or path parameters are a 400; a body that parses but does not validate is a 422.
    status = 422 if in_body else 400
    names = ", ".join(fields)
    message = f"invalid value for {names}"
    await _audit_refusal(request, status, message)
    return error_response(status, message, fields=fields)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    messages = {404: "not found", 405: "method not allowed"}
    message = exc.detail if isinstance(exc.detail, str) else messages.get(exc.status_code, "error")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.url.path!r}"
    await _audit_refusal(request, exc.status_code, message)
    response = error_response(exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not lost_database(exc):
        return await _unexpected_error(request, exc)
    # The message of a driver error may hold a URL or a query: the log gets its type only.
    log.error("a database is unavailable on %s %s (%s)", request.method, request.url.path,
              type(exc).__name__)
    response = error_response(
        503, "a database is unavailable, so nothing was run (actions never run unaudited); "
        "retry in a moment")
    response.headers["Retry-After"] = "5"
    return response


async def _client_disconnected(request: Request, exc: Exception) -> JSONResponse:
    # The client went away while sending its body: nothing ran, and nobody reads the answer.
    log.info("the client disconnected before sending its whole request: %s %s",
             request.method, request.url.path)
    return error_response(400, "the client disconnected before sending its whole request")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error; the details are in the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(Exception, _unexpected_error)
