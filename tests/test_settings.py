"""Settings: one definition each, given to ``Desk(...)`` by name or read from the environment;
a mistake stops the declaration with a message that says what to change."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from actiondesk import ConfigurationError, Desk, Settings
from tests.conftest import STRONG_KEY, Environ

README = Path(__file__).resolve().parents[1] / "README.md"
LONG_SECRET = "x" * 40


def readme_settings() -> list[list[str]]:
    """The rows of README's settings table (the one under "### Settings"), cell by cell."""
    section = README.read_text().split("### Settings", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def shown(default: Any) -> str:
    """How README's "default" column starts for a default value."""
    if default is None or default == ():
        return "none"
    if isinstance(default, dt.timedelta):
        return f"`{int(default.total_seconds())}` s"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def test_readme_lists_every_setting_once_with_its_variable_and_default() -> None:
    rows = readme_settings()
    fields = Settings.model_fields
    assert [re.sub(r"`", "", row[0]) for row in rows] == list(fields)
    for name, environment, default, meaning in rows:
        name = name.strip("`")
        field = fields[name]
        if name == "remote_providers":
            assert environment.startswith("`ACTIONDESK_REMOTE_<NAME>_URL`")
            assert default == "none"
        elif name == "secret_key":
            assert environment == "`ACTIONDESK_SECRET_KEY`"
            assert default.startswith("random per process")
        else:
            assert environment == f"`ACTIONDESK_{name.upper()}`"
            assert default.startswith(shown(field.default)), (name, default)
        assert meaning and field.description, name


def test_desk_takes_every_setting_by_name_and_code_wins_over_the_environment(
    tmp_path: Path, environ: Environ
) -> None:
    environ({"ACTIONDESK_TITLE": "from env", "ACTIONDESK_APPROVAL_TTL": "3600",
             "ACTIONDESK_RUN_LEASE": "12", "ACTIONDESK_DEV_MODE": "yes",
             "ACTIONDESK_SECRET_KEY": "env-key"})
    desk = Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}", title="from code",
                secret_key=None, run_lease=dt.timedelta(seconds=5), runner_concurrency=2)
    settings = desk.settings
    assert settings.title == "from code" and settings.dev_mode is True
    # None is "not given": the environment's key is used (create_demo_desk relies on it).
    assert settings.secret_key == "env-key"
    assert settings.approval_ttl == dt.timedelta(hours=1)
    assert desk.background.config.lease == dt.timedelta(seconds=5)
    assert desk.background.config.concurrency == 2


def test_a_settings_object_is_taken_as_it_is(tmp_path: Path, environ: Environ) -> None:
    environ({})
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", secret_key=STRONG_KEY,
                        max_page_size=50, default_page_size=10)
    assert Desk(settings=settings).settings is settings
    with pytest.raises(ConfigurationError, match=r"either as settings=Settings\(...\) or by name"):
        Desk(settings=settings, title="both")
    with pytest.raises(ConfigurationError, match="settings must be an actiondesk Settings"):
        Desk(settings={"title": "x"})  # type: ignore[arg-type]


def test_an_unknown_setting_fails_at_declaration_and_says_which_exist(environ: Environ) -> None:
    environ({})
    with pytest.raises(ConfigurationError) as caught:
        Desk(database_url="sqlite://", secret_key=STRONG_KEY, titel="Shop")
    (problem,) = caught.value.problems
    assert problem.startswith("'titel' is not a setting (did you mean 'title'?); the settings "
                              "are database_url, state_url")
    assert "run_lease" in problem


@pytest.mark.parametrize(("options", "message"), [
    ({"max_page_size": "lots"}, "max_page_size must be a whole number, got 'lots'"),
    ({"max_page_size": 0}, "max_page_size must be at least 1"),
    ({"dev_mode": "maybe"}, "dev_mode must be true or false, got 'maybe'"),
    ({"approval_ttl": "soon"}, "approval_ttl must be a datetime.timedelta, got 'soon'"),
    ({"approval_ttl": dt.timedelta(0)}, "approval_ttl must be positive"),
    ({"max_body_bytes": 10}, "max_body_bytes must be at least 1024"),
    ({"remote_refresh_interval": -1}, "remote_refresh_interval must be 0 (off)"),
    ({"webhook_origins": "https:;x"}, "webhook_origins is a space-separated list"),
    ({"external_identity_secret": "short"},
     "external_identity_secret must have at least 32 characters"),
])
def test_a_bad_value_in_code_names_the_setting_and_what_is_allowed(
    environ: Environ, options: dict[str, Any], message: str
) -> None:
    environ({})
    with pytest.raises(ConfigurationError) as caught:
        Desk(database_url="sqlite://", secret_key=STRONG_KEY, **options)
    (problem,) = caught.value.problems
    assert problem.startswith(message)


def test_bad_environment_values_are_all_named_by_their_variable(environ: Environ) -> None:
    environ({"ACTIONDESK_DEV_MODE": "nope", "ACTIONDESK_APPROVAL_TTL": "a week",
             "ACTIONDESK_RUNNER": "celery", "ACTIONDESK_MAX_BODY_BYTES": "1e9x"})
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key=STRONG_KEY)
    assert caught.value.problems == [
        "ACTIONDESK_DEV_MODE must be true or false, got 'nope'",
        "ACTIONDESK_MAX_BODY_BYTES must be a whole number, got '1e9x'",
        "ACTIONDESK_APPROVAL_TTL must be a number of seconds, got 'a week'",
        "runner must be one of inprocess, procrastinate, not 'celery'",
    ]


def test_secrets_are_never_repeated_in_messages(environ: Environ) -> None:
    environ({"ACTIONDESK_EXTERNAL_IDENTITY_SECRET": "s3cret-but-short"})
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key=STRONG_KEY)
    assert "s3cret" not in str(caught.value)
    environ({})
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key=12345)
    assert str(caught.value) == "secret_key must be text"
    settings = Settings(secret_key=STRONG_KEY, external_identity_secret=LONG_SECRET)
    assert STRONG_KEY not in repr(settings) and LONG_SECRET not in repr(settings)


def test_empty_environment_variables_count_as_unset(environ: Environ) -> None:
    environ({"ACTIONDESK_TITLE": "", "ACTIONDESK_EXTERNAL_IDENTITY_SECRET": "",
             "ACTIONDESK_SECRET_KEY": STRONG_KEY})
    settings = Settings()
    assert settings.title == "actiondesk" and settings.external_identity_secret is None
