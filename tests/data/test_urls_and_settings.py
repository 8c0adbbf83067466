from __future__ import annotations

import pytest

from actiondesk import ConfigurationError, Settings
from actiondesk.data.urls import redact, to_async_url
from tests.conftest import STRONG_KEY, Environ


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///demo.db", "sqlite+aiosqlite:///demo.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("mysql://root@h:3306/db", "mysql+asyncmy://root@h:3306/db"),
        ("mariadb://root@h/db", "mysql+asyncmy://root@h/db"),
        ("mysql+pymysql://root@h/db", "mysql+asyncmy://root@h/db"),
    ],
)
def test_plain_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert to_async_url(given).render_as_string(hide_password=False) == expected


def test_unsupported_or_invalid_urls_say_what_to_write() -> None:
    with pytest.raises(ConfigurationError, match="supports sqlite, postgresql and mysql"):
        to_async_url("oracle://u@h/db")
    with pytest.raises(ConfigurationError, match="not a valid URL"):
        to_async_url("just words")


def test_passwords_are_redacted() -> None:
    assert "s3cret" not in redact("postgresql://u:s3cret@h/db")


def test_settings_come_from_arguments_then_environment_then_defaults(environ: Environ) -> None:
    environ({
        "ACTIONDESK_DATABASE_URL": "postgresql://env/db",
        "ACTIONDESK_SECRET_KEY": "from-env-" + "0123456789abcdefghijklmnopqrstuv",
        "ACTIONDESK_MAX_PAGE_SIZE": "50",
    })
    settings = Settings(database_url="sqlite:///given.db")
    assert settings.database_url == "sqlite:///given.db"
    assert settings.secret_key.startswith("from-env-")
    assert settings.max_page_size == 50
    assert settings.state_url == "sqlite:///actiondesk-state.db"
    assert "from-env" not in repr(settings)


def test_bad_settings_fail_with_a_named_problem(environ: Environ) -> None:
    environ({"ACTIONDESK_MAX_PAGE_SIZE": "lots"})
    with pytest.raises(ConfigurationError, match="ACTIONDESK_MAX_PAGE_SIZE must be a whole"):
        Settings(secret_key=STRONG_KEY)
    environ({})
    with pytest.raises(ConfigurationError, match="default_page_size"):
        Settings(secret_key=STRONG_KEY, default_page_size=500, max_page_size=100)


def test_missing_secret_key_warns_and_uses_a_random_one(environ: Environ) -> None:
    environ({})
    with pytest.warns(UserWarning, match="no secret key"):
        first = Settings()
    with pytest.warns(UserWarning):
        second = Settings()
    assert first.secret_key != second.secret_key and len(first.secret_key) >= 32
