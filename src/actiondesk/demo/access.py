"""The demo's roles, permissions and users, so every part of access control can be tried."""

from __future__ import annotations

from dataclasses import dataclass

from actiondesk.actions.condition_text import condition_sentence
from actiondesk.actions.spec import Action
from actiondesk.data.filters import Condition
from actiondesk.desk import Desk
from actiondesk.permissions.service import Policy, RoleSpec


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str


# Demo-only passwords, printed by `actiondesk demo`; the demo listens on localhost.
DEMO_LOGINS = (
    DemoLogin("admin@demo.example", "admin-demo-2026", "admin"),
    DemoLogin("support@demo.example", "support-demo-2026", "support"),
    DemoLogin("manager@demo.example", "manager-demo-2026", "manager"),
)

ROLES = (
    RoleSpec("admin", "Runs the desk: settings, users, every action.", is_admin=True,
             read_all=True, can_export=True),
    RoleSpec("support", "Customer support: companies, customers, transactions.",
             readable=frozenset({"companies", "customers", "transactions", "users"})),
    RoleSpec("manager", "Operations manager: every action; approves support's requests.",
             read_all=True, can_export=True),
)

_ALL_ACTIONS = (
    ("companies", "mark-as-live"), ("customers", "charge-credit-card"),
    ("customers", "generate-invoice"), ("companies", "add-new-transaction"),
    ("customers", "return-and-track"), ("companies", "show-some-activity"),
    ("users", "mail-users"), ("users", "refresh-users-status"),
    ("accounts", "account-transfer"), ("accounts", "audit-balances"),
    ("transactions", "notify-slack"),
)
# The built-in record actions of the collections the demo lets edit (app.DEMO_EDITING).
_EDITABLE = ("companies", "customers", "transactions")
_RECORD_ACTIONS = ("edit", "bulk-edit", "create", "delete")


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
    policies.extend(Policy(role, collection, action, "trigger", can_approve=True)
                    for role in ("admin", "manager") for collection in _EDITABLE
                    for action in _RECORD_ACTIONS)
    # Support edits one record at a time; a big transaction, or a new one, waits for an
    # approver; deleting stays with admins and managers.
    policies.append(Policy("support", "companies", "edit", "trigger"))
    policies.append(Policy("support", "customers", "edit", "trigger"))
    policies.append(Policy(
        "support", "transactions", "edit", "approval",
        condition=Condition("amount", "greater_than", 1000), condition_on="values",
    ))
    policies.append(Policy("support", "transactions", "create", "approval"))
    policies.extend(Policy("support", collection, "delete", "hidden")
                    for collection in _EDITABLE)
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


def find_login(user: str) -> DemoLogin | None:
    """The demo login named by its role (``support``) or its email."""
    return next((login for login in DEMO_LOGINS if user in (login.role, login.email)), None)


async def describe_logins(desk: Desk) -> list[str]:
    """The logins `actiondesk demo` prints, each followed by what its role may do under the
    policies in force (read from the state database, so a change made in the settings shows at
    the next start), as the server decides it: read access first, then each action's rule."""
    snapshot = await desk.permissions.snapshot()
    actions = sorted(desk.registry.all(), key=lambda a: (a.collection or "", a.slug))
    lines = []
    for login in DEMO_LOGINS:
        role = snapshot.role(login.role)
        lines.append(f"  {login.email:<24} {login.password:<18} {login.role:<8} "
                     f"{_reads(role)}")
        runs, approved, approves = [], [], []
        for action in actions:
            if action.collection is not None and not snapshot.can_read(login.role,
                                                                       action.collection):
                continue
            decision = snapshot.decide(login.role, action.collection, action.slug)
            named = _named(action)
            if decision.rule == "trigger":
                runs.append(named)
            elif decision.rule == "approval":
                approved.append(named + _when(decision.policy))
            if any(p.role == login.role for p in snapshot.approvers(action.collection,
                                                                    action.slug)):
                approves.append(named)
        every = len(actions)
        lines.append(f"      runs: {_listed(runs, every)}")
        if approved:
            lines.append(f"      runs once approved: {', '.join(approved)}")
        lines.append(f"      approves: {_listed(approves, every)}")
    return lines


def _named(action: Action) -> str:
    """A built-in record action's slug is the same on every collection: name the collection."""
    return f"{action.collection}/{action.slug}" if action.builtin else action.slug


def _reads(role: RoleSpec | None) -> str:
    if role is None:
        return "(role missing: no access)"
    reads = ("reads every collection" if role.read_all
             else "reads " + (", ".join(sorted(role.readable)) or "nothing"))
    return f"settings and users; {reads}" if role.is_admin else reads


def _listed(slugs: list[str], every: int) -> str:
    if not slugs:
        return "nothing"
    return f"every action ({every})" if len(slugs) == every else ", ".join(slugs)


def _when(policy: Policy | None) -> str:
    if policy is None or policy.condition is None:
        return ""
    sentence = condition_sentence(policy.condition)
    return f" ({sentence[0].lower()}{sentence[1:]})"  # "(only when amount is ...)"
