"""The demo's roles, permissions and users, so every part of access control can be tried."""

from __future__ import annotations

from dataclasses import dataclass

from actiondesk.data.filters import Condition
from actiondesk.desk import Desk
from actiondesk.permissions.service import Policy, RoleSpec


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    what: str


# Demo-only passwords, printed by `actiondesk demo`; the demo listens on localhost.
DEMO_LOGINS = (
    DemoLogin("admin@demo.example", "admin-demo-2026", "admin",
              "everything, settings included"),
    DemoLogin("support@demo.example", "support-demo-2026", "support",
              "customer-facing actions; large charges and transfers need approval"),
    DemoLogin("manager@demo.example", "manager-demo-2026", "manager",
              "every action, and approves support's requests"),
)

ROLES = (
    RoleSpec("admin", "Runs the desk: settings, users, every action.", is_admin=True,
             read_all=True),
    RoleSpec("support", "Customer support: companies, customers, transactions.",
             readable=frozenset({"companies", "customers", "transactions", "users"})),
    RoleSpec("manager", "Operations manager: every action; approves support's requests.",
             read_all=True),
)

_ALL_ACTIONS = (
    ("companies", "mark-as-live"), ("customers", "charge-credit-card"),
    ("customers", "generate-invoice"), ("companies", "add-new-transaction"),
    ("customers", "return-and-track"), ("companies", "show-some-activity"),
    ("users", "mail-users"), ("users", "refresh-users-status"),
    ("accounts", "account-transfer"), ("transactions", "notify-slack"),
)


def _policies() -> list[Policy]:
    policies = [Policy(role, collection, action, "trigger", can_approve=True)
                for role in ("admin", "manager") for collection, action in _ALL_ACTIONS]
    support_trigger = ("mark-as-live", "generate-invoice", "return-and-track",
                       "show-some-activity", "notify-slack", "mail-users")
    for collection, action in _ALL_ACTIONS:
        if action in support_trigger:
            policies.append(Policy("support", collection, action, "trigger"))
    policies.append(Policy(
        "support", "customers", "charge-credit-card", "approval",
        condition=Condition("amount", "greater_than", 1000), condition_on="values",
    ))
    policies.append(Policy("support", "companies", "add-new-transaction", "approval"))
    return policies


async def seed_demo_access(desk: Desk) -> bool:
    """Create the demo roles, policies and users unless users exist; True if it did."""
    if await desk.users.list():
        return False
    for role in ROLES:
        await desk.permissions.put_role(role)
    for policy in _policies():
        await desk.permissions.put_policy(policy)
    for login in DEMO_LOGINS:
        first, _, _ = login.email.partition("@")
        await desk.users.create(login.email, role=login.role, password=login.password,
                                first_name=first.capitalize(), last_name="Demo",
                                team=login.role.capitalize())
    return True
