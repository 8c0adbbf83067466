"""Signed tokens: the UI's session (in a cookie) and bearer tokens for scripts, both JWT
HS256 with the desk's secret; and, optionally, JWTs issued by a host application."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from actiondesk.actions.context import Caller
from actiondesk.services.users import UnauthorizedError, User

SESSION = "session"
ACCESS = "access"
ALGORITHM = "HS256"
# Tokens verified recently, kept so a script's every request does not pay the signature check
# and the parsing again; the expiry is still checked on every use.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Claims:
    user_id: str
    session_version: int
    kind: str
    csrf: str | None
    # The token's own id and end: what signing out (or revoking a bearer token) records.
    token_id: str
    expires_at: dt.datetime


class TokenService:
    def __init__(self, secret: str, *, external_secret: str | None = None,
                 session_ttl: dt.timedelta = dt.timedelta(hours=12)) -> None:
        # Keys derived per use, so a short configured secret still yields a full-size HS256
        # key and a session token can never be replayed as something else.
        self._secret = hashlib.sha256(b"actiondesk-tokens:" + secret.encode()).digest()
        self._external_secret = external_secret
        self.session_ttl = session_ttl
        self._verified: dict[tuple[str, str], Claims] = {}

    def session(self, user: User) -> tuple[str, str]:
        """A session token and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        return self._issue(user, SESSION, self.session_ttl, csrf=csrf), csrf

    def access(self, user: User, expires_in: dt.timedelta) -> str:
        return self._issue(user, ACCESS, expires_in)

    def _issue(self, user: User, kind: str, ttl: dt.timedelta, csrf: str | None = None) -> str:
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "sub": user.id, "sv": user.session_version, "typ": kind,
            "iat": now, "exp": now + ttl, "jti": secrets.token_hex(8),
        }
        if csrf is not None:
            claims["csrf"] = csrf
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, kind: str) -> Claims:
        """The claims of one of our tokens; 401 if forged, expired or of another kind."""
        known = self._verified.get((token, kind))
        if known is None:
            known = self._verify(token, kind)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[(token, kind)] = known
        elif known.expires_at <= dt.datetime.now(dt.UTC):
            self._verified.pop((token, kind), None)
            raise UnauthorizedError("the token has expired; sign in again")
        return known

    def _verify(self, token: str, kind: str) -> Claims:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM],
                options={"require": ["sub", "exp", "typ", "sv", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("the token has expired; sign in again") from None
        except jwt.PyJWTError:
            raise UnauthorizedError("the token is not valid") from None
        token_id = claims.get("jti")
        if (claims.get("typ") != kind or not isinstance(claims.get("sv"), int)
                or not isinstance(token_id, str) or not 0 < len(token_id) <= 64):
            raise UnauthorizedError("the token is not valid here")
        return Claims(str(claims["sub"]), claims["sv"], kind, claims.get("csrf"), token_id,
                      dt.datetime.fromtimestamp(claims["exp"], dt.UTC))

    @property
    def external(self) -> bool:
        return self._external_secret is not None

    def is_ours(self, token: str) -> bool:
        """Whether a token claims to be one of our access tokens (checked afterwards)."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return True
        return unverified.get("typ") in (ACCESS, SESSION)

    def external_caller(self, token: str) -> Caller:
        """The caller a host application vouches for: its JWT (HS256 with the external
        secret) carries id, email, firstName, lastName, team, role and tags."""
        if self._external_secret is None:
            raise UnauthorizedError("the token is not valid")
        try:
            claims = jwt.decode(token, self._external_secret, algorithms=[ALGORITHM],
                                options={"require": ["exp", "id", "email", "role"]})
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("the token has expired") from None
        except jwt.PyJWTError:
            raise UnauthorizedError("the token is not valid") from None
        tags = claims.get("tags") or {}
        if not isinstance(tags, Mapping):
            raise UnauthorizedError("the token's tags must be an object")
        return Caller(
            id=f"external:{claims['id']}", email=str(claims["email"]),
            first_name=str(claims.get("firstName", "")),
            last_name=str(claims.get("lastName", "")), team=str(claims.get("team", "")),
            role=str(claims["role"]), tags={str(k): str(v) for k, v in tags.items()},
        )
