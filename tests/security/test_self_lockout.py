"""An admin cannot lock themselves out through the settings API (found by the fuzzer, which
otherwise ends its own session half-way): deactivating themselves, taking a non-admin role,
or changing, deleting or importing away their role's admin flag is a 409; another admin, or
the CLI, can do it."""

from __future__ import annotations

import httpx

from tests.security.attack_app import ADMIN
from tests.security.conftest import Site


def conflict(response: httpx.Response) -> str:
    assert response.status_code == 409, response.text
    message: str = response.json()["error"]
    return message


def test_an_admin_cannot_lock_themselves_out(site: Site) -> None:
    with site.admin() as admin:
        assert "your own account" in conflict(
            admin.patch(f"/settings/users/{ADMIN}", json={"active": False}))
        assert "own admin access" in conflict(
            admin.patch(f"/settings/users/{ADMIN}", json={"role": "agent"}))
        assert "own admin access" in conflict(
            admin.put("/settings/roles/admin", json={"is_admin": False, "read_all": True}))
        assert "own admin access" in conflict(admin.delete("/settings/roles/admin"))
        exported = admin.get("/settings/permissions/export").json()
        demoted = [{**r, "is_admin": False} if r["name"] == "admin" else r
                   for r in exported["roles"]]
        assert "own admin access" in conflict(admin.post(
            "/settings/permissions/import", json={**exported, "roles": demoted}))
        # Nothing changed, and the admin still is one.
        assert admin.get("/me").json()["is_admin"] is True
        assert admin.get("/settings/roles/admin").json()["is_admin"] is True
        # Other people's accounts and roles are still the admin's to change.
        other = "other-admin@attack.test"
        if admin.post("/settings/users", json={"email": other, "role": "admin"}
                      ).status_code != 409:
            assert admin.get("/settings/users").status_code == 200
        changed = admin.patch(f"/settings/users/{other}", json={"active": False})
        assert changed.status_code == 200 and changed.json()["active"] is False
        assert admin.patch(f"/settings/users/{other}", json={"role": "agent"}
                           ).status_code == 200
        same = admin.put("/settings/roles/admin", json={"is_admin": True, "read_all": True})
        assert same.status_code == 200, same.text
