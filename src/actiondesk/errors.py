"""Exceptions raised by actiondesk.

Errors that reach a client carry an HTTP status and a message; the HTTP layer turns them into
the JSON shape ``{error, detail?, fields?}``. ``ConfigurationError`` is for the developer: it is
raised at declaration or start-up time and says what to change.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exc as sa_exc


class ActiondeskError(Exception):
    """Base class of every error actiondesk raises on purpose."""


class ConfigurationError(ActiondeskError):
    """The desk is configured in a way that cannot work; the message says what to change."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or [message]
        super().__init__(message)


class ClientError(ActiondeskError):
    """An error caused by the request; shown to the client as JSON with ``status``."""

    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        detail: Any = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message
        self.detail = detail
        # Set when the refusal is already recorded (as a run), so it is not audited twice.
        self.audited = False
        self.fields = dict(fields) if fields else None
        # Response headers the HTTP layer adds (the run id of a refused execution, say).
        self.headers: dict[str, str] = {}
        super().__init__(message)

    @property
    def audit_reason(self) -> str:
        """Why it was refused, as the audit keeps it."""
        return self.message

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        if self.fields:
            body["fields"] = self.fields
        return body


class BadRequestError(ClientError):
    status = 400


class NotFoundError(ClientError):
    status = 404


class ConcealedError(NotFoundError):
    """404 for something that exists but the caller may not see: the answer is word for word
    the one for an unknown name, so it reveals nothing; the real reason goes to the audit."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def audit_reason(self) -> str:
        return f"{self.reason}; answered as unknown (404)"


class FilterError(BadRequestError):
    """A filter does not fit the collection it is applied to."""


class ForbiddenError(ClientError):
    """403: a rule or a record condition forbids it; the message says which."""

    status = 403


class ConflictError(ClientError):
    status = 409


class PayloadTooLargeError(ClientError):
    status = 413


class UnavailableError(ClientError):
    """503: a database is out of reach; nothing ran unaudited, and a retry may work."""

    status = 503


class ActionFailedError(ClientError):
    """500 for a handler that crashed: a generic message and the run id, never the details."""

    status = 500


class UpstreamError(ActionFailedError):
    """502: the service an action runs in (a remote provider or endpoint) could not be
    reached or gave an answer that cannot be used; the message says which and why."""

    status = 502


class UpstreamTimeoutError(UpstreamError):
    """504: the service an action runs in did not answer in time."""

    status = 504


def lost_database(exc: BaseException) -> bool:
    """Whether an error means a database is out of reach (refused, dropped or timed-out
    connection) rather than a bug."""
    if isinstance(exc, sa_exc.DBAPIError):
        # No statement: the error came while connecting. SQLSTATE 08 is a connection
        # exception, 57P an administrator's or a crash's shutdown, 53300 too many connections.
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
        return (bool(exc.connection_invalidated) or exc.statement is None
                or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
                or state.startswith(("08", "57P", "53300")))
    if isinstance(exc, ConnectionError | TimeoutError | sa_exc.TimeoutError):
        return True
    # A refused connect to several addresses is a plain OSError ("Multiple exceptions").
    return (isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS) or (
        isinstance(exc, OSError) and exc.errno is None and "connect" in str(exc).lower())


_NETWORK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED,
                             errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT})
