"""Roles, policies and action settings on every backend: decisions, the version stamp shared
by processes, validation, export/import (also as TOML through the CLI) and the settings API."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from actiondesk import Caller
from actiondesk.cli.permissions import from_toml, to_toml
from actiondesk.data.collections import build_collections, tables_and_names
from actiondesk.data.filters import Condition, all_of, any_of, parse_filter
from actiondesk.data.schema import Collection
from actiondesk.data.state import StateStore, meta_table
from actiondesk.data.state_schema.access import (
    action_settings_table,
    policies_table,
    roles_table,
    users_table,
)
from actiondesk.errors import BadRequestError, ConfigurationError, ConflictError, NotFoundError
from actiondesk.http.api.settings import router as settings_router
from actiondesk.http.dependencies import require_admin, services_of
from actiondesk.http.middleware.errors import install_error_handlers
from actiondesk.permissions.service import (
    VERSION_KEY,
    ActionSetting,
    PermissionSnapshot,
    PermissionsService,
    Policy,
    RoleSpec,
    policy_from_data,
)
from tests.sample_schema import create_and_seed, metadata

ROOT = Path(__file__).resolve().parents[2]
BIG_AMOUNT = Condition("amount", "greater_than", 1000)
KNOWN_ACTIONS = {("companies", "mark-as-live"), ("companies", "charge"),
                 ("transactions", "refund"), (None, "refresh-users")}


def schemas() -> dict[str, Collection]:
    tables, names = tables_and_names([metadata])
    return build_collections(tables, names, {}).collections


@pytest.fixture
def service(store: StateStore) -> PermissionsService:
    return PermissionsService(store)


@pytest.fixture
async def other_process(state_url: str, store: StateStore) -> AsyncIterator[PermissionsService]:
    """A second service with its own connection pool: another server process."""
    state = StateStore(state_url)
    await state.start()
    try:
        yield PermissionsService(state)
    finally:
        await state.close()


async def seed(service: PermissionsService) -> None:
    await service.put_role(RoleSpec("admin", "Runs the desk", is_admin=True, read_all=True))
    await service.put_role(RoleSpec("support", readable=frozenset({"companies", "orders"})))
    await service.put_role(RoleSpec("manager", read_all=True))
    await service.put_policy(Policy("support", "companies", "mark-as-live", "trigger"))
    await service.put_policy(Policy("support", "companies", "charge", "approval",
                                    condition=BIG_AMOUNT, condition_on="values"))
    await service.put_policy(Policy("support", "transactions", "refund", "hidden"))
    await service.put_policy(Policy("support", None, "refresh-users", "trigger"))
    await service.put_policy(Policy("manager", "companies", "charge", "trigger",
                                    can_approve=True, approvals_required=2))
    await service.put_policy(Policy("admin", "companies", "charge", "hidden", can_approve=True,
                                    self_approval=True))
    await service.put_action_setting(ActionSetting(
        "companies", "mark-as-live", enabled_if=Condition("status", "equal", "pending")))


async def add_user(store: StateStore, role: str) -> None:
    now = dt.datetime.now(dt.UTC)
    async with store.engine.begin() as conn:
        await conn.execute(sa.insert(users_table).values(
            id=os.urandom(8).hex(), email=f"{os.urandom(4).hex()}@example.com", role=role,
            tags={}, active=True, session_version=1, created_at=now, updated_at=now,
        ))


async def table_rows(store: StateStore) -> dict[str, Any]:
    """Every row of the permission tables and the stamp, to show nothing changed."""
    found: dict[str, Any] = {}
    async with store.engine.connect() as conn:
        for table in (roles_table, policies_table, action_settings_table):
            rows = (await conn.execute(sa.select(table))).all()
            found[table.name] = sorted(repr(tuple(r)) for r in rows)
        found["stamp"] = await conn.scalar(
            sa.select(meta_table.c.value).where(meta_table.c.key == VERSION_KEY)
        )
    return found


# -- decisions ------------------------------------------------------------------------------


async def test_deny_by_default(service: PermissionsService) -> None:
    snapshot = await service.snapshot()
    decision = snapshot.decide("support", "companies", "mark-as-live")
    assert decision.rule == "hidden" and decision.policy is None and not decision.visible
    assert decision.reason == "role 'support' does not exist (hidden by default)"
    assert not snapshot.can_read("support", "companies")

    await service.put_role(RoleSpec("support"))
    decision = (await service.snapshot()).decide("support", "companies", "mark-as-live")
    assert decision.rule == "hidden"
    assert decision.reason == (
        "role 'support' has no rule for companies/mark-as-live (hidden by default)"
    )
    # An admin role is not a trigger-everything role: its actions need policies too.
    await service.put_role(RoleSpec("admin", is_admin=True))
    assert (await service.snapshot()).decide("admin", None, "refresh-users").rule == "hidden"


async def test_decisions_name_their_rule(service: PermissionsService) -> None:
    await seed(service)
    snapshot = await service.snapshot()

    trigger = snapshot.decide("support", "companies", "mark-as-live")
    assert trigger.rule == "trigger" and trigger.visible
    assert trigger.reason == "role 'support' may trigger companies/mark-as-live (rule: trigger)"
    assert trigger.policy == Policy("support", "companies", "mark-as-live", "trigger")

    approval = snapshot.decide("support", "companies", "charge")
    assert approval.rule == "approval"
    assert approval.reason == (
        "role 'support' may trigger companies/charge with approval (rule: approval, required "
        "only when its condition on form values holds)"
    )
    assert approval.policy is not None and approval.policy.condition == BIG_AMOUNT

    hidden = snapshot.decide("support", "transactions", "refund")
    assert hidden.rule == "hidden"
    assert hidden.reason == "role 'support' may not see transactions/refund (rule: hidden)"

    global_ = snapshot.decide("support", None, "refresh-users")
    assert global_.rule == "trigger" and "the global action refresh-users" in global_.reason
    # The same slug on a collection is another action.
    assert snapshot.decide("support", "companies", "refresh-users").rule == "hidden"
    assert snapshot.decide("manager", "companies", "mark-as-live").rule == "hidden"

    assert [p.role for p in snapshot.approvers("companies", "charge")] == ["admin", "manager"]
    assert snapshot.approvers("companies", "mark-as-live") == []
    manager = snapshot.approvers("companies", "charge")[1]
    assert manager.approvals_required == 2 and not manager.self_approval

    setting = snapshot.setting("companies", "mark-as-live")
    assert setting.visible and setting.enabled_if == Condition("status", "equal", "pending")
    assert snapshot.setting("companies", "charge") == ActionSetting("companies", "charge")


async def test_an_invisible_action_is_hidden_for_everyone(service: PermissionsService) -> None:
    await seed(service)
    await service.put_action_setting(ActionSetting("companies", "mark-as-live", visible=False))
    decision = (await service.snapshot()).decide("support", "companies", "mark-as-live")
    assert decision.rule == "hidden"
    assert decision.reason == (
        "companies/mark-as-live is switched off in the action settings (for everyone)"
    )
    await service.delete_action_setting("companies", "mark-as-live")
    assert (await service.snapshot()).decide("support", "companies", "mark-as-live").visible


async def test_conditions_round_trip(
    service: PermissionsService, other_process: PermissionsService
) -> None:
    await service.put_role(RoleSpec("support"))
    nested = all_of(
        Condition("status", "not_in", ["live", "churned"]),
        any_of(Condition("capital", "greater_than_or_equal", "1000.50"),
               Condition("note", "blank")),
        Condition("name", "contains", 'Zoë "quoted" 100%'),
    )
    await service.put_policy(Policy("support", "companies", "charge", "approval",
                                    condition=nested))
    await service.put_action_setting(ActionSetting("companies", "charge", enabled_if=nested))
    snapshot = await other_process.snapshot()
    policy = snapshot.policies[("support", "companies", "charge")]
    # Aliases come back under their canonical name.
    assert policy.condition == parse_filter(nested.to_json())
    assert policy.condition is not None and policy.condition.to_json() == nested.to_json()
    assert policy.condition_on == "records"
    enabled_if = snapshot.setting("companies", "charge").enabled_if
    assert enabled_if is not None and enabled_if.to_json() == nested.to_json()
    # The policy helper reads the JSON text form too.
    from_text = policy_from_data({**policy.to_json(),
                                  "condition": json.dumps(nested.to_json())})
    assert from_text == policy


async def test_read_access(service: PermissionsService) -> None:
    await seed(service)
    snapshot = await service.snapshot()
    assert snapshot.can_read("manager", "transactions") and snapshot.can_read("admin", "x")
    assert snapshot.can_read("support", "companies")
    assert snapshot.can_read("support", "orders")
    assert not snapshot.can_read("support", "transactions")
    assert not snapshot.can_read("nobody", "companies")
    support = snapshot.role("support")
    assert support is not None and support.readable == {"companies", "orders"}
    assert snapshot.role("nobody") is None


async def test_dev_mode_only_when_switched_on(store: StateStore) -> None:
    plain = PermissionsService(store)
    assert not plain.dev_mode
    dev = PermissionsService(store, dev_mode=True)
    await seed(dev)
    snapshot = await dev.snapshot()
    decision = snapshot.decide("anyone", "transactions", "refund")
    assert decision.rule == "trigger" and "development mode" in decision.reason
    assert snapshot.can_read("anyone", "transactions") and snapshot.dev_mode
    await dev.put_action_setting(ActionSetting("transactions", "refund", visible=False))
    assert (await dev.snapshot()).decide("anyone", "transactions", "refund").rule == "hidden"

    reloads = dev.reloads
    dev.dev_mode = False
    off = await dev.snapshot()
    assert not off.dev_mode and not off.can_read("anyone", "transactions")
    assert off.decide("support", "companies", "mark-as-live").rule == "trigger"
    assert dev.reloads == reloads  # switching the mode needs no reload
    assert not (await plain.snapshot()).can_read("anyone", "companies")


# -- the version stamp ----------------------------------------------------------------------


async def test_a_change_in_one_process_is_seen_by_the_next_snapshot_of_another(
    service: PermissionsService, other_process: PermissionsService
) -> None:
    before = await other_process.snapshot()
    assert before.role("support") is None
    await service.put_role(RoleSpec("support"))
    await service.put_policy(Policy("support", "companies", "charge"))
    after = await other_process.snapshot()
    assert after.version == before.version + 2
    assert after.decide("support", "companies", "charge").rule == "trigger"

    await other_process.delete_policy("support", "companies", "charge")
    assert (await service.snapshot()).decide("support", "companies", "charge").rule == "hidden"
    # Snapshots already handed out do not change.
    assert after.decide("support", "companies", "charge").rule == "trigger"


async def test_snapshot_reloads_only_when_the_stamp_changed(
    service: PermissionsService, other_process: PermissionsService
) -> None:
    first = await service.snapshot()
    assert service.reloads == 1
    for _ in range(5):
        assert await service.snapshot() is first
    assert service.reloads == 1

    await other_process.put_role(RoleSpec("support"))
    changed = await service.snapshot()
    assert service.reloads == 2 and changed.role("support") is not None
    assert await service.snapshot() is changed and service.reloads == 2

    version = await other_process.bump()
    assert version == changed.version + 1
    assert (await service.snapshot()).version == version and service.reloads == 3


async def test_concurrent_changes_each_get_their_own_version(
    service: PermissionsService, other_process: PermissionsService
) -> None:
    start = (await service.snapshot()).version
    writers = [service, other_process] * 4
    await asyncio.gather(*(
        w.put_role(RoleSpec(f"role-{i}")) for i, w in enumerate(writers)
    ))
    snapshot = await other_process.snapshot()
    assert snapshot.version == start + len(writers)
    assert len(snapshot.roles) == len(writers)


async def test_a_failed_change_does_not_bump(service: PermissionsService) -> None:
    await service.put_role(RoleSpec("support"))
    version = (await service.snapshot()).version
    with pytest.raises(BadRequestError):
        await service.put_policy(Policy("ghost", "companies", "charge"))
    with pytest.raises(NotFoundError):
        await service.delete_role("ghost")
    assert (await service.snapshot()).version == version


# -- changes and their checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"rule": "maybe"}, "rule", "must be hidden, trigger or approval"),
        ({"condition_on": "rows"}, "condition_on", "must be records or values"),
        ({"condition": {"field": "amount", "operator": "greater_than", "value": 1}},
         "condition", "only an approval rule takes a condition"),
        ({"rule": "approval", "condition": {"field": "x", "operator": "bigger"}},
         "condition", "is not a valid filter: unknown filter operator 'bigger'"),
        ({"rule": "approval", "condition": "{not json"}, "condition", "is not valid JSON"),
        ({"approvals_required": 0}, "approvals_required", "from 1 to 100"),
        ({"approvals_required": True}, "approvals_required", "whole number"),
        ({"can_approve": "yes"}, "can_approve", "true or false"),
        ({"action": "Mark as live"}, "action", "must be an action slug"),
        ({"role": " support"}, "role", "must not start or end with spaces"),
        ({"role": None}, "role", "is required"),
        ({"collection": "a\x00b"}, "collection", "control characters"),
        ({"colour": "red"}, "colour", "is not a known key"),
        ({"collection": None, "rule": "approval",
          "condition": {"field": "status", "operator": "equal", "value": "live"}},
         "condition_on", "a global action has no records"),
    ],
)
def test_policy_data_is_checked_field_by_field(
    data: dict[str, Any], field: str, message: str
) -> None:
    base = {"role": "support", "collection": "companies", "action": "charge"}
    with pytest.raises(BadRequestError) as caught:
        policy_from_data({**base, **data})
    assert caught.value.fields is not None and message in caught.value.fields[field]
    assert caught.value.message.startswith("invalid policy: ")


async def test_changes_are_checked_against_the_desk(service: PermissionsService) -> None:
    await service.put_role(RoleSpec("support"))
    known = {"known_actions": KNOWN_ACTIONS, "schemas": schemas()}
    with pytest.raises(BadRequestError) as caught:
        await service.put_policy(Policy("ghost", "companies", "charge"), **known)
    assert caught.value.fields == {"role": "names no role"}
    with pytest.raises(BadRequestError) as caught:
        await service.put_policy(Policy("support", "companies", "guessed"), **known)
    assert caught.value.fields == {"action": "names no action on companies: 'guessed'"}
    with pytest.raises(BadRequestError) as caught:
        await service.put_policy(Policy("support", "ghosts", "charge"), **known)
    assert caught.value.fields == {"collection": "names no collection of this desk: 'ghosts'"}
    with pytest.raises(BadRequestError) as caught:
        await service.put_policy(Policy("support", "companies", "charge", "approval",
                                        condition=Condition("colour", "equal", "red")), **known)
    assert caught.value.fields is not None
    assert "unknown field 'colour'" in caught.value.fields["condition"]
    with pytest.raises(BadRequestError) as caught:
        await service.put_action_setting(
            ActionSetting("companies", "charge", enabled_if=Condition("capital", "equal", "x")),
            **known,
        )
    assert caught.value.fields is not None and "enabled_if" in caught.value.fields
    with pytest.raises(BadRequestError) as caught:
        await service.put_role(RoleSpec("reader", readable=frozenset({"ghosts"})),
                               schemas=schemas())
    assert caught.value.fields == {"readable": "names no collection of this desk: 'ghosts'"}
    with pytest.raises(BadRequestError) as caught:
        await service.put_action_setting(
            ActionSetting(None, "refresh-users", enabled_if=Condition("a", "equal", 1))
        )
    assert caught.value.fields == {"enabled_if": "a global action has no records to test"}

    # Values conditions are on the form, not the collection; "" means a global action.
    stored = await service.put_policy(Policy("support", "companies", "charge", "approval",
                                             condition=BIG_AMOUNT, condition_on="values"),
                                      **known)
    assert stored.condition == BIG_AMOUNT
    global_ = await service.put_policy(Policy("support", "", "refresh-users"), **known)
    assert global_.collection is None
    assert [p.collection for p in await service.list_policies("support")] == [None, "companies"]


async def test_roles_crud_and_deleting_a_role_in_use(
    service: PermissionsService, store: StateStore
) -> None:
    await seed(service)
    assert [r.name for r in await service.list_roles()] == ["admin", "manager", "support"]
    assert (await service.get_role("admin")).is_admin
    with pytest.raises(NotFoundError):
        await service.get_role("ghost")
    changed = RoleSpec("support", "Front line", readable=frozenset({"orders"}))
    await service.put_role(changed)
    assert await service.get_role("support") == changed

    await add_user(store, "support")
    with pytest.raises(ConflictError) as caught:
        await service.delete_role("support")
    assert caught.value.status == 409 and "1 user(s)" in caught.value.message
    assert await service.get_role("support") == changed

    await service.delete_role("manager")
    assert [p.role for p in await service.list_policies()].count("manager") == 0
    with pytest.raises(NotFoundError):
        await service.delete_role("manager")
    with pytest.raises(NotFoundError):
        await service.delete_role("bad\x00name")
    with pytest.raises(NotFoundError):
        await service.delete_policy("support", "companies", "nothing")
    with pytest.raises(NotFoundError):
        await service.delete_action_setting(None, "nothing")


# -- export and import ----------------------------------------------------------------------


async def test_export_import_round_trip_is_identity(
    service: PermissionsService, other_process: PermissionsService
) -> None:
    await seed(service)
    exported = await service.export_data()
    assert [r["name"] for r in exported["roles"]] == ["admin", "manager", "support"]
    assert exported["policies"][0] == {
        "role": "admin", "collection": "companies", "action": "charge", "rule": "hidden",
        "condition": None, "condition_on": "records", "can_approve": True,
        "approvals_required": 1, "self_approval": True,
    }
    await other_process.import_data({"roles": [], "policies": [], "actions": []})
    assert await other_process.export_data() == {"roles": [], "policies": [], "actions": []}
    await other_process.import_data(exported, known_actions=KNOWN_ACTIONS, schemas=schemas())
    assert await service.export_data() == exported
    # Through TOML text too, where conditions are JSON text and a missing key is None.
    text = to_toml(exported)
    await other_process.import_data({"roles": []})
    await other_process.import_data(from_toml(text))
    assert await service.export_data() == exported
    assert to_toml(await service.export_data()) == text


async def test_import_merges_or_replaces(service: PermissionsService) -> None:
    await seed(service)
    extra = {"roles": [{"name": "auditor", "read_all": True}],
             "policies": [{"role": "auditor", "collection": "companies", "action": "charge",
                           "rule": "hidden", "can_approve": True},
                          {"role": "support", "collection": "companies",
                           "action": "mark-as-live", "rule": "hidden"}]}
    await service.import_data(extra, replace=False)
    snapshot = await service.snapshot()
    assert set(snapshot.roles) == {"admin", "auditor", "manager", "support"}
    assert snapshot.decide("support", "companies", "mark-as-live").rule == "hidden"
    assert snapshot.decide("support", "companies", "charge").rule == "approval"

    only_auditor = {**extra, "policies": extra["policies"][:1]}
    await service.import_data(only_auditor)
    snapshot = await service.snapshot()
    assert set(snapshot.roles) == {"auditor"}
    assert len(snapshot.policies) == 1 and not snapshot.settings


async def test_import_checks_everything_and_applies_nothing_on_a_problem(
    service: PermissionsService, store: StateStore
) -> None:
    await seed(service)
    await add_user(store, "manager")
    before = await table_rows(store)
    bad = {
        "roles": [
            {"name": "support", "readable": ["companies", "ghosts"]},
            {"name": "admin", "is_admin": "yes"},
            {"name": "support"},
            {"description": "no name"},
        ],
        "policies": [
            {"role": "support", "collection": "companies", "action": "charge", "rule": "maybe"},
            {"role": "nobody", "collection": "companies", "action": "mark-as-live"},
            {"role": "support", "collection": "companies", "action": "guessed"},
            {"role": "support", "collection": "companies", "action": "charge",
             "rule": "approval", "condition": '{"field": "colour", "operator": "equal", '
                                              '"value": "red"}'},
            {"role": "support", "collection": "transactions", "action": "refund",
             "approvals_required": 0},
        ],
        "actions": [
            {"collection": "companies", "action": "mark-as-live", "enabled_if": "{oops"},
            {"action": "refresh-users", "visible": "no"},
        ],
        "users": [],
    }
    with pytest.raises(ConfigurationError) as caught:
        await service.import_data(bad, known_actions=KNOWN_ACTIONS, schemas=schemas())
    problems = caught.value.problems
    expected = [
        "unknown key 'users' at the top level",
        "role #1 ('support'): readable names no collection of this desk: 'ghosts'",
        "role #2 ('admin'): is_admin must be true or false",
        "role #4: name is required",
        "the role 'support' is given 2 times",
        "policy #1 (role 'support', companies/charge): rule must be hidden, trigger or "
        "approval",
        "policy #2 (role 'nobody', companies/mark-as-live): role names no role: 'nobody'",
        "policy #3 (role 'support', companies/guessed): action names no action on "
        "companies: 'guessed'",
        "policy #4 (role 'support', companies/charge): condition does not fit companies: "
        "unknown field 'colour'",
        "policy #5 (role 'support', transactions/refund): approvals_required must be",
        "the policy of role 'support' for companies/charge is given 2 times",
        "action setting #1 (companies/mark-as-live): enabled_if is not valid JSON",
        "action setting #2 (the global action refresh-users): visible must be true or false",
        "role 'manager' is given to 1 user(s) but is not in the import",
    ]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert len(problems) == len(expected), problems
    assert "nothing was applied" in str(caught.value)
    assert await table_rows(store) == before

    with pytest.raises(ConfigurationError) as caught:
        await service.import_data(["not", "a", "table"])  # type: ignore[arg-type]
    assert caught.value.problems[0] == (
        "the permissions must be an object with roles, policies and actions"
    )
    assert "role 'manager' is given to 1 user(s)" in caught.value.problems[1]
    assert await table_rows(store) == before


def test_toml_strings_survive_every_character() -> None:
    awkward = 'quote " back \\ tab \t line \n cr \r bell \x07 del \x7f é ✓ 🎉 \'single\''
    data = {
        "roles": [{"name": "ops", "description": awkward, "is_admin": False, "read_all": False,
                   "readable": ["a b", 'q"uote']}],
        "policies": [{"role": "ops", "collection": None, "action": "refresh", "rule":
                      "approval", "condition": {"field": "note", "operator": "contains",
                                                "value": awkward},
                      "condition_on": "values", "can_approve": False, "approvals_required": 3,
                      "self_approval": False}],
        "actions": [],
    }
    text = to_toml(data)
    assert "[[role]]" in text and "[[policy]]" in text and "\ncollection =" not in text
    back = from_toml(text)
    data["policies"][0]["collection"] = None  # TOML has no null: an absent key
    back["policies"][0].setdefault("collection", None)
    back["policies"][0]["condition"] = parse_filter(
        json.loads(back["policies"][0]["condition"])
    ).to_json()
    assert back == data
    # JSON without a single quote is written as a literal string, easier to review.
    plain = {"actions": [{"collection": "c", "action": "a", "visible": True,
                          "enabled_if": {"field": "f", "operator": "equal", "value": "a\\b"}}]}
    assert """enabled_if = '{"field": "f", "operator": "equal", "value": "a\\\\b"}'""" in (
        to_toml(plain))
    assert from_toml(to_toml(plain))["actions"][0]["enabled_if"] == json.dumps(
        plain["actions"][0]["enabled_if"])
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        from_toml("[[role]\nname = 1")


# -- the CLI --------------------------------------------------------------------------------

DESK_MODULE = """\
from actiondesk import Desk
from tests.sample_schema import metadata

desk = Desk(database_url={data!r}, state_url={state!r}, secret_key="k", models=[metadata])


@desk.action("companies", name="Mark as live")
async def mark_as_live(ctx):
    return None


@desk.action("companies", name="Charge")
async def charge(ctx):
    return None


@desk.action(name="Refresh users")
async def refresh_users(ctx):
    return None
"""

GOOD_TOML = """\
[[role]]
name = "support"
description = "Front line"
readable = ["companies", "transactions"]

[[role]]
name = "admin"
is_admin = true
read_all = true

[[policy]]
role = "support"
collection = "companies"
action = "charge"
rule = "approval"
condition = '{"field": "capital", "operator": "greater_than", "value": "1000"}'

[[policy]]
role = "support"
action = "refresh-users"

[[policy]]
role = "admin"
collection = "companies"
action = "charge"
rule = "hidden"
can_approve = true
approvals_required = 2

[[action]]
collection = "companies"
action = "mark-as-live"
enabled_if = '{"field": "status", "operator": "equal", "value": "pending"}'
"""

BAD_TOML = """\
[[role]]
name = "support"
readable = ["ghosts"]

[[policy]]
role = "support"
collection = "companies"
action = "guessed"

[[policy]]
role = "nobody"
action = "refresh-users"

[[policy]]
role = "support"
collection = "companies"
action = "charge"
rule = "approval"
condition = '{"field": "colour", "operator": "equal", "value": "red"}'

[[action]]
action = "refresh-users"
enabled_if = '{"field": "status", "operator": "equal", "value": "x"}'

[[extra]]
x = 1
"""


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from actiondesk.cli.permissions import permissions_app; permissions_app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def desk_dir(tmp_path: Path) -> Path:
    # The CLI is the same on every backend (the service tests cover those): SQLite only.
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    data = f"sqlite:///{tmp_path / 'data.db'}"
    asyncio.run(create_and_seed(data))
    (tmp_path / "permdesk.py").write_text(DESK_MODULE.format(data=data, state=state_url))
    return tmp_path


def test_cli_toml_round_trip_and_refusal(desk_dir: Path) -> None:
    (desk_dir / "in.toml").write_text(GOOD_TOML)
    imported = cli(["import", "permdesk:desk", "in.toml"], desk_dir)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 role(s), 3 policy(ies), 1 action setting(s)" in imported.stdout

    exported = cli(["export", "permdesk:desk", "out.toml"], desk_dir)
    assert exported.returncode == 0, exported.stderr
    first = (desk_dir / "out.toml").read_text()
    data = from_toml(first)
    assert [r["name"] for r in data["roles"]] == ["admin", "support"]
    charge = next(p for p in data["policies"] if p["role"] == "support"
                  and p.get("collection") == "companies")
    assert charge["rule"] == "approval" and charge["condition"] == (
        '{"field": "capital", "operator": "greater_than", "value": "1000"}'
    )
    assert data["actions"][0]["enabled_if"].startswith('{"field": "status"')

    # Exported text imports back to the same permissions: export again is identical.
    again = cli(["import", "permdesk:desk", "out.toml"], desk_dir)
    assert again.returncode == 0, again.stderr
    assert cli(["export", "permdesk:desk", "-"], desk_dir).stdout == first

    (desk_dir / "bad.toml").write_text(BAD_TOML)
    refused = cli(["import", "permdesk:desk", "bad.toml", "--merge"], desk_dir)
    assert refused.returncode == 1
    assert "nothing was applied" in refused.stderr and "Traceback" not in refused.stderr
    for text in [
        "unknown key 'extra' at the top level",
        "role #1 ('support'): readable names no collection of this desk: 'ghosts'",
        "action names no action on companies: 'guessed'",
        "policy #2 (role 'nobody', the global action refresh-users): role names no role",
        "condition does not fit companies: unknown field 'colour'",
        "enabled_if a global action has no records to test",
    ]:
        assert text in refused.stderr, (text, refused.stderr)
    assert "6 problem(s)" in refused.stderr
    assert cli(["export", "permdesk:desk", "-"], desk_dir).stdout == first

    (desk_dir / "more.toml").write_text('[[role]]\nname = "auditor"\nread_all = true\n')
    merged = cli(["import", "permdesk:desk", "more.toml", "--merge"], desk_dir)
    assert merged.returncode == 0, merged.stderr
    roles = [r["name"] for r in from_toml(
        cli(["export", "permdesk:desk", "-"], desk_dir).stdout)["roles"]]
    assert roles == ["admin", "auditor", "support"]

    (desk_dir / "broken.toml").write_text("[[role]\n")
    broken = cli(["import", "permdesk:desk", "broken.toml"], desk_dir)
    assert broken.returncode == 1 and "not valid TOML" in broken.stderr


# -- the settings API -----------------------------------------------------------------------

ADMIN = Caller(id="u-admin", email="admin@example.com", role="admin")


@pytest.fixture
async def api(service: PermissionsService) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    registry = SimpleNamespace(all=lambda: [
        SimpleNamespace(collection=c, slug=s) for c, s in KNOWN_ACTIONS
    ])
    app.dependency_overrides[services_of] = lambda: SimpleNamespace(
        permissions=service, registry=registry,
        datasource=SimpleNamespace(collections=schemas()))
    app.include_router(settings_router, prefix="/api")
    # Signing in is the auth module's concern, tested with it.
    app.dependency_overrides[require_admin] = lambda: ADMIN
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk/api") as client:
        yield client


async def test_settings_api(api: httpx.AsyncClient, service: PermissionsService) -> None:
    put = await api.put("/settings/roles/support",
                        json={"description": "Front line", "readable": ["companies"]})
    assert put.status_code == 200, put.text
    assert put.json() == {"name": "support", "description": "Front line", "is_admin": False,
                          "read_all": False, "readable": ["companies"], "can_export": False}
    assert (await api.get("/settings/roles")).json()["roles"] == [put.json()]
    assert (await api.get("/settings/roles/support")).json() == put.json()
    assert (await api.get("/settings/roles/ghost")).status_code == 404
    bad_role = await api.put("/settings/roles/support", json={"readable": ["ghosts"]})
    assert bad_role.status_code == 400 and bad_role.json()["fields"] == {
        "readable": "names no collection of this desk: 'ghosts'"}

    policy = {"role": "support", "collection": "companies", "action": "charge",
              "rule": "approval", "condition": BIG_AMOUNT.to_json(), "condition_on": "values"}
    put = await api.put("/settings/policies", json=policy)
    assert put.status_code == 200, put.text
    assert put.json()["condition"] == BIG_AMOUNT.to_json()
    bad = await api.put("/settings/policies", json={**policy, "rule": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"rule": "must be hidden, trigger or approval"}
    guessed = await api.put("/settings/policies", json={**policy, "action": "guessed"})
    assert guessed.status_code == 400 and "action" in guessed.json()["fields"]
    listed = (await api.get("/settings/policies", params={"role": "support"})).json()
    assert listed["policies"] == [put.json()]

    put = await api.put("/settings/actions", json={"action": "refresh-users", "visible": False})
    assert put.status_code == 200 and put.json()["collection"] is None
    assert (await service.snapshot()).decide("support", None, "refresh-users").rule == "hidden"
    assert (await api.get("/settings/actions")).json()["actions"] == [put.json()]

    exported = (await api.get("/settings/permissions/export")).json()
    assert exported == await service.export_data()
    # The caller's own admin role is kept, else the import is refused before it is checked.
    refused = await api.post("/settings/permissions/import", json={
        "roles": [{"name": "admin", "is_admin": True}],
        "policies": [{"role": "nobody", "action": "refresh-users"}]})
    assert refused.status_code == 400
    assert refused.json()["detail"]["problems"] == [
        "policy #1 (role 'nobody', the global action refresh-users): role names no role: "
        "'nobody'"
    ]
    assert (await api.get("/settings/permissions/export")).json() == exported
    applied = await api.post("/settings/permissions/import", params={"merge": "true"},
                             json={"roles": [{"name": "auditor", "read_all": True}]})
    assert applied.status_code == 200, applied.text
    assert [r["name"] for r in applied.json()["roles"]] == ["auditor", "support"]

    assert (await api.delete("/settings/actions",
                             params={"action": "refresh-users"})).status_code == 204
    assert (await api.delete("/settings/policies", params={
        "role": "support", "collection": "companies", "action": "charge"})).status_code == 204
    assert (await api.delete("/settings/policies", params={
        "role": "support", "collection": "companies", "action": "charge"})).status_code == 404
    assert (await api.delete("/settings/roles/support")).status_code == 204
    assert (await api.get("/settings/roles")).json()["roles"][0]["name"] == "auditor"


async def test_settings_api_needs_an_admin(service: PermissionsService) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.dependency_overrides[services_of] = lambda: SimpleNamespace(permissions=service)
    app.include_router(settings_router, prefix="/api")
    await service.put_role(RoleSpec("support"))

    async def not_admin() -> Caller:
        from actiondesk.errors import ForbiddenError

        raise ForbiddenError("role 'support' is not an admin role")

    app.dependency_overrides[require_admin] = not_admin
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
        for method, path in [("GET", "/api/settings/roles"),
                             ("PUT", "/api/settings/roles/x"),
                             ("DELETE", "/api/settings/roles/support"),
                             ("GET", "/api/settings/permissions/export"),
                             ("POST", "/api/settings/permissions/import")]:
            response = await client.request(method, path, json={})
            assert response.status_code == 403, (method, path, response.text)
    assert (await service.get_role("support")).name == "support"


def test_openapi_documents_the_settings_models() -> None:
    app = FastAPI()
    app.include_router(settings_router, prefix="/api")
    document = app.openapi()
    assert "/api/settings/policies" in document["paths"]
    schemas_ = document["components"]["schemas"]
    assert {"RoleOut", "PolicyIn", "PolicyOut", "ActionSettingIn", "PermissionsData"} <= set(
        schemas_)
    assert schemas_["PolicyIn"]["properties"]["rule"]["enum"] == ["hidden", "trigger",
                                                                   "approval"]


def test_snapshot_can_be_built_in_memory() -> None:
    snapshot = PermissionSnapshot(
        roles=[RoleSpec("ops")], policies=[Policy("ops", None, "refresh")],
    )
    assert snapshot.decide("ops", None, "refresh").rule == "trigger"
    assert isinstance(snapshot.policies, Mapping)
