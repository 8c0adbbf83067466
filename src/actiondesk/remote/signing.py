"""Signed messages: HMAC-SHA256 over ``timestamp.nonce.body`` with a secret both sides share.

A request carries three headers::

    X-Actiondesk-Timestamp: 1767225600          (Unix seconds)
    X-Actiondesk-Nonce:     3f6c0b0d8f3e4a51b1a4f1f0c2d9e8a7   (16 to 64 of A-Z a-z 0-9 _ -)
    X-Actiondesk-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<nonce>." + body)>

The receiver refuses a message whose signature does not match, whose timestamp is further
than the tolerance from its clock, or whose nonce it has already seen within that window (a
replay). An answer is signed the same way with the *request's* nonce, so a recorded answer
cannot be passed off as the answer to another request.

HMAC rather than a JWT: the signature covers the exact body bytes (a JWT authenticates only
its own claims, unless a body hash is added by hand), it takes a few lines of any language's
standard library, and there is no algorithm to negotiate (no ``alg: none`` pitfalls).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence

from actiondesk.remote.nonces import NonceStore, remember

TIMESTAMP_HEADER = "X-Actiondesk-Timestamp"
NONCE_HEADER = "X-Actiondesk-Nonce"
SIGNATURE_HEADER = "X-Actiondesk-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300
MIN_SECRET_LENGTH = 32
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class SignatureError(Exception):
    """A message or answer whose signature cannot be accepted; the message says why."""


def compute(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature header value of a body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def new_nonce() -> str:
    return secrets.token_hex(16)


def sign(secret: str, body: bytes, *, nonce: str | None = None,
         now: float | None = None) -> dict[str, str]:
    """The headers that sign a request body (a fresh nonce unless one is given)."""
    timestamp = str(int(time.time() if now is None else now))
    used = nonce or new_nonce()
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: used,
        SIGNATURE_HEADER: compute(secret, timestamp, used, body),
    }


def sign_answer(secret: str, body: bytes, request_nonce: str,
                now: float | None = None) -> dict[str, str]:
    """The headers that sign an answer to the request that carried ``request_nonce``."""
    return sign(secret, body, nonce=request_nonce, now=now)


class NonceCache:
    """Nonces seen within the validity window, in this process (thread-safe).

    Several processes serving the same secret each keep their own: a replay sent to another
    process within the window would pass there. Give ``RemoteActions(nonces=...)`` a shared
    store when that matters: ``SqlNonceStore(url)`` (a table in a SQL database), or any
    object with the same ``add`` method (Redis ``SET NX EX``, ...).
    """

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def add(self, nonce: str, expires_at: float) -> bool:
        """Remember ``nonce`` until ``expires_at``; False if it was already there."""
        now = time.time()
        with self._lock:
            if now >= self._next_prune:
                self._seen = {n: t for n, t in self._seen.items() if t > now}
                self._next_prune = now + 30
            seen = self._seen.get(nonce)
            if seen is not None and seen > now:
                return False
            self._seen[nonce] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._seen)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify(
    secrets_: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    nonces: NonceStore | None = None,
    expected_nonce: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check a signed message or answer and return its nonce; SignatureError says what is
    wrong. Several secrets may be given while one is being replaced. With ``nonces`` a nonce
    is accepted once; with ``expected_nonce`` (an answer) it must be the request's."""
    timestamp = _header(headers, TIMESTAMP_HEADER)
    nonce = _header(headers, NONCE_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not nonce or not given:
        raise SignatureError(
            f"not signed: {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER} are required"
        )
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds")
    if not _NONCE.fullmatch(nonce):
        raise SignatureError(f"{NONCE_HEADER} must be 16 to 64 letters, digits, _ or -")
    keys = [secrets_] if isinstance(secrets_, str) else list(secrets_)
    if not any(hmac.compare_digest(compute(k, timestamp, nonce, body), given) for k in keys):
        raise SignatureError("wrong signature (another secret, or the body was changed)")
    clock = time.time() if now is None else now
    if abs(clock - int(timestamp)) > tolerance:
        raise SignatureError(
            f"expired: signed {int(clock - int(timestamp))} s from now, more than the "
            f"{tolerance} s allowed (are both clocks right?)"
        )
    if expected_nonce is not None and not hmac.compare_digest(nonce, expected_nonce):
        raise SignatureError("the answer is signed for another request (nonce differs)")
    if nonces is not None and not nonces.add(nonce, int(timestamp) + tolerance + 1):
        raise SignatureError("replayed: this nonce was already used")
    return nonce


async def verify_async(
    secrets_: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    nonces: NonceStore | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """``verify`` for a message received on an event loop: a store with ``add_async``
    (``SqlNonceStore``) is awaited rather than blocking the loop."""
    nonce = verify(secrets_, headers, body, tolerance=tolerance)
    timestamp = int(_header(headers, TIMESTAMP_HEADER) or 0)
    if nonces is not None and not await remember(nonces, nonce, timestamp + tolerance + 1):
        raise SignatureError("replayed: this nonce was already used")
    return nonce
