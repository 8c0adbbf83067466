"""The demo desk: the demo dataset on SQLite, as started by ``actiondesk demo``."""

from __future__ import annotations

from pathlib import Path

from actiondesk.demo.actions import register_demo_actions
from actiondesk.demo.background import register_background_demo
from actiondesk.demo.display import declare_demo_display
from actiondesk.demo.models import DemoBase
from actiondesk.desk import Desk
from actiondesk.editing import Editing

DEFAULT_DEMO_PATH = Path("actiondesk-demo.db")


# The collections whose records can be edited, created and deleted (who may do what is in the
# demo's policies, demo/access.py). Ids and the Stripe id are never typed in.
DEMO_EDITING = {
    "companies": Editing(read_only=["created_at"]),
    "customers": Editing(read_only=["stripe_id", "created_at"]),
    "transactions": Editing(read_only=["created_at"], defaults={"status": "to_validate"}),
}


def demo_database_url(path: Path) -> str:
    return f"sqlite:///{path}"


def create_demo_desk(path: Path = DEFAULT_DEMO_PATH, *, secret_key: str | None = None) -> Desk:
    """A desk over the demo database at ``path`` (which ``seed_demo`` fills)."""
    state = path.with_name(path.stem + "-state.db")
    desk = Desk(
        database_url=demo_database_url(path),
        state_url=f"sqlite:///{state}",
        secret_key=secret_key,
        models=[DemoBase],
        collections=DEMO_EDITING,
        title="actiondesk demo",
    )
    register_demo_actions(desk)
    declare_demo_display(desk)
    register_background_demo(desk)
    desk.view("companies", "Pending companies", sort="-created_at",
              filter={"field": "status", "operator": "equal", "value": "pending"},
              columns=["id", "name", "status", "industry", "created_at"])
    desk.view("transactions", "To validate", sort="-amount",
              filter={"field": "status", "operator": "equal", "value": "to_validate"})
    return desk


def demo_secret(path: Path) -> str:
    """A random secret kept next to the demo database, so sessions survive restarts and
    nobody can sign tokens for the demo with a well-known key."""
    import secrets

    secret_file = path.with_name(path.stem + ".secret")
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    return secret_file.read_text().strip()
