"""Sessions the server can end, and the last admin nobody can remove.

Signing out ends that session (or the bearer token sent) on the server, so a copied cookie
stops working; signing out everywhere ends all of a user's sessions and tokens; an admin can
do that to someone else. No path — settings API, CLI, permissions import, role change — may
leave the desk without an active admin. Served over HTTP, with the state database (where
users and revocations live) on each backend, and a second server on the same databases
standing for another process.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from actiondesk import Desk
from actiondesk.http.dependencies import COOKIE, CSRF_HEADER
from actiondesk.permissions.service import RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.databases import BACKENDS, scratch_database
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata
from tests.support import refused

SECRET = "sessions-tests-0123456789-abcdefghijklmnop"
EXTERNAL_SECRET = "host-app-0123456789-abcdefghijklmnopq"
PASSWORD = "correct-horse-battery"
ADMIN = "admin@sessions.test"
ROLES = [
    RoleSpec("admin", is_admin=True, read_all=True),
    # The host application's admins: an admin role no local user has.
    RoleSpec("superadmin", is_admin=True, read_all=True),
    RoleSpec("agent", readable=frozenset({"companies"})),
]
_numbers = itertools.count()


@dataclass(frozen=True)
class Site:
    api: str
    other_api: str  # another server process on the same databases
    desk: Desk
    admin_token: str
    tmp: Path

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers=bearer(self.admin_token), timeout=30)

    def host_admin(self) -> httpx.Client:
        """A caller the host application vouches for, with an admin role no local user has:
        the one caller the settings API lets change the last local admin."""
        claims = {"id": "7", "email": "root@host.example", "role": "superadmin",
                  "exp": int(time.time()) + 600}
        token = jwt.encode(claims, EXTERNAL_SECRET, algorithm="HS256")
        return httpx.Client(base_url=self.api, headers=bearer(token), timeout=30)


def make_desk(data_url: str, state_url: str) -> Desk:
    return Desk(database_url=data_url, state_url=state_url, secret_key=SECRET,
                models=[metadata], external_identity_secret=EXTERNAL_SECRET)


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("sessions-" + request.param)
    data_url = f"sqlite:///{tmp / 'data.db'}"
    asyncio.run(create_and_seed(data_url))
    with scratch_database(request.param, tmp) as state_url:
        desk = make_desk(data_url, state_url)
        made = provision(desk, roles=ROLES, users={ADMIN: ("admin", PASSWORD)})
        token = access_token(desk, made[ADMIN])
        with live_server(desk) as base, live_server(make_desk(data_url, state_url)) as other:
            yield Site(base + "/api", other + "/api", desk, token, tmp)


def new_user(site: Site, role: str = "agent") -> str:
    email = f"user{next(_numbers)}-{uuid.uuid4().hex[:6]}@sessions.test"
    with site.admin() as admin:
        made = admin.post("/settings/users", json={"email": email, "role": role,
                                                   "password": PASSWORD})
    assert made.status_code == 201, made.text
    return email


class Session:
    """A signed-in browser: its cookie jar and CSRF token."""

    def __init__(self, site: Site, email: str) -> None:
        self.client = httpx.Client(base_url=site.api, timeout=30)
        signed = self.client.post("/login", json={"email": email, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        self.csrf: str = signed.json()["csrf_token"]
        self.cookie = self.client.cookies[COOKIE]

    def me(self) -> httpx.Response:
        return self.client.get("/me")

    def logout(self, **params: Any) -> httpx.Response:
        return self.client.post("/logout", params=params, headers={CSRF_HEADER: self.csrf})

    def close(self) -> None:
        self.client.close()


def with_cookie(api: str, cookie: str) -> httpx.Response:
    """What an attacker holding a copy of the cookie sees."""
    return httpx.get(api + "/me", headers={"Cookie": f"{COOKIE}={cookie}"}, timeout=30)


def with_token(api: str, token: str) -> httpx.Response:
    return httpx.get(api + "/me", headers=bearer(token), timeout=30)


def token_of(site: Site, email: str) -> str:
    user = asyncio.run(_by_email(site.desk, email))
    return access_token(site.desk, user)


async def _by_email(desk: Desk, email: str) -> Any:
    # A fresh connection in this thread's own loop; the served desk's engine is left alone.
    from actiondesk.data.state import StateStore
    from actiondesk.services.users import UsersService

    store = StateStore(desk.settings.state_url)
    try:
        return await UsersService(store).require(email)
    finally:
        await store.close()


# -- signing out ---------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server_so_a_copied_cookie_fails(site: Site) -> None:
    email = new_user(site)
    first, second = Session(site, email), Session(site, email)
    copied = first.cookie
    assert with_cookie(site.api, copied).status_code == 200
    assert with_cookie(site.other_api, copied).status_code == 200

    assert first.logout().status_code == 204
    for api in (site.api, site.other_api):
        body = refused(with_cookie(api, copied), 401)
        assert "signed out" in body["error"]
    # Only that session: the same user's other browser stays signed in.
    assert second.me().status_code == 200
    assert with_cookie(site.other_api, second.cookie).status_code == 200
    first.close()
    second.close()


def test_logout_needs_the_csrf_token_and_a_live_session(site: Site) -> None:
    email = new_user(site)
    session = Session(site, email)
    refused(session.client.post("/logout"), 403)
    assert session.me().status_code == 200  # refused before anything ended
    assert session.logout().status_code == 204
    # Signing out twice with the copied cookie: the session is already over.
    replay = httpx.post(site.api + "/logout", headers={
        "Cookie": f"{COOKIE}={session.cookie}", CSRF_HEADER: session.csrf}, timeout=30)
    refused(replay, 401)
    session.close()


def test_logout_with_a_bearer_token_revokes_that_token_only(site: Site) -> None:
    email = new_user(site)
    kept, revoked = token_of(site, email), token_of(site, email)
    out = httpx.post(site.api + "/logout", headers=bearer(revoked), timeout=30)
    assert out.status_code == 204, out.text
    for api in (site.api, site.other_api):
        refused(with_token(api, revoked), 401)
        assert with_token(api, kept).status_code == 200


def test_sign_out_everywhere_ends_every_session_and_token_of_the_caller(site: Site) -> None:
    email, bystander = new_user(site), new_user(site)
    here, elsewhere = Session(site, email), Session(site, email)
    token = token_of(site, email)
    other = Session(site, bystander)

    assert here.logout(everywhere="true").status_code == 204
    for api in (site.api, site.other_api):
        for cookie in (here.cookie, elsewhere.cookie):
            assert "signed out everywhere" in refused(with_cookie(api, cookie), 401)["error"]
        refused(with_token(api, token), 401)
    # Nobody else is affected, and the user may sign in again.
    assert other.me().status_code == 200
    again = Session(site, email)
    assert again.me().json()["user"]["email"] == email
    for session in (here, elsewhere, other, again):
        session.close()


def test_an_admin_ends_another_users_sessions(site: Site) -> None:
    email = new_user(site)
    session, token = Session(site, email), token_of(site, email)
    # Not for anyone but admins.
    refused(session.client.post(f"/settings/users/{email}/sessions/revoke",
                                headers={CSRF_HEADER: session.csrf}), 403)
    assert session.me().status_code == 200
    with site.admin() as admin:
        done = admin.post(f"/settings/users/{email}/sessions/revoke")
        assert done.status_code == 200, done.text
        assert done.json()["email"] == email and done.json()["active"] is True
        refused(admin.post("/settings/users/nobody@sessions.test/sessions/revoke"), 404)
        # The admin's own token is untouched.
        assert admin.get("/me").status_code == 200
    refused(session.me(), 401)
    refused(with_token(site.other_api, token), 401)
    session.close()


# -- the last admin ------------------------------------------------------------------------


def admin_still_in_charge(site: Site) -> None:
    """Nothing of a refused change was written: the last admin is an admin, active, and
    their token (which any change to them would end) still works."""
    with site.admin() as admin:
        me = admin.get("/me")
        assert me.status_code == 200, me.text
        assert me.json()["is_admin"] is True and me.json()["user"]["role"] == "admin"
        role = admin.get("/settings/roles/admin").json()
        assert role["is_admin"] is True


@pytest.mark.parametrize("change", ["demote", "deactivate", "demote-role", "delete-role",
                                    "import", "import-merge"])
def test_the_settings_api_refuses_to_remove_the_last_admin(site: Site, change: str) -> None:
    exported = None
    with site.admin() as admin:
        exported = admin.get("/settings/permissions/export").json()
    demoted = [{**r, "is_admin": False} if r["name"] == "admin" else r
               for r in exported["roles"]]
    with site.host_admin() as host:
        response = {
            "demote": lambda: host.patch(f"/settings/users/{ADMIN}", json={"role": "agent"}),
            "deactivate": lambda: host.patch(f"/settings/users/{ADMIN}",
                                             json={"active": False}),
            "demote-role": lambda: host.put("/settings/roles/admin",
                                            json={"is_admin": False, "read_all": True}),
            "delete-role": lambda: host.delete("/settings/roles/admin"),
            "import": lambda: host.post("/settings/permissions/import",
                                        json={**exported, "roles": demoted}),
            "import-merge": lambda: host.post(
                "/settings/permissions/import", params={"merge": "true"},
                json={"roles": [r for r in demoted if r["name"] == "admin"]}),
        }[change]()
    body = refused(response, 409)
    if change != "delete-role":  # refused earlier: the role still has users
        assert "would leave no active admin" in body["error"]
    admin_still_in_charge(site)


def test_an_admin_who_is_not_the_last_may_be_demoted_and_deactivated(site: Site) -> None:
    second, third = new_user(site, role="admin"), new_user(site, role="admin")
    with site.host_admin() as host:
        demoted = host.patch(f"/settings/users/{second}", json={"role": "agent"})
        assert demoted.status_code == 200, demoted.text
        off = host.patch(f"/settings/users/{third}", json={"active": False})
        assert off.status_code == 200, off.text
    admin_still_in_charge(site)


# -- the CLI ---------------------------------------------------------------------------------

CLI_APP = """\
from actiondesk import Desk
from tests.sample_schema import metadata
desk = Desk(database_url={data!r}, state_url={state!r}, secret_key={secret!r},
            models=[metadata])
"""
DEMOTING_IMPORT = """\
[[role]]
name = "admin"
is_admin = false
read_all = true

[[role]]
name = "agent"
readable = ["companies"]
"""


def test_the_cli_refuses_to_remove_the_last_admin_and_signs_users_out(
    tmp_path: Path,
) -> None:
    data, state = f"sqlite:///{tmp_path / 'data.db'}", f"sqlite:///{tmp_path / 'state.db'}"
    asyncio.run(create_and_seed(data))
    (tmp_path / "cliapp.py").write_text(CLI_APP.format(data=data, state=state, secret=SECRET))
    (tmp_path / "demote.toml").write_text(DEMOTING_IMPORT)
    desk = make_desk(data, state)
    made = provision(desk, roles=[r for r in ROLES if r.name != "superadmin"],
                     users={ADMIN: ("admin", None), "ops@sessions.test": ("agent", None)})
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{Path(__file__).resolve().parents[2]}"}

    for args in (["users", "set-role", "cliapp:desk", ADMIN, "agent"],
                 ["users", "deactivate", "cliapp:desk", ADMIN],
                 ["permissions", "import", "cliapp:desk", "demote.toml"]):
        result = run_cli(args, tmp_path, env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "would leave no active admin" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr

    admin_token = access_token(desk, made[ADMIN])
    ops_token = access_token(desk, made["ops@sessions.test"])
    signed_out = run_cli(["users", "sign-out", "cliapp:desk", "ops@sessions.test"], tmp_path,
                         env)
    assert signed_out.returncode == 0, signed_out.stderr
    assert "signed out everywhere" in signed_out.stdout
    with live_server(make_desk(data, state)) as base:
        refused(with_token(base + "/api", ops_token), 401)
        me = with_token(base + "/api", admin_token)
        # Nothing of the refused changes was written: the admin's token still works.
        assert me.status_code == 200 and me.json()["is_admin"] is True


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "actiondesk.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
