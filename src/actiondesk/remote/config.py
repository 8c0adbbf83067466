"""Remote providers: other services that list and execute actions over the signed protocol.

Declare one in code with ``desk.remote_provider("billing", url=..., secret=...)``, or in the
environment::

    ACTIONDESK_REMOTE_BILLING_URL=https://billing.internal/actiondesk
    ACTIONDESK_REMOTE_BILLING_SECRET=<32+ characters>
    ACTIONDESK_REMOTE_BILLING_TIMEOUT=10                      (seconds; optional)
    ACTIONDESK_REMOTE_BILLING_COLLECTIONS=app.Account=accounts,app.Company=companies
    ACTIONDESK_REMOTE_BILLING_BATCH_SIZE=1000                 (optional)
    ACTIONDESK_REMOTE_BILLING_DISCOVER=0                      (optional: endpoint actions only)

The provider's name is the lowercased middle part (``billing``).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from actiondesk.errors import ConfigurationError
from actiondesk.remote.signing import DEFAULT_TOLERANCE, MIN_SECRET_LENGTH

log = logging.getLogger("actiondesk.remote")

ENV_PREFIX = "ACTIONDESK_REMOTE_"
DEFAULT_TIMEOUT = 10.0
DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_ANSWER_BYTES = 25 * 1024 * 1024
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")
_ENV_KEYS = ("URL", "SECRET", "TIMEOUT", "COLLECTIONS", "BATCH_SIZE", "DISCOVER")


@dataclass(frozen=True)
class RemoteProvider:
    """How to reach one remote provider.

    ``url`` receives the protocol's messages (``GET_ACTION_LIST``, ``EXECUTE_ACTION``);
    ``secret`` (32+ characters) signs them; ``timeout`` bounds every exchange (seconds);
    ``collections`` maps the provider's model names (Jet's ``app.Account``) to collections;
    ``batch_size`` is how many record ids one ``EXECUTE_ACTION`` carries at most;
    ``discover=False`` for a provider used only by endpoint actions (no action list);
    ``signed_answers=False`` accepts unsigned answers (an endpoint that cannot sign them).
    """

    name: str
    url: str
    secret: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    collections: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = DEFAULT_BATCH_SIZE
    discover: bool = True
    signed_answers: bool = True
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    tolerance: int = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        object.__setattr__(self, "collections", MappingProxyType(dict(self.collections)))
        problems = self.problems()
        if problems:
            where = f"remote provider {self.name!r}"
            raise ConfigurationError(f"{where}: " + "; ".join(problems),
                                     [f"{where}: {p}" for p in problems])
        if not _is_private(self.url):
            log.warning("remote provider %r: %s is plain http; form values (secrets too) travel "
                        "unencrypted: use https", self.name, self.url)

    def problems(self) -> list[str]:
        problems = []
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            problems.append("the name must be 1 to 60 lowercase letters, digits, _ or -")
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"url {self.url!r} must be an http(s) URL")
        if not isinstance(self.secret, str) or len(self.secret) < MIN_SECRET_LENGTH:
            problems.append(f"secret must have at least {MIN_SECRET_LENGTH} characters")
        if not isinstance(self.timeout, int | float) or not 0 < self.timeout <= 600:
            problems.append("timeout must be between 0 and 600 seconds")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 10_000:
            problems.append("batch_size must be between 1 and 10,000")
        if not isinstance(self.max_answer_bytes, int) or self.max_answer_bytes < 1024:
            problems.append("max_answer_bytes must be at least 1024")
        if not isinstance(self.tolerance, int) or not 5 <= self.tolerance <= 3600:
            problems.append("tolerance must be between 5 and 3600 seconds")
        bad = [k for k, v in self.collections.items()
               if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            problems.append("collections must map model names (text) to collection names")
        return problems

    def url_for(self, endpoint: str) -> str:
        """An endpoint: an absolute http(s) URL, or a path resolved against ``url``."""
        if endpoint.startswith(("http://", "https://")):
            return endpoint
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/{endpoint.lstrip('/')}"

    def to_json(self) -> dict[str, Any]:
        """The configuration without its secret (and without credentials in the URL)."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return {
            "name": self.name,
            "url": parts._replace(netloc=netloc).geturl(),
            "timeout": self.timeout,
            "collections": dict(self.collections),
            "batch_size": self.batch_size,
            "discover": self.discover,
            "signed_answers": self.signed_answers,
        }


def _is_private(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def providers_from_env(environ: Mapping[str, str]) -> list[RemoteProvider]:
    """The providers the environment declares (``ACTIONDESK_REMOTE_<NAME>_URL`` and co.)."""
    found: dict[str, dict[str, str]] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        rest = key[len(ENV_PREFIX):]
        for suffix in _ENV_KEYS:
            if rest.endswith("_" + suffix) and len(rest) > len(suffix) + 1:
                found.setdefault(rest[: -len(suffix) - 1], {})[suffix] = value
                break
    providers = []
    problems: list[str] = []
    for raw_name, values in sorted(found.items()):
        name = raw_name.lower()
        where = f"{ENV_PREFIX}{raw_name}_"
        if "URL" not in values or "SECRET" not in values:
            problems.append(f"{where}URL and {where}SECRET are both needed")
            continue
        try:
            providers.append(RemoteProvider(
                name=name,
                url=values["URL"],
                secret=values["SECRET"],
                timeout=_number(values.get("TIMEOUT"), DEFAULT_TIMEOUT, where + "TIMEOUT"),
                collections=_mapping(values.get("COLLECTIONS", ""), where + "COLLECTIONS"),
                batch_size=int(_number(values.get("BATCH_SIZE"), DEFAULT_BATCH_SIZE,
                                       where + "BATCH_SIZE")),
                discover=values.get("DISCOVER", "1").strip().lower()
                not in ("0", "false", "no", "off"),
            ))
        except ConfigurationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigurationError("; ".join(problems), problems)
    return providers


def _number(raw: str | None, default: float, name: str) -> float:
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None


def _mapping(raw: str, name: str) -> dict[str, str]:
    result = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        model, sep, collection = item.partition("=")
        if not sep or not model.strip() or not collection.strip():
            raise ConfigurationError(f"{name} must be model=collection pairs joined by commas, "
                                     f"got {item!r}")
        result[model.strip()] = collection.strip()
    return result
