"""Declaring background actions and runner settings: mistakes fail at once, saying what to
change; checkpointed batches refuse what they cannot do."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from actiondesk import ActionContext, ConfigurationError, Desk


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}",
                state_url=f"sqlite:///{tmp_path / 's.db'}", secret_key="k")


async def handler(ctx: ActionContext) -> None:
    return None


@pytest.mark.parametrize(("options", "message"), [
    ({"background": "yes"}, "background must be True or False, not 'yes'"),
    ({"background_above": 0}, "background_above must be a whole number of records >= 1"),
    ({"background_above": 2.5}, "background_above must be a whole number of records >= 1"),
    ({"background_above": True}, "background_above must be a whole number of records >= 1"),
    ({"background": True, "background_above": 10}, "not both"),
    ({"background_above": 10, "scope": "global", "collection": None},
     "a global action has none: use background=True"),
])
def test_bad_background_options_are_refused(desk: Desk, options: dict[str, Any],
                                            message: str) -> None:
    collection = options.pop("collection", "items")
    with pytest.raises(ConfigurationError, match=message):
        desk.action(collection, name="Bad", **options)(handler)


def test_the_spec_says_when_it_runs_in_the_background(desk: Desk) -> None:
    always = desk.action("items", name="Always", background=True)(handler)
    above = desk.action("items", name="Above", scope="bulk", background_above=100)(handler)
    never = desk.action("items", name="Never")(handler)
    assert always.runs_in_background(1) and always.to_json()["background"] is True
    assert not above.runs_in_background(100) and above.runs_in_background(101)
    assert above.to_json()["background_above"] == 100
    assert not never.runs_in_background(10**9)


@pytest.mark.parametrize(("options", "message"), [
    ({"parallel": "yes"}, "parallel must be True or False, not 'yes'"),
    ({"partitions": 1}, "partitions must be a whole number from 2 to 64, not 1"),
    ({"partitions": 65}, "partitions must be a whole number from 2 to 64, not 65"),
    ({"parallel": True, "partitions": 4}, "give parallel=True .* or partitions=N, not both"),
    ({"partitions": 4, "scope": "single"}, "only a bulk action can be parallel"),
    ({"combine": len}, "combine and max_parallel are for partitioned actions"),
    ({"parallel": True, "combine": "sum"}, "combine must be a function"),
    ({"parallel": True, "max_parallel": 0}, "max_parallel must be a whole number >= 1, not 0"),
])
def test_bad_partition_options_are_refused(desk: Desk, options: dict[str, Any],
                                           message: str) -> None:
    options.setdefault("scope", "bulk")
    with pytest.raises(ConfigurationError, match=message):
        desk.action("items", name="Bad", **options)(handler)


def test_partitioned_actions_run_in_the_background_split_by_size(desk: Desk) -> None:
    fixed = desk.action("items", name="Fixed", scope="bulk", partitions=8)(handler)
    auto = desk.action("items", name="Auto", scope="bulk", parallel=True)(handler)
    assert fixed.runs_in_background(1) and fixed.to_json()["parallel"] is True
    assert fixed.to_json()["background"] is True
    assert [fixed.partition_count(n) for n in (1, 5, 8, 10**7)] == [1, 5, 8, 8]
    assert [auto.partition_count(n) for n in (10, 100_000, 100_001, 10**7, 10**9)] == [
        1, 1, 2, 64, 64]


@pytest.mark.parametrize(("options", "message"), [
    ({"runner": "celery"}, "runner must be one of inprocess, procrastinate, not 'celery'"),
    ({"runner_concurrency": 0}, "runner_concurrency must be a whole number >= 1"),
    ({"run_lease": dt.timedelta(milliseconds=10)}, "run_lease must be at least 1 second"),
])
def test_bad_runner_settings_are_refused(tmp_path: Path, options: dict[str, Any],
                                         message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}", secret_key="k", **options)


def test_runner_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONDESK_RUNNER_CONCURRENCY", "7")
    monkeypatch.setenv("ACTIONDESK_RUN_LEASE", "12")
    desk = Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}", secret_key="k")
    assert desk.background.config.concurrency == 7
    assert desk.background.config.lease == dt.timedelta(seconds=12)
    monkeypatch.setenv("ACTIONDESK_RUN_LEASE", "soon")
    with pytest.raises(ConfigurationError, match="ACTIONDESK_RUN_LEASE must be a number"):
        Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}", secret_key="k")
