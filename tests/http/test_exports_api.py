"""List exports through a real HTTP server on every backend: CSV and JSON lines of the list's
filter, search, sort and columns, in the list's order across keyset batches; formula-looking
cells neutralised; the export right per role; each export audited as a run."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from actiondesk import Desk
from actiondesk.actions.caller import Caller
from actiondesk.data.urls import to_async_url
from actiondesk.exports.service import ExportQuery
from actiondesk.permissions.access import Access
from actiondesk.runs.records import RunRecord
from tests.auth_support import with_started
from tests.databases import BACKENDS, scratch_database
from tests.lists_app import ListsSite, build_desk, serve_lists
from tests.sample_schema import companies, create_and_seed, orders
from tests.support import refused

FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+2", "-3+4", "@SUM(A1)", "\tcmd", "\rcmd"]


async def _seed(url: str) -> None:
    await create_and_seed(url)
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.execute(orders.insert(), [{"code": code, "company_id": 2}
                                                 for code in FORMULAS])
            await conn.execute(sa.update(companies).where(companies.c.id == 30)
                               .values(capital=-5.5, name="-minus"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListsSite]:
    folder = tmp_path_factory.mktemp("exports-" + request.param)
    with scratch_database(request.param, folder) as url:
        asyncio.run(_seed(url))
        yield from serve_lists(url)


@pytest.fixture
def api(site: ListsSite) -> Iterator[httpx.Client]:
    with site.api() as client:
        yield client


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def listed_ids(api: httpx.Client, **params: Any) -> list[str]:
    body = api.get("/collections/companies/records", params={**params, "page_size": 200})
    assert body.status_code == 200, body.text
    return [r["id"] for r in body.json()["records"]]


def test_csv_of_the_whole_list_has_every_field_and_row(api: httpx.Client) -> None:
    response = api.get("/collections/companies/records.csv")
    rows = csv_rows(response)
    assert rows[0] == ["id", "name", "status", "note", "rating", "capital", "active",
                       "founded", "opens_at", "created_at", "meta"]
    assert len(rows) == 31
    assert rows[6][:3] == ["6", "Company 06", "pending"]
    assert rows[6][5:7] == ["6000.25", "true"] and rows[6][10] == '{"i": 6}'
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "companies-" in disposition
    assert response.headers["x-actiondesk-run-id"]


@pytest.mark.parametrize("sort", ["", "-id", "rating", "-rating", "founded,-name",
                                  "-founded,status", "status,-capital"])
def test_rows_come_in_the_lists_order_across_batches(api: httpx.Client, sort: str) -> None:
    # The site's batches hold 7 rows: 30 rows take 5 keyset steps, some inside runs of
    # equal or empty sort values.
    rows = csv_rows(api.get("/collections/companies/records.csv",
                            params={"sort": sort, "columns": "id"}))
    assert [r[0] for r in rows[1:]] == listed_ids(api, sort=sort)


def test_filter_search_sort_and_columns_are_the_lists(api: httpx.Client) -> None:
    params = {"filter": json.dumps({"field": "status", "operator": "in",
                                    "value": ["live", "pending"]}),
              "search": "Company 1", "sort": "-capital", "columns": "name,capital,id"}
    rows = csv_rows(api.get("/collections/companies/records.csv", params=params))
    assert rows[0] == ["name", "capital", "id"]
    assert [r[2] for r in rows[1:]] == listed_ids(
        api, filter=params["filter"], search="Company 1", sort="-capital")
    assert rows[1] == ["Company 19", "19000.25", "19"]


def test_json_lines_hold_the_id_and_the_chosen_values(api: httpx.Client) -> None:
    response = api.get("/collections/order_lines/records.jsonl",
                       params={"columns": "label", "sort": "-line_no"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) > 2 and all(set(line) == {"id", "values"} for line in lines)
    assert all(set(line["values"]) == {"label"} for line in lines)
    assert lines[0]["values"]["label"].endswith("line 2")


def test_formula_looking_cells_are_neutralised_but_numbers_keep_their_sign(
        api: httpx.Client) -> None:
    rows = csv_rows(api.get("/collections/orders/records.csv", params={"columns": "code"}))
    cells = {r[0] for r in rows[1:]}
    for formula in FORMULAS:
        assert "'" + formula in cells and formula not in cells
    minus = csv_rows(api.get("/collections/companies/records.csv", params={
        "columns": "name,capital",
        "filter": json.dumps({"field": "id", "operator": "equal", "value": 30})}))
    assert minus[1] == ["'-minus", "-5.50"]
    lines = api.get("/collections/orders/records.jsonl").text
    assert json.dumps(FORMULAS[0])[1:-1] in lines  # JSON keeps the data as it is


@pytest.mark.parametrize(("params", "field"), [
    ({"filter": "{bad"}, "filter"),
    ({"filter": json.dumps({"field": "nope", "operator": "equal", "value": 1})}, "nope"),
    ({"sort": "nope"}, "sort"),
    ({"sort": "meta"}, "sort"),
    ({"columns": "name,nope"}, "columns"),
    ({"search": "x" * 500}, "search"),
])
def test_bad_list_parameters_are_400_naming_the_field_and_nothing_is_audited(
        api: httpx.Client, params: dict[str, str], field: str) -> None:
    before = api.get("/runs", params={"collection": "companies"}).json()["count"]
    refused(api.get("/collections/companies/records.csv", params=params), 400, field)
    assert api.get("/runs", params={"collection": "companies"}).json()["count"] == before


def test_the_export_right_is_per_role(site: ListsSite) -> None:
    with site.api("rita@lists.example") as reader:
        assert reader.get("/collections/companies/records").status_code == 200
        for fmt in ("csv", "jsonl"):
            body = refused(reader.get(f"/collections/companies/records.{fmt}"), 403)
            assert "may not export" in body["error"]
    with site.api("sam@lists.example") as support:
        assert support.get("/collections/companies/records.csv").status_code == 200
        refused(support.get("/collections/orders/records.csv"), 403)  # not readable
        refused(support.get("/collections/nope/records.csv"), 404)
    refused(httpx.get(site.base + "/api/collections/companies/records.csv"), 401)
    with site.api() as admin:
        events = admin.get("/audit", params={
            "path": "/api/collections/companies/records.jsonl"}).json()["events"]
    assert any("may not export" in e["reason"] and e["caller_email"] == "rita@lists.example"
               for e in events)


def test_an_export_is_audited_as_a_run(site: ListsSite) -> None:
    flt = {"field": "status", "operator": "equal", "value": "live"}
    with site.api("sam@lists.example") as support:
        response = support.get("/collections/companies/records.csv", params={
            "filter": json.dumps(flt), "sort": "name", "columns": "id,name"})
        run_id = response.headers["x-actiondesk-run-id"]
        run = support.get(f"/runs/{run_id}").json()
    assert run["status"] == "succeeded" and run["action_slug"] == "export.csv"
    assert run["caller"]["email"] == "sam@lists.example"
    assert run["record_count"] == 10 == len(csv_rows(response)) - 1
    assert run["selection"] == {"export": "csv", "all_records": True, "filter": flt, "search": None,
                                "sort": "name", "columns": ["id", "name"]}
    assert run["message"] == "exported 10 row(s)"


def test_the_right_is_set_on_the_role_through_the_settings_api(site: ListsSite) -> None:
    with site.api() as admin:
        refused(admin.put("/settings/roles/auditor", json={"read_all": True,
                                                           "can_export": "sometimes"}),
                422, "can_export")
        made = admin.put("/settings/roles/auditor", json={"read_all": True, "can_export": True})
        assert made.status_code == 200, made.text
        assert made.json()["can_export"] is True
        assert admin.get("/settings/roles/reader").json()["can_export"] is False
        assert admin.delete("/settings/roles/auditor").status_code == 204


def test_a_download_left_early_is_audited_as_cancelled(site: ListsSite) -> None:
    async def leave_early(desk: Desk) -> RunRecord:
        access = Access(Caller(id="x1", email="quitter@lists.example", role="admin"),
                        await desk.permissions.snapshot(), dev_mode=False)
        export = await desk.exports.start("companies", ExportQuery(sort="-id"), "csv", access)
        chunks = export.chunks()
        assert (await anext(chunks)).startswith("id,name")
        assert (await anext(chunks)).count("\n") == 7
        await chunks.aclose()  # what the server does when the client goes away
        return await desk.runs.get(export.run_id)

    desk = build_desk(site.data_url, site.data_url)
    run = with_started(desk, leave_early)
    assert run.status == "cancelled" and run.record_count == 7
    assert run.message == "the download stopped after 7 row(s): the client went away"
