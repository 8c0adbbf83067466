"""Users of actiondesk: accounts, roles, activation, passwords, sign-in with rate limits."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from actiondesk.actions.context import Caller
from actiondesk.data.state import StateStore
from actiondesk.data.state_schema.access import (
    login_failures_table,
    revoked_tokens_table,
    roles_table,
    users_table,
)
from actiondesk.errors import BadRequestError, ClientError, ConflictError, NotFoundError
from actiondesk.permissions.service import bump_version, keeping_an_admin
from actiondesk.services.passwords import hash_password, password_problem, verify_password

_u = users_table.c
_f = login_failures_table.c
_t = revoked_tokens_table.c
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")

LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 30
BAD_CREDENTIALS = "wrong email or password"


class UnauthorizedError(ClientError):
    status = 401


class TooManyAttemptsError(ClientError):
    status = 429


@dataclass(frozen=True)
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    team: str
    role: str
    tags: Mapping[str, str] = field(default_factory=dict)
    active: bool = True
    session_version: int = 1

    def caller(self) -> Caller:
        return Caller(
            id=self.id, email=self.email, first_name=self.first_name,
            last_name=self.last_name, team=self.team, role=self.role, tags=dict(self.tags),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "email": self.email, "first_name": self.first_name,
            "last_name": self.last_name, "team": self.team, "role": self.role,
            "tags": dict(self.tags), "active": self.active,
        }


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _user(row: Mapping[str, Any] | RowMapping) -> User:
    return User(
        id=row["id"], email=row["email"], first_name=row["first_name"],
        last_name=row["last_name"], team=row["team"], role=row["role"],
        tags=dict(row["tags"] or {}), active=bool(row["active"]),
        session_version=int(row["session_version"]),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UsersService:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._by_version: dict[str, tuple[int, User]] = {}
        self._revoked: tuple[int, frozenset[str]] | None = None

    async def create(
        self,
        email: str,
        *,
        role: str,
        password: str | None = None,
        first_name: str = "",
        last_name: str = "",
        team: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> User:
        email = normalize_email(email)
        problems: dict[str, str] = {}
        if not _EMAIL.match(email):
            problems["email"] = "is not an email address"
        if password is not None and (problem := password_problem(password)):
            problems["password"] = problem
        if problems:
            raise BadRequestError("invalid user: " + ", ".join(problems), fields=problems)
        now = _now()
        row = {
            "id": uuid.uuid4().hex, "email": email, "first_name": first_name[:100],
            "last_name": last_name[:100], "team": team[:100], "role": role,
            "tags": dict(tags or {}),
            "password_hash": hash_password(password) if password else None,
            "active": True, "session_version": 1, "created_at": now, "updated_at": now,
        }
        async with self.store.write() as conn:
            await self._require_role(conn, role)
            try:
                await conn.execute(users_table.insert().values(**row))
            except IntegrityError:
                raise ConflictError(f"a user with email {email!r} already exists",
                                    fields={"email": "already used"}) from None
        return _user(row)

    async def _require_role(self, conn: AsyncConnection, role: str) -> None:
        found = await conn.scalar(sa.select(roles_table.c.name).where(roles_table.c.name == role))
        if found is None:
            raise BadRequestError(f"no role named {role!r}; create it first",
                                  fields={"role": "unknown role"})

    async def get(self, user_id: str) -> User | None:
        async with self.store.read() as conn:
            row = (await conn.execute(sa.select(users_table).where(_u.id == user_id))).first()
        return _user(row._mapping) if row else None

    async def current(self, user_id: str, version: int) -> User | None:
        """The user as of permissions ``version`` (every user change bumps it): cached per
        process, read again only after a change."""
        cached = self._by_version.get(user_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        user = await self.get(user_id)
        if user is not None:
            if len(self._by_version) > 10_000:
                self._by_version.clear()
            self._by_version[user_id] = (version, user)
        return user

    async def by_email(self, email: str) -> User | None:
        async with self.store.engine.connect() as conn:
            query = sa.select(users_table).where(_u.email == normalize_email(email))
            row = (await conn.execute(query)).first()
        return _user(row._mapping) if row else None

    async def require(self, email: str) -> User:
        user = await self.by_email(email)
        if user is None:
            raise NotFoundError(f"no user with email {normalize_email(email)!r}")
        return user

    async def list(self) -> list[User]:
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(sa.select(users_table).order_by(_u.email))).all()
        return [_user(r._mapping) for r in rows]

    async def _update(self, email: str, change: str, **values: Any) -> User:
        user = await self.require(email)
        async with self.store.write() as conn:
            if "role" in values:
                await self._require_role(conn, values["role"])
            # Any change to who the user is ends their sessions and tokens, and invalidates
            # every process's cache of users.
            await bump_version(conn)
            async with keeping_an_admin(conn, f"{change} {user.email}"):
                await conn.execute(
                    users_table.update().where(_u.id == user.id).values(
                        session_version=_u.session_version + 1, updated_at=_now(), **values
                    )
                )
        return await self.require(email)

    async def set_role(self, email: str, role: str) -> User:
        return await self._update(email, f"giving role {role!r} to", role=role)

    async def deactivate(self, email: str) -> User:
        return await self._update(email, "deactivating", active=False)

    async def sign_out_everywhere(self, email: str) -> User:
        """End every session and bearer token of the user (they may sign in again)."""
        return await self._update(email, "signing out")

    async def revoke_token(self, user_id: str, token_id: str, expires_at: dt.datetime) -> None:
        """End one session or bearer token (by its id) in every process, at its next
        request; kept until it would have expired anyway."""
        now = _now()
        async with self.store.write() as conn:
            await bump_version(conn)
            await conn.execute(revoked_tokens_table.delete().where(
                sa.or_(_t.expires_at < now, _t.jti == token_id)))
            await conn.execute(revoked_tokens_table.insert().values(
                jti=token_id, user_id=user_id, expires_at=expires_at))

    async def is_revoked(self, token_id: str, version: int) -> bool:
        """Whether the token was revoked, as of permissions ``version`` (a revocation bumps
        it): the ids are read once per change, not per request."""
        cached = self._revoked
        if cached is None or cached[0] != version:
            async with self.store.read() as conn:
                ids = frozenset(await conn.scalars(
                    sa.select(_t.jti).where(_t.expires_at >= _now())))
            cached = self._revoked = (version, ids)
        return token_id in cached[1]

    async def activate(self, email: str) -> User:
        return await self._update(email, "activating", active=True)

    async def set_password(self, email: str, password: str) -> User:
        if problem := password_problem(password):
            raise BadRequestError(f"password {problem}", fields={"password": problem})
        return await self._update(email, "changing the password of",
                                  password_hash=hash_password(password))

    async def authenticate(self, email: str, password: str, address: str | None) -> User:
        """The user, or 401 with the same message whether the account exists or not;
        429 after too many recent failures for the account or the address."""
        email = normalize_email(email)
        keys = [f"account:{email}"[:400]] + ([f"address:{address}"] if address else [])
        since = _now() - LOGIN_WINDOW
        async with self.store.engine.connect() as conn:
            counts = {
                key: int(await conn.scalar(
                    sa.select(sa.func.count()).select_from(login_failures_table).where(
                        _f.key == key, _f.failed_at >= since)
                ) or 0)
                for key in keys
            }
            row = (await conn.execute(sa.select(users_table).where(_u.email == email))).first()
        if counts.get(keys[0], 0) >= MAX_FAILURES_PER_ACCOUNT or (
            len(keys) > 1 and counts.get(keys[1], 0) >= MAX_FAILURES_PER_ADDRESS
        ):
            raise TooManyAttemptsError("too many failed sign-ins; try again in 15 minutes")
        user = _user(row._mapping) if row else None
        stored_hash = row._mapping["password_hash"] if row else None
        if not verify_password(stored_hash, password) or user is None or not user.active:
            async with self.store.write() as conn:
                await conn.execute(login_failures_table.insert(),
                                   [{"key": key, "failed_at": _now()} for key in keys])
            raise UnauthorizedError(BAD_CREDENTIALS)
        async with self.store.write() as conn:
            await conn.execute(login_failures_table.delete().where(_f.key == keys[0]))
            # Old failures of every key are pruned so the table stays small.
            await conn.execute(login_failures_table.delete().where(_f.failed_at < since))
        return user
