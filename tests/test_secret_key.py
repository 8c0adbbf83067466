"""Weak secret keys: refused at start-up unless the desk is in development mode, where they
are a warning; and the README's way of making a key gives one that is accepted.

Every test here passes its own environment: the suite's conftest allows weak keys for the
throwaway desks of the other tests.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from actiondesk.errors import ConfigurationError
from actiondesk.settings import KEYGEN_COMMAND, Settings, WeakSecretKeyWarning
from tests.conftest import STRONG_KEY, Environ

README = Path(__file__).resolve().parents[1] / "README.md"
WEAK = ["change-me", "secret", "test", "test-secret", "k", "x" * 31,
        "change-me-" * 4, "a" * 40, "your-secret-key-goes-here-0123456789"]


@pytest.mark.parametrize("key", WEAK)
def test_a_weak_secret_key_is_a_named_configuration_error(key: str, environ: Environ) -> None:
    environ({})
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key=key)
    message = str(caught.value)
    assert "secret_key (ACTIONDESK_SECRET_KEY)" in message
    assert KEYGEN_COMMAND in message and "dev_mode" in message
    if len(key) > 8:  # the key itself is never repeated back (logs keep error messages)
        assert key not in message


def test_a_weak_key_from_the_environment_is_refused_too(environ: Environ) -> None:
    environ({"ACTIONDESK_SECRET_KEY": "change-me"})
    with pytest.raises(ConfigurationError, match="has 9 characters"):
        Settings()


@pytest.mark.parametrize("variables", [{}, {"ACTIONDESK_DEV_MODE": "1"},
                                       {"ACTIONDESK_ALLOW_WEAK_SECRET_KEY": "1"}])
def test_development_mode_accepts_a_weak_key_with_a_loud_warning(
    variables: dict[str, str], environ: Environ
) -> None:
    environ(variables)
    dev_mode = True if not variables else None
    with pytest.warns(WeakSecretKeyWarning) as caught:
        settings = Settings(secret_key="change-me", dev_mode=dev_mode)
    assert settings.secret_key == "change-me"
    text = str(caught[0].message)
    assert "anyone who guesses it can sign in as anybody" in text
    assert KEYGEN_COMMAND in text


def test_a_strong_key_is_accepted_without_a_warning(environ: Environ) -> None:
    environ({})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Settings(secret_key=STRONG_KEY).secret_key == STRONG_KEY


def test_the_readme_shows_how_to_make_a_key_and_no_weak_one(environ: Environ) -> None:
    environ({})
    text = README.read_text(encoding="utf-8")
    assert KEYGEN_COMMAND in text
    program, *args = shlex.split(KEYGEN_COMMAND)
    assert program == "python3"
    made = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                          timeout=60)
    key = made.stdout.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings(secret_key=key)
    # Every literal key in the README would be refused by a real desk, so there is none.
    assert not re.findall(r"secret_key=[\"']", text)


def test_actiondesk_check_refuses_a_weak_key_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "weakdesk.py").write_text(
        "from actiondesk import Desk\n"
        f"desk = Desk(database_url='sqlite:///{tmp_path / 'd.db'}', "
        f"state_url='sqlite:///{tmp_path / 's.db'}', secret_key='change-me')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ACTIONDESK_ALLOW_WEAK_SECRET_KEY"}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "actiondesk.cli", "check", "weakdesk:desk"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1, result.stdout
    assert "secret_key (ACTIONDESK_SECRET_KEY) has 9 characters" in result.stderr
    assert "Traceback" not in result.stderr
