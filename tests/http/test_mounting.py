"""A desk mounted in a host application under a prefix, and start-up failures."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from actiondesk import Desk
from tests.auth_support import ADMIN_EMAIL, PASSWORD, bearer, token_for
from tests.live_server import live_server
from tests.sample_schema import metadata


def test_mounted_under_a_prefix(sample_db: str, tmp_path: Path) -> None:
    host = FastAPI()

    @host.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    desk = Desk(
        database_url=sample_db,
        state_url=f"sqlite:///{tmp_path}/state.db",
        secret_key="k",
        models=[metadata],
    )
    host.mount("/admin", desk)
    token = token_for(desk)
    with live_server(host) as base, httpx.Client(base_url=base) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/admin/api/collections/companies/records").status_code == 401
        body = client.get("/admin/api/collections/companies/records",
                          headers=bearer(token)).json()
        assert body["count"] == 30
        doc = client.get("/admin/api/openapi.json")
        assert doc.status_code == 200 and "/api/collections" in doc.json()["paths"]
        # The session cookie is scoped to the mount point.
        login = client.post("/admin/api/login",
                            json={"email": ADMIN_EMAIL, "password": PASSWORD})
        assert login.status_code == 200
        assert "Path=/admin/" in login.headers["set-cookie"]
        home = client.get("/admin/")
        assert home.status_code == 200
        assert 'href="/admin/collections/companies"' in home.text
        assert 'data-base="/admin"' in home.text
        assert client.get("/admin/api/collections/nope").status_code == 404


def test_mounted_desk_that_cannot_start_answers_503_json(tmp_path: Path) -> None:
    host = FastAPI()
    desk = Desk(
        database_url="postgresql://x@127.0.0.1:1/none",
        state_url=f"sqlite:///{tmp_path}/state.db",
        secret_key="k",
    )
    host.mount("/admin", desk)
    with live_server(host) as base, httpx.Client(base_url=base) as client:
        response = client.get("/admin/api/collections")
        assert response.status_code == 503
        assert response.json()["error"] == "actiondesk cannot start"
        assert "cannot read the database" in response.json()["detail"]


def test_home_page_escapes_names(sample_db: str, tmp_path: Path) -> None:
    desk = Desk(
        database_url=sample_db,
        state_url=f"sqlite:///{tmp_path}/state.db",
        secret_key="k",
        models=[metadata],
        title="<b>ops</b>",
    )
    token_for(desk)
    with live_server(desk) as base, httpx.Client(base_url=base) as client:
        assert client.get("/").headers["location"].endswith("/login")
        assert "&lt;b&gt;ops&lt;/b&gt;" in client.get("/login").text
        client.post("/api/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
        page = client.get("/").text
        assert "&lt;b&gt;ops&lt;/b&gt;" in page and "<b>ops</b>" not in page
