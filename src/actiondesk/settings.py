"""Desk settings: given in code, or read from ``ACTIONDESK_*`` environment variables.

``Settings`` is a pydantic-settings model: each setting is declared once below, with its type,
default, check and description; ``Desk(title=...)`` and ``Settings(title=...)`` take any of them
by name, and a setting not given is read from ``ACTIONDESK_<NAME>`` (``ACTIONDESK_TITLE``), then
falls back to its default. README's "Settings" table lists them (a test keeps the two in step).
A mistake fails at once with ``ConfigurationError`` naming the setting, or the environment
variable it came from, and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import secrets
import warnings
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from actiondesk.background.config import RUNNERS
from actiondesk.data.state import SQLITE_SYNCHRONOUS
from actiondesk.errors import ConfigurationError
from actiondesk.remote.config import RemoteProvider, providers_from_env

ENV_PREFIX = "ACTIONDESK_"
MIN_SECRET_KEY_LENGTH = 32
KEYGEN_COMMAND = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
# Found inside a key, it is an example copied from documentation, not a secret.
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "replace_me", "replaceme",
                 "your-secret", "your_secret", "insecure", "placeholder")


NO_SECRET_KEY = "actiondesk: no secret key given"  # noqa: S105 - a message, not a key


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


def _holds(test: Callable[[Any], bool], problem: str) -> AfterValidator:
    """A check of one setting; ``problem`` completes "<setting> ..." when it fails (``{value}``
    in it is the value given)."""

    def check(value: Any) -> Any:
        if not test(value):
            raise ValueError(problem.format(value=value))
        return value

    return AfterValidator(check)


def _seconds(value: Any) -> Any:
    # The environment gives durations in seconds ("3600"); pydantic takes seconds as a number.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Seconds = Annotated[dt.timedelta, BeforeValidator(_seconds)]


class Settings(BaseSettings):
    """Everything a desk needs to know that is not code.

    A value given in code (``Desk(max_page_size=100)``, ``Settings(max_page_size=100)``) wins
    over the environment (``ACTIONDESK_MAX_PAGE_SIZE=100``); ``None`` counts as not given.
    Durations are ``timedelta`` in code and seconds in the environment. Remote providers come
    from ``ACTIONDESK_REMOTE_<NAME>_URL`` and co. (see ``actiondesk.remote``).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True
    )

    database_url: str = Field(
        "sqlite:///actiondesk.db", description="the database the desk shows and acts on")
    state_url: str = Field(
        "sqlite:///actiondesk-state.db",
        description="the desk's own database: users, runs, audit, permissions, approvals")
    state_sqlite_synchronous: Annotated[
        str, AfterValidator(str.upper),
        _holds(lambda s: s in SQLITE_SYNCHRONOUS,
               f"must be one of {', '.join(SQLITE_SYNCHRONOUS)}, not {{value!r}}"),
    ] = Field("NORMAL", description="a SQLite state database's durability (it runs in WAL "
                                    "mode): NORMAL survives a crash of the process, FULL also "
                                    "a power loss, at the cost of a sync per commit")
    db_max_connections: int = Field(
        30, ge=2, le=1000,
        description="the most connections one process opens to each server database (your "
                    "database and the state database, PostgreSQL or MariaDB): all processes "
                    "together must fit in the server's own limit (max_connections)")
    dev_mode: bool = Field(
        False, description="every signed-in user may trigger every action (shown as such)")
    allow_weak_secret_key: bool = Field(
        False, description="accept a weak secret_key with a warning (throwaway local desks, "
                           "tests); dev_mode does too")
    secret_key: str = Field(
        "", repr=False, validate_default=True,
        description="signs sessions and tokens: 32+ random characters; random per process, "
                    "with a warning, if unset")
    title: str = Field("actiondesk", description="the name shown in the UI and the API docs")
    default_page_size: Annotated[
        int, _holds(lambda n: n >= 1, "must be between 1 and max_page_size")
    ] = Field(
        25, description="records per page when the request does not say")
    max_page_size: Annotated[int, _holds(lambda n: n >= 1, "must be at least 1")] = Field(
        200, description="the most records one page may ask for")
    max_body_bytes: Annotated[int, _holds(lambda n: n >= 1024, "must be at least 1024")] = Field(
        25 * 1024 * 1024, description="larger request bodies are refused (an audited 413)")
    external_identity_secret: Annotated[
        str | None,
        _holds(lambda s: s is None or len(s) >= 32, "must have at least 32 characters"),
    ] = Field(None, repr=False,
              description="also accept JWTs signed by the host application with this secret")
    approval_ttl: Annotated[Seconds, _holds(lambda d: d > dt.timedelta(0), "must be positive")] = (
        Field(dt.timedelta(days=7),
              description="how long an approval request waits for its decision"))
    remote_refresh_interval: Annotated[
        float, _holds(lambda s: s >= 0, "must be 0 (off) or a number of seconds")
    ] = Field(300.0, description="seconds between fetches of remote providers' action lists "
                                 "(0: only on demand)")
    remote_providers: tuple[RemoteProvider, ...] = Field(
        default_factory=lambda: tuple(providers_from_env(os.environ)),
        description="the services whose actions the desk lists and runs")
    webhook_origins: Annotated[
        str,
        AfterValidator(str.strip),
        _holds(lambda s: not any(c in s for c in ";,'\"\r\n"),
               "is a space-separated list of origins or schemes "
               "(e.g. \"https: http://localhost:9000\"), without ; , or quotes"),
    ] = Field("https:", description="where the browser may send the webhooks actions answer "
                                    "with (the Content-Security-Policy's connect-src)")
    runner: Annotated[
        str, _holds(lambda r: r in RUNNERS, f"must be one of {', '.join(RUNNERS)}, not {{value!r}}")
    ] = Field("inprocess", description="what executes background runs")
    runner_concurrency: Annotated[
        int, _holds(lambda n: n >= 1, "must be a whole number >= 1")
    ] = Field(4, description="background runs executed at once per process")
    run_lease: Annotated[
        Seconds, _holds(lambda d: d >= dt.timedelta(seconds=1), "must be at least 1 second")
    ] = Field(dt.timedelta(seconds=30),
              description="how soon another process takes over the runs of one that died")

    notify_smtp_url: Annotated[
        str | None,
        _holds(lambda u: u is None or u.startswith(("smtp://", "smtps://")),
               "must start with smtp:// or smtps:// (smtp://user:password@host:587"
               "?starttls=true)"),
    ] = Field(None, repr=False,
              description="e-mail approval notifications through this SMTP server "
                          "(smtp://[user:password@]host[:port][?starttls=true], or smtps://)")
    notify_email_from: str = Field(
        "actiondesk@localhost", description="the From address of notification e-mails")
    notify_webhook_url: Annotated[
        str | None,
        _holds(lambda u: u is None or u.startswith(("http://", "https://")),
               "must be an http(s) URL"),
    ] = Field(None, description="POST each approval event here, signed with "
                                "notify_webhook_secret")
    notify_webhook_secret: Annotated[
        str | None,
        _holds(lambda s: s is None or len(s) >= 32, "must have at least 32 characters"),
    ] = Field(None, repr=False, description="the HMAC secret signing notification webhooks")
    notify_timeout: Annotated[
        float, _holds(lambda s: 0 < s <= 300, "must be a number of seconds, 0 to 300")
    ] = Field(10.0, description="seconds an e-mail or webhook delivery may take")
    public_url: Annotated[
        str | None,
        _holds(lambda u: u is None or u.startswith(("http://", "https://")),
               "must be an http(s) URL"),
    ] = Field(None, description="the desk's address as users reach it, for links in e-mails")

    def __init__(self, **values: Any) -> None:
        given = {name: value for name, value in values.items() if value is not None}
        try:
            super().__init__(**given)
        except ValidationError as exc:
            problems = [_problem(error, given) for error in exc.errors()]
            raise ConfigurationError("; ".join(problems), problems) from None

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, key: str, info: ValidationInfo) -> str:
        # dev_mode and allow_weak_secret_key are declared before secret_key, so info.data
        # holds them (when they are valid).
        if not key:
            warnings.warn(
                f"{NO_SECRET_KEY} (secret_key= or ACTIONDESK_SECRET_KEY); "
                "using a random one, so sessions and tokens end when the process stops",
                stacklevel=4,  # Settings.__init__
            )
            return secrets.token_urlsafe(32)
        if problem := secret_key_problem(key):
            if not (info.data.get("dev_mode") or info.data.get("allow_weak_secret_key")):
                raise ValueError(
                    f"(ACTIONDESK_SECRET_KEY) {problem}; generate one with: {KEYGEN_COMMAND} "
                    "(a local development desk may keep a weak key, with a warning, under "
                    "dev_mode or ACTIONDESK_ALLOW_WEAK_SECRET_KEY=1)")
            warnings.warn(
                f"actiondesk: the secret key {problem}: anyone who guesses it can sign in as "
                "anybody. Accepted only because dev_mode or ACTIONDESK_ALLOW_WEAK_SECRET_KEY "
                f"is on; generate a real one with: {KEYGEN_COMMAND}",
                WeakSecretKeyWarning, stacklevel=4,
            )
        return key

    @model_validator(mode="after")
    def _page_sizes_agree(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size must be between 1 and max_page_size")
        if self.notify_webhook_url and not self.notify_webhook_secret:
            raise ValueError("notify_webhook_url needs notify_webhook_secret (32+ random "
                             "characters) to sign the webhook")
        return self


# What a value that cannot be read must be, by the start of pydantic's error type.
_EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false",
             "string": "text", "time_delta": "a number of seconds"}


def _problem(error: ErrorDetails, given: dict[str, Any]) -> str:
    """One validation error as a sentence that names the setting (as given in code) or its
    environment variable, and says what is allowed; secrets' values are never repeated."""
    name = str(error["loc"][0]) if error["loc"] else ""
    fields = Settings.model_fields
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{name!r} is not a setting{hint}; the settings are {', '.join(fields)}"
    if error["type"] == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        return f"{name} {message}" if name else message
    where = name if name in given else ENV_PREFIX + name.upper()
    kind = next((what for prefix, what in _EXPECTED.items()
                 if error["type"].startswith(prefix + "_")), None)
    if kind is None:
        kind = error["msg"][0].lower() + error["msg"][1:]
        return f"{where}: {kind}"
    if kind == "a number of seconds" and name in given:
        kind = "a datetime.timedelta"
    shown = fields[name].repr if name in fields else True
    return f"{where} must be {kind}" + (f", got {error['input']!r}" if shown else "")
