"""Declaring providers and endpoint actions: mistakes fail at once and say what to change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from actiondesk import ConfigurationError, Desk, Settings
from tests.conftest import Environ
from tests.remote.remote_app import SECRET
from tests.sample_schema import create_and_seed, metadata


def desk_in(tmp_path: Path, **options: object) -> Desk:
    return Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}",
                state_url=f"sqlite:///{tmp_path / 's.db'}", secret_key="k", models=[metadata],
                **options)  # type: ignore[arg-type]


def test_providers_come_from_the_environment(environ: Environ) -> None:
    environ({
        "ACTIONDESK_REMOTE_BILLING_URL": "https://billing.example/actions",
        "ACTIONDESK_REMOTE_BILLING_SECRET": SECRET,
        "ACTIONDESK_REMOTE_BILLING_TIMEOUT": "2.5",
        "ACTIONDESK_REMOTE_BILLING_COLLECTIONS": "app.Account=accounts, app.Company=companies",
        "ACTIONDESK_REMOTE_BILLING_DISCOVER": "no",
        "ACTIONDESK_REMOTE_REFRESH_INTERVAL": "60",
    })
    settings = Settings(secret_key="k", allow_weak_secret_key=True)
    (billing,) = settings.remote_providers
    assert billing.name == "billing" and billing.timeout == 2.5 and not billing.discover
    assert dict(billing.collections) == {"app.Account": "accounts", "app.Company": "companies"}
    assert settings.remote_refresh_interval == 60
    assert SECRET not in repr(billing) and SECRET not in str(billing.to_json())


@pytest.mark.parametrize(("variables", "words"), [
    ({"ACTIONDESK_REMOTE_X_URL": "https://x.example"}, "ACTIONDESK_REMOTE_X_SECRET are both"),
    ({"ACTIONDESK_REMOTE_X_URL": "ftp://x", "ACTIONDESK_REMOTE_X_SECRET": SECRET},
     "must be an http(s) URL"),
    ({"ACTIONDESK_REMOTE_X_URL": "https://x", "ACTIONDESK_REMOTE_X_SECRET": "short"},
     "at least 32 characters"),
    ({"ACTIONDESK_REMOTE_X_URL": "https://x", "ACTIONDESK_REMOTE_X_SECRET": SECRET,
      "ACTIONDESK_REMOTE_X_TIMEOUT": "soon"}, "TIMEOUT must be a number"),
    ({"ACTIONDESK_REMOTE_X_URL": "https://x", "ACTIONDESK_REMOTE_X_SECRET": SECRET,
      "ACTIONDESK_REMOTE_X_COLLECTIONS": "app.Account"}, "model=collection pairs"),
])
def test_bad_provider_settings_are_named(variables: dict[str, str], words: str,
                                        environ: Environ) -> None:
    environ(variables)
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key="k", allow_weak_secret_key=True)
    assert words in str(caught.value)


def test_bad_declarations_in_code_are_named(tmp_path: Path) -> None:
    desk = desk_in(tmp_path)
    with pytest.raises(ConfigurationError, match="timeout must be between"):
        desk.remote_provider("b", url="https://b.example", secret=SECRET, timeout=0)
    with pytest.raises(ConfigurationError, match="lowercase letters"):
        desk.remote_provider("Bad Name", url="https://b.example", secret=SECRET)
    desk.remote_provider("b", url="https://b.example", secret=SECRET)
    with pytest.raises(ConfigurationError, match="declared twice"):
        desk.remote_provider("b", url="https://b.example", secret=SECRET)
    with pytest.raises(ConfigurationError, match="http_method 'TRACE'"):
        desk.endpoint_action("companies", name="X", endpoint="/x", provider="b",
                             http_method="TRACE")
    with pytest.raises(ConfigurationError, match="must be a path"):
        desk.endpoint_action("companies", name="X", endpoint="x", provider="b")


def test_an_endpoint_action_needs_a_known_provider(tmp_path: Path) -> None:
    asyncio.run(create_and_seed(f"sqlite:///{tmp_path / 'd.db'}"))
    desk = desk_in(tmp_path)
    desk.endpoint_action("companies", name="Ship", endpoint="/ship", provider="nowhere")
    problems = asyncio.run(desk.check())
    assert problems == ["action 'Ship': unknown remote provider 'nowhere' (configured: none)"]
    with pytest.raises(ConfigurationError, match="unknown remote provider 'nowhere'"):
        asyncio.run(desk.start())


def test_code_replaces_a_provider_of_the_same_name_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONDESK_REMOTE_BILLING_URL", "https://old.example")
    monkeypatch.setenv("ACTIONDESK_REMOTE_BILLING_SECRET", SECRET)
    desk = desk_in(tmp_path)
    desk.remote_provider("billing", url="https://new.example", secret=SECRET)
    assert desk.remote.providers["billing"].config.url == "https://new.example"
