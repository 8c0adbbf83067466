"""Desk settings: given in code, or read from ``ACTIONDESK_*`` environment variables."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from actiondesk.remote.config import RemoteProvider, providers_from_env

ENV_PREFIX = "ACTIONDESK_"
DEFAULT_DATABASE_URL = "sqlite:///actiondesk.db"
DEFAULT_STATE_URL = "sqlite:///actiondesk-state.db"
MIN_SECRET_KEY_LENGTH = 32
KEYGEN_COMMAND = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
# Found inside a key, it is an example copied from documentation, not a secret.
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "replace_me", "replaceme",
                 "your-secret", "your_secret", "insecure", "placeholder")


class WeakSecretKeyWarning(UserWarning):
    """A weak secret key was accepted because the desk is in development mode."""


def secret_key_problem(key: str) -> str | None:
    """What makes ``key`` guessable (anyone who knows it can sign in as anybody), or None."""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return (f"has {len(key)} characters; it needs at least {MIN_SECRET_KEY_LENGTH} "
                "random ones")
    if any(word in key.lower() for word in _PLACEHOLDERS):
        return "is a placeholder from an example"
    if len(set(key)) < 10:
        return "repeats too few different characters to be random"
    return None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Everything a desk needs to know that is not code.

    Each value given to ``Desk(...)`` wins over the environment; anything not given is read from
    ``ACTIONDESK_<NAME>`` (``ACTIONDESK_DATABASE_URL``, ``ACTIONDESK_STATE_URL``,
    ``ACTIONDESK_SECRET_KEY``, ``ACTIONDESK_TITLE``, ``ACTIONDESK_DEFAULT_PAGE_SIZE``,
    ``ACTIONDESK_MAX_PAGE_SIZE``, ``ACTIONDESK_MAX_BODY_BYTES``, ``ACTIONDESK_DEV_MODE``,
    ``ACTIONDESK_ALLOW_WEAK_SECRET_KEY``,
    ``ACTIONDESK_EXTERNAL_IDENTITY_SECRET``, ``ACTIONDESK_APPROVAL_TTL`` in seconds,
    ``ACTIONDESK_REMOTE_REFRESH_INTERVAL`` in seconds, ``ACTIONDESK_WEBHOOK_ORIGINS``), then
    falls back to the default. Remote providers come from ``ACTIONDESK_REMOTE_<NAME>_URL`` and
    co. (see ``actiondesk.remote``).
    """

    database_url: str = DEFAULT_DATABASE_URL
    state_url: str = DEFAULT_STATE_URL
    secret_key: str = field(default="", repr=False)
    title: str = "actiondesk"
    default_page_size: int = 25
    max_page_size: int = 200
    max_body_bytes: int = 25 * 1024 * 1024
    dev_mode: bool = False
    # A secret key shorter than 32 characters or copied from an example is refused unless
    # this or dev_mode is on (then it is a warning): for throwaway local desks and tests.
    allow_weak_secret_key: bool = False
    external_identity_secret: str | None = field(default=None, repr=False)
    # How long an approval request waits for its decision before it expires.
    approval_ttl: dt.timedelta = dt.timedelta(days=7)
    # How often remote providers' action lists are fetched again (0: only on demand).
    remote_refresh_interval: float = 300.0
    remote_providers: tuple[RemoteProvider, ...] = ()
    # Where the browser may send the webhooks actions answer with: the Content-Security-Policy's
    # connect-src sources besides the desk itself ("https:" any https URL; e.g.
    # "https://hooks.slack.com http://localhost:9000" to narrow or widen it).
    webhook_origins: str = "https:"

    @classmethod
    def resolve(
        cls,
        *,
        database_url: str | None = None,
        state_url: str | None = None,
        secret_key: str | None = None,
        title: str | None = None,
        default_page_size: int | None = None,
        max_page_size: int | None = None,
        max_body_bytes: int | None = None,
        dev_mode: bool | None = None,
        allow_weak_secret_key: bool | None = None,
        external_identity_secret: str | None = None,
        approval_ttl: dt.timedelta | None = None,
        remote_refresh_interval: float | None = None,
        webhook_origins: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if environ is None else environ

        def pick(given: str | None, name: str, default: str) -> str:
            if given is not None:
                return given
            return env.get(ENV_PREFIX + name, default)

        def pick_int(given: int | None, name: str, default: int) -> int:
            if given is not None:
                return given
            raw = env.get(ENV_PREFIX + name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                from actiondesk.errors import ConfigurationError

                raise ConfigurationError(
                    f"{ENV_PREFIX}{name} must be a whole number, got {raw!r}"
                ) from None

        key = pick(secret_key, "SECRET_KEY", "")
        if not key:
            warnings.warn(
                "actiondesk: no secret key given (secret_key= or ACTIONDESK_SECRET_KEY); "
                "using a random one, so sessions and tokens end when the process stops",
                stacklevel=3,
            )
            key = secrets.token_urlsafe(32)
        settings = cls(
            database_url=pick(database_url, "DATABASE_URL", DEFAULT_DATABASE_URL),
            state_url=pick(state_url, "STATE_URL", DEFAULT_STATE_URL),
            secret_key=key,
            title=pick(title, "TITLE", "actiondesk"),
            default_page_size=pick_int(default_page_size, "DEFAULT_PAGE_SIZE", 25),
            max_page_size=pick_int(max_page_size, "MAX_PAGE_SIZE", 200),
            max_body_bytes=pick_int(max_body_bytes, "MAX_BODY_BYTES", 25 * 1024 * 1024),
            dev_mode=dev_mode if dev_mode is not None
            else _truthy(env.get(ENV_PREFIX + "DEV_MODE")),
            allow_weak_secret_key=allow_weak_secret_key if allow_weak_secret_key is not None
            else _truthy(env.get(ENV_PREFIX + "ALLOW_WEAK_SECRET_KEY")),
            external_identity_secret=pick(
                external_identity_secret, "EXTERNAL_IDENTITY_SECRET", ""
            ) or None,
            approval_ttl=approval_ttl if approval_ttl is not None else dt.timedelta(
                seconds=pick_int(None, "APPROVAL_TTL", 7 * 24 * 3600)
            ),
            remote_refresh_interval=remote_refresh_interval
            if remote_refresh_interval is not None
            else pick_int(None, "REMOTE_REFRESH_INTERVAL", 300),
            remote_providers=tuple(providers_from_env(env)),
            webhook_origins=pick(webhook_origins, "WEBHOOK_ORIGINS", "https:").strip(),
        )
        settings.validate()
        if problem := secret_key_problem(settings.secret_key):
            warnings.warn(
                f"actiondesk: the secret key {problem}: anyone who guesses it can sign in as "
                "anybody. Accepted only because dev_mode or ACTIONDESK_ALLOW_WEAK_SECRET_KEY "
                f"is on; generate a real one with: {KEYGEN_COMMAND}",
                WeakSecretKeyWarning, stacklevel=3,
            )
        return settings

    def validate(self) -> None:
        from actiondesk.errors import ConfigurationError

        problems = []
        if self.max_page_size < 1:
            problems.append("max_page_size must be at least 1")
        if not 1 <= self.default_page_size <= max(self.max_page_size, 1):
            problems.append("default_page_size must be between 1 and max_page_size")
        if (problem := secret_key_problem(self.secret_key)) and not (
            self.dev_mode or self.allow_weak_secret_key
        ):
            problems.append(
                f"secret_key (ACTIONDESK_SECRET_KEY) {problem}; generate one with: "
                f"{KEYGEN_COMMAND} (a local development desk may keep a weak key, with "
                "a warning, under dev_mode or ACTIONDESK_ALLOW_WEAK_SECRET_KEY=1)"
            )
        if self.external_identity_secret is not None and len(self.external_identity_secret) < 32:
            problems.append("external_identity_secret must have at least 32 characters")
        if self.max_body_bytes < 1024:
            problems.append("max_body_bytes must be at least 1024")
        if any(c in self.webhook_origins for c in ";,'\"\r\n"):
            problems.append("webhook_origins is a space-separated list of origins or schemes "
                            "(e.g. \"https: http://localhost:9000\"), without ; , or quotes")
        if self.approval_ttl <= dt.timedelta(0):
            problems.append("approval_ttl must be positive")
        if self.remote_refresh_interval < 0:
            problems.append("remote_refresh_interval must be 0 (off) or a number of seconds")
        if problems:
            raise ConfigurationError("; ".join(problems), problems)
