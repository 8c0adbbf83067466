"""docs/editing-records.md, run as written: the documented ``shop.py`` (read from the file)
over a customers table, its permissions file imported by the real ``actiondesk permissions
import``, its ``actiondesk run`` commands run by bash, then its promises over HTTP: the
validate hook, secrets redacted, approval when credit goes above 1,000, the 409 answers of a
conflict and of a delete with dependents."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import Desk
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.doc_blocks import BASH, ROOT, block_named, commands, section
from tests.live_server import live_server
from tests.support import refused

DOC = ROOT / "docs" / "editing-records.md"
KEY = "Vq3x9Lm2Rt8Wz5Ny7Pb4Hc6Jd1Kf0Gs-doc-test"
SCHEMA = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, "
    "email VARCHAR(100), iban VARCHAR(40), password VARCHAR(100), "
    "plan VARCHAR(10) NOT NULL, credit NUMERIC(10, 2) NOT NULL DEFAULT 0)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
    "customer_id INTEGER NOT NULL REFERENCES customers (id), total NUMERIC(10, 2))",
]
ADMIN, SUPPORT, MANAGER = "admin@shop.example", "support@shop.example", "manager@shop.example"


def _shop(directory: Path) -> Desk:
    engine = sa.create_engine(f"sqlite:///{directory / 'shop.db'}")
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.execute(sa.text(statement))
    engine.dispose()
    code = block_named(section("## Opting in, per collection and per field", DOC),
                       "# shop.py").text
    (directory / "shop.py").write_text(code)
    namespace: dict[str, Any] = {}
    exec(code.replace("sqlite:///shop.db", f"sqlite:///{directory / 'shop.db'}"),  # noqa: S102
         namespace)
    desk: Desk = namespace["desk"]
    return desk


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    directory = tmp_path_factory.mktemp("shop")
    state = f"sqlite:///{directory / 'state.db'}"
    settings = {"ACTIONDESK_STATE_URL": state, "ACTIONDESK_SECRET_KEY": KEY}
    env = {**os.environ, **settings, "PYTHONPATH": str(directory),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        desk = _shop(directory)
    yield from _served_shop(desk, directory, env)


def _served_shop(desk: Desk, directory: Path,
                 env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    admin_policies = [Policy("admin", c, s) for c in ("customers", "orders")
                      for s in ("edit", "bulk-edit", "create", "delete")]
    users = provision(desk, roles=[RoleSpec("admin", is_admin=True, read_all=True)],
                      policies=admin_policies, users={ADMIN: ("admin", None)})
    toml = block_named(section("## Policies: who may edit, and what needs approval", DOC),
                       "# shop-permissions.toml")
    (directory / "shop-permissions.toml").write_text(toml.text)
    imported = subprocess.run(
        [sys.executable, "-m", "actiondesk.cli", "permissions", "import", "shop:desk",
         "shop-permissions.toml", "--merge"], cwd=directory, env=env, capture_output=True,
        text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    users |= provision(desk, users={SUPPORT: ("support", None), MANAGER: ("manager", None)})
    shell = section("## API and command line", DOC)
    for command in commands(block_named(shell, "actiondesk run shop:desk customers create "
                                        '--as admin@shop.example --value name=Ada --value '
                                        'iban="FR76 3000"')):
        done = subprocess.run([BASH, "-euo", "pipefail", "-c", command.line], cwd=directory,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command.line, done.stdout, done.stderr)
    tokens = {email: access_token(desk, user) for email, user in users.items()}
    with live_server(desk) as base:
        yield base + "/api", tokens


def client(shop: tuple[str, dict[str, str]], email: str) -> httpx.Client:
    return httpx.Client(base_url=shop[0], headers=bearer(shop[1][email]), timeout=60)


def test_the_documented_commands_created_edited_and_deleted(
        shop: tuple[str, dict[str, str]]) -> None:
    with client(shop, ADMIN) as api:
        runs = api.get("/runs", params={"collection": "customers"}).json()["runs"]
        assert {r["action_slug"] for r in runs} >= {"create", "edit", "delete"}
        assert api.get("/collections/customers/records").json()["count"] == 0
        orders = api.get("/collections/orders/actions").json()["actions"]
        assert {a["slug"] for a in orders} == {"edit", "bulk-edit", "create"}


def test_the_documented_rules_hold(shop: tuple[str, dict[str, str]]) -> None:
    with client(shop, SUPPORT) as api:
        new = {"name": "Bea", "iban": "DE89 3704", "password": "s3cret"}
        refused(api.post("/collections/customers/records", json={"values": new}), 422, "iban")
        refused(api.post("/collections/customers/records",
                         json={"values": {"name": "Bea"}}), 422, "iban")
        created = api.post("/collections/customers/records",
                           json={"values": {**new, "iban": "FR76 1234"}})
        assert created.status_code == 200, created.text
        record_id = created.json()["record"]["id"]
        assert created.json()["record"]["values"]["password"] == "[redacted]"
        record = api.get(f"/collections/customers/records/{record_id}").json()["values"]
        assert record["password"] == "hashed:6" and record["plan"] == "free"
        path = f"/collections/customers/records/{record_id}"
        asked = api.patch(path, json={"values": {"credit": "2000"}, "original": record})
        assert asked.status_code == 202 and asked.json()["approval"], asked.text
        small = api.patch(path, json={"values": {"credit": "250"}, "original": record})
        assert small.status_code == 200, small.text
        late = refused(api.patch(path, json={"values": {"credit": "5"}, "original": record}),
                       409, "credit")
        assert late["detail"]["changed"]["credit"]["now"] == "250.00"
        refused(api.patch(path, json={"values": {"email": "x@y.z"}, "original": record}), 422,
                "email")
        assert api.delete(path).status_code == 202
    with client(shop, MANAGER) as api:
        approval = asked.json()["approval"]["id"]
        assert api.post(f"/approvals/{approval}/approve", json={}).status_code == 200
        reason = api.get(f"/approvals/{approval}").json()["reason"]
        assert reason.startswith("no longer applicable: the record changed since"), reason
    with client(shop, ADMIN) as api:
        created = api.post("/collections/customers/records",
                           json={"values": {"name": "Cy", "iban": "FR76 9"}})
        customer = created.json()["record"]["id"]
        order = api.post("/collections/orders/records",
                         json={"values": {"customer_id": customer, "total": "9.99"}})
        assert order.status_code == 200, order.text
        body = refused(api.delete(f"/collections/customers/records/{customer}"), 409)
        assert body["error"].startswith("Cannot delete: 1 record of orders (customer_id)")
        assert body["detail"]["dependents"][0]["count"] == 1
