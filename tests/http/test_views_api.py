"""Saved views through a real HTTP server, stored on every backend: create, list, read,
replace and delete with ownership and sharing checks, views declared in code, CSRF for
cookie sessions, and every bad part named in a 4xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from actiondesk import Desk
from actiondesk.errors import ConfigurationError
from tests.auth_support import PASSWORD
from tests.databases import BACKENDS, scratch_database
from tests.lists_app import ListsSite, serve_lists
from tests.sample_schema import create_and_seed, metadata
from tests.support import refused

LIVE = {"field": "status", "operator": "equal", "value": "live"}


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListsSite]:
    with scratch_database(request.param, tmp_path_factory.mktemp("views")) as url:
        asyncio.run(create_and_seed(url))
        yield from serve_lists(url)


def view(**parts: Any) -> dict[str, Any]:
    return {"name": "Big live ones", "filter": LIVE, "sort": "-capital",
            "columns": ["id", "name", "capital"], "page_size": 10, **parts}


def names(client: httpx.Client, collection: str = "companies") -> list[str]:
    response = client.get(f"/collections/{collection}/views")
    assert response.status_code == 200, response.text
    return [v["name"] for v in response.json()["views"]]


def test_a_personal_view_is_its_owners_alone(site: ListsSite) -> None:
    with site.api("sam@lists.example") as sam, site.api("sue@lists.example") as sue:
        made = sam.post("/collections/companies/views", json=view(name="Sam's"))
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["filter"] == LIVE and body["columns"] == ["id", "name", "capital"]
        assert body["mine"] and body["editable"] and body["shared_roles"] == []
        assert body["owner"]["email"] == "sam@lists.example"
        assert "Sam's" in names(sam) and "Sam's" not in names(sue)
        refused(sue.get(f"/collections/companies/views/{body['id']}"), 404)
        refused(sue.delete(f"/collections/companies/views/{body['id']}"), 404)
        assert sam.get(f"/collections/companies/views/{body['id']}").json()["name"] == "Sam's"


def test_a_shared_view_is_seen_by_its_roles_and_changed_by_its_owner(
        site: ListsSite) -> None:
    with site.api("sam@lists.example") as sam, site.api("sue@lists.example") as sue, \
            site.api("rita@lists.example") as rita, site.api() as admin:
        made = sam.post("/collections/companies/views",
                        json=view(name="Team's", shared_roles=["support"])).json()
        path = f"/collections/companies/views/{made['id']}"
        seen = sue.get(path).json()
        assert not seen["mine"] and not seen["editable"]
        assert "Team's" not in names(rita)
        body = refused(sue.put(path, json=view(name="Hijacked")), 403)
        assert "owner" in body["error"]
        refused(sue.delete(path), 403)
        changed = sam.put(path, json=view(name="Team's", sort="name", shared_roles=[]))
        assert changed.status_code == 200, changed.text
        assert changed.json()["sort"] == "name" and "Team's" not in names(sue)
        # An admin may tidy up anybody's views.
        assert admin.delete(path).status_code == 204
        refused(sam.get(path), 404)


def test_every_view_of_every_readable_collection_for_the_sidebar(site: ListsSite) -> None:
    with site.api("sam@lists.example") as sam:
        sam.post("/collections/transactions/views",
                 json={"name": "Large", "sort": "-amount"}).raise_for_status()
        listed = sam.get("/views").json()["views"]
    by_name = {v["name"]: v for v in listed}
    assert by_name["Large"]["collection"] == "transactions"
    code = by_name["Live companies"]
    assert code["in_code"] and not code["editable"] and code["owner"] is None
    assert code["id"] == "code-companies-live-companies" and code["page_size"] == 10
    assert "Admins' churned" not in by_name  # declared for the admin role only
    assert all(v["collection"] in ("companies", "transactions") for v in listed)


def test_views_declared_in_code_cannot_be_changed(site: ListsSite) -> None:
    with site.api() as admin:
        assert "Admins' churned" in names(admin)
        path = "/collections/companies/views/code-companies-live-companies"
        assert admin.get(path).json()["sort"] == "-capital"
        refused(admin.put(path, json=view()), 409)
        refused(admin.delete(path), 409)


@pytest.mark.parametrize(("parts", "status", "field"), [
    ({"name": ""}, 422, "name"),
    ({"name": "x" * 101}, 422, "name"),
    ({"name": " padded "}, 400, "name"),
    ({"filter": {"field": "nope", "operator": "equal", "value": 1}}, 400, "filter"),
    ({"filter": {"field": "status", "operator": "equal", "value": "bankrupt"}}, 400, "filter"),
    ({"filter": {"aggregator": "xor", "conditions": []}}, 400, "filter"),
    ({"sort": "nope"}, 400, "sort"),
    ({"sort": "meta"}, 400, "sort"),
    ({"columns": ["id", "nope"]}, 400, "columns"),
    ({"columns": []}, 400, "columns"),
    ({"page_size": 0}, 422, "page_size"),
    ({"page_size": 100_000}, 400, "page_size"),
    ({"shared_roles": ["ghosts"]}, 400, "shared_roles"),
    ({"colour": "red"}, 422, "colour"),
])
def test_a_bad_view_is_refused_naming_the_field_and_nothing_is_stored(
        site: ListsSite, parts: dict[str, Any], status: int, field: str) -> None:
    with site.api("sam@lists.example") as sam:
        before = names(sam)
        refused(sam.post("/collections/companies/views", json=view(**parts)), status, field)
        assert names(sam) == before


def test_names_are_unique_per_owner_and_collection(site: ListsSite) -> None:
    with site.api("sue@lists.example") as sue, site.api("sam@lists.example") as sam:
        sue.post("/collections/companies/views", json=view(name="Mine")).raise_for_status()
        refused(sue.post("/collections/companies/views", json=view(name="Mine")), 409, "name")
        assert sue.post("/collections/transactions/views",
                        json={"name": "Mine"}).status_code == 201
        assert sam.post("/collections/companies/views", json=view(name="Mine")).status_code == 201


def test_views_follow_read_access(site: ListsSite) -> None:
    with site.api("sam@lists.example") as sam:
        refused(sam.get("/collections/orders/views"), 403)
        refused(sam.post("/collections/orders/views", json={"name": "x"}), 403)
        refused(sam.get("/collections/nope/views"), 404)
        refused(sam.get("/collections/companies/views/" + "f" * 32), 404)
        refused(sam.get("/collections/companies/views/" + "f" * 65), 400)


def test_a_cookie_session_needs_the_csrf_token(site: ListsSite) -> None:
    with httpx.Client(base_url=site.base + "/api", timeout=30) as session:
        signed = session.post("/login", json={"email": "sam@lists.example",
                                              "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        csrf = signed.json()["csrf_token"]
        refused(session.post("/collections/companies/views", json=view(name="C")), 403)
        made = session.post("/collections/companies/views", json=view(name="C"),
                            headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        path = f"/collections/companies/views/{made.json()['id']}"
        refused(session.delete(path), 403)
        assert session.delete(path, headers={"X-CSRF-Token": csrf}).status_code == 204


def test_a_view_in_code_that_does_not_fit_its_collection_stops_the_start(
        tmp_path: Any) -> None:
    desk = Desk(database_url=f"sqlite:///{tmp_path / 'd.db'}",
                state_url=f"sqlite:///{tmp_path / 's.db'}", secret_key="k", models=[metadata])
    desk.view("companies", "Bad", sort="nope", columns=["ghost"])
    desk.view("nowhere", "Lost")
    with pytest.raises(ConfigurationError) as raised:
        asyncio.run(desk.start())
    problems = "\n".join(raised.value.problems)
    assert "view 'Bad' of companies: sort" in problems
    assert "view 'Bad' of companies: columns" in problems
    assert "view 'Lost' names no collection 'nowhere'" in problems
    with pytest.raises(ConfigurationError, match="declared twice"):
        desk.view("companies", "Bad")
