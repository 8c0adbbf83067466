"""The runs audit API, served by a real server over runs recorded through ``desk.runs``."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import Desk
from actiondesk.actions.filenames import safe_filename
from actiondesk.actions.results import content_disposition
from actiondesk.data.state import runs_table
from tests.auth_support import bearer, token_for
from tests.conftest import TOKENS
from tests.live_server import live_server

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
ALICE = {"id": "u-1", "email": "alice@example.com"}
BOB = {"id": "u-2", "email": "bob@example.com"}
AWKWARD_NAME = 'q"uote\r\nline;semi\\back é€.csv'
CSV = "id;name\n1;Zoë\n".encode()


async def _record(desk: Desk) -> dict[str, str]:
    """Six runs, one a minute from T0: name -> run id."""
    await desk.state.start()
    runs = desk.runs
    ids: dict[str, str] = {}
    try:
        for name, slug, collection, caller in [
            ("live-a", "mark-live", "companies", ALICE),
            ("live-b", "mark-live", "companies", BOB),
            ("export", "export", "companies", ALICE),
            ("refund", "refund", "transactions", BOB),
            ("running", "refund", "transactions", ALICE),
        ]:
            run_id = await runs.begin(
                action_slug=slug, action_name=slug.title(), collection=collection,
                scope="bulk", caller=caller, selection={"ids": ["1"]}, values={}, record_count=1,
            )
            assert isinstance(run_id, str)
            ids[name] = run_id
        for name in ("live-a", "live-b", "refund"):
            await runs.finish(ids[name], status="succeeded", status_code=200,
                              result_kind="success", message=f"{name} done")
        await runs.finish(
            ids["export"], status="succeeded", status_code=200, result_kind="file",
            message=None, result_file=CSV, result_filename=AWKWARD_NAME,
            result_mime="text/csv; charset=utf-8",
        )
        ids["refused"] = await runs.record_refusal(
            action_slug="refund", action_name="Refund", collection="transactions",
            scope="single", caller=BOB, selection={"ids": ["9"]}, status_code=403,
            message="not allowed",
        )
        async with desk.state.engine.begin() as conn:
            for minutes, run_id in enumerate(ids.values()):
                await conn.execute(
                    sa.update(runs_table)
                    .where(runs_table.c.id == run_id)
                    .values(started_at=T0 + dt.timedelta(minutes=minutes))
                )
    finally:
        await desk.state.close()
    return ids


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("runs-api")
    desk = Desk(
        database_url=f"sqlite:///{tmp / 'data.db'}",
        state_url=f"sqlite:///{tmp / 'state.db'}",
        secret_key="k",
    )
    ids = asyncio.run(_record(desk))
    TOKENS["runs-api"] = token_for(desk)
    with live_server(desk) as base:
        yield base, ids


@pytest.fixture
def client(recorded: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=recorded[0] + "/api", timeout=30,
                      headers=bearer(TOKENS["runs-api"])) as client:
        yield client


@pytest.fixture
def ids(recorded: tuple[str, dict[str, str]]) -> dict[str, str]:
    return recorded[1]


def listed(client: httpx.Client, **params: str | int) -> list[str]:
    response = client.get("/runs", params=params)
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["runs"]]


def test_list_is_newest_first_with_count(client: httpx.Client, ids: dict[str, str]) -> None:
    body = client.get("/runs").json()
    assert body["count"] == 6 and body["page"] == 1 and body["page_size"] == 50
    assert [r["id"] for r in body["runs"]] == list(ids.values())[::-1]
    export = next(r for r in body["runs"] if r["id"] == ids["export"])
    assert export["has_file"] is True and "result_file" not in export
    assert export["result_filename"] == AWKWARD_NAME
    assert export["started_at"] == (T0 + dt.timedelta(minutes=2)).isoformat()


def test_filters(client: httpx.Client, ids: dict[str, str]) -> None:
    assert listed(client, action="mark-live") == [ids["live-b"], ids["live-a"]]
    assert set(listed(client, collection="transactions")) == {
        ids["refund"], ids["running"], ids["refused"]
    }
    assert listed(client, caller="u-2") == listed(client, caller="bob@example.com")
    assert set(listed(client, caller="u-2")) == {ids["live-b"], ids["refund"], ids["refused"]}
    assert listed(client, status="running") == [ids["running"]]
    assert listed(client, status="refused", caller="u-2") == [ids["refused"]]
    assert listed(client, since="2026-03-01T09:03:00Z", until="2026-03-01T09:05:00+00:00") == [
        ids["running"], ids["refund"]
    ]
    # An offset is honoured, and a time without one is UTC.
    assert listed(client, since="2026-03-01T10:04:00+01:00") == [ids["refused"], ids["running"]]
    assert listed(client, since="2026-03-01T09:04:00") == [ids["refused"], ids["running"]]
    assert listed(client, action="nothing") == []


def test_paging(client: httpx.Client, ids: dict[str, str]) -> None:
    newest_first = list(ids.values())[::-1]
    assert listed(client, page=2, page_size=4) == newest_first[4:]
    assert listed(client, page=3, page_size=4) == []
    body = client.get("/runs", params={"page_size": 1000}).json()
    assert body["page_size"] == 200 and body["count"] == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"page": 0}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page": "x"}, "page"),
        ({"action": "\x00"}, "action"),
        ({"caller": "a" * 321}, "caller"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    client: httpx.Client, params: dict[str, str | int], field: str
) -> None:
    response = client.get("/runs", params=params)
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"] and body["error"]


def test_one_run(client: httpx.Client, ids: dict[str, str]) -> None:
    run = client.get(f"/runs/{ids['refused']}").json()
    assert run["status"] == "refused" and run["status_code"] == 403
    assert run["message"] == "not allowed" and run["caller"] == BOB
    assert run["duration_ms"] == 0 and run["finished_at"] is not None
    running = client.get(f"/runs/{ids['running']}").json()
    assert running["finished_at"] is None and running["duration_ms"] is None


def test_unknown_run_is_404_json(client: httpx.Client) -> None:
    for path in ("/runs/nope", "/runs/nope/file", "/runs/%00", "/runs/%00/file"):
        response = client.get(path)
        assert response.status_code == 404 and "no run" in response.json()["error"]


def test_run_without_a_file_is_404(client: httpx.Client, ids: dict[str, str]) -> None:
    response = client.get(f"/runs/{ids['live-a']}/file")
    assert response.status_code == 404 and "no file" in response.json()["error"]


def test_file_download(client: httpx.Client, ids: dict[str, str]) -> None:
    response = client.get(f"/runs/{ids['export']}/file")
    assert response.status_code == 200 and response.content == CSV
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Content-Disposition" in response.headers["access-control-expose-headers"]
    disposition = response.headers["content-disposition"]
    match = re.fullmatch(r'attachment; filename="([^"]*)"; filename\*=UTF-8\'\'(\S+)', disposition)
    assert match is not None, disposition
    fallback, encoded = match.groups()
    # Directory parts (a backslash included) and control characters are dropped.
    assert unquote(encoded, encoding="utf-8") == safe_filename(AWKWARD_NAME) == "back é€.csv"
    assert not set('"\\;\r\n') & set(fallback) and fallback.isascii()
    assert fallback.startswith("back") and fallback.endswith(".csv")


def test_content_disposition_edge_cases() -> None:
    assert content_disposition("€€€") == "attachment; filename=\"download\"; filename*=UTF-8''" + (
        "%E2%82%AC" * 3
    )
    assert 'filename="report.pdf"' in content_disposition("report.pdf")
    assert "\n" not in content_disposition("a\nb") and "\r" not in content_disposition("a\rb")


def test_openapi_documents_the_runs_routes(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert {"/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/file"} <= set(doc["paths"])
    assert {"RunOut", "RunPage", "ErrorOut"} <= set(doc["components"]["schemas"])


def test_unsafe_stored_mime_is_served_as_octet_stream(tmp_path: Path) -> None:
    desk = Desk(
        database_url=f"sqlite:///{tmp_path / 'data.db'}",
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        secret_key="k",
    )

    async def record() -> str:
        await desk.state.start()
        try:
            run_id = await desk.runs.begin(
                action_slug="x", action_name="X", collection=None, scope="global",
                caller=ALICE, selection={}, values={},
            )
            assert isinstance(run_id, str)
            await desk.runs.finish(
                run_id, status="succeeded", status_code=200, result_kind="file", message=None,
                result_file=b"<script>", result_filename="x.html",
                result_mime="text/html\r\nSet-Cookie: a=b",
            )
            return run_id
        finally:
            await desk.state.close()

    run_id = asyncio.run(record())
    token = token_for(desk)
    with live_server(desk) as base:
        response = httpx.get(f"{base}/api/runs/{run_id}/file", headers=bearer(token))
    assert response.headers["content-type"] == "application/octet-stream"
    assert "set-cookie" not in response.headers
