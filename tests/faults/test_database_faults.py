"""Faults of the databases, on a real PostgreSQL server (without stopping it: other people use
it): the user's database connection killed in the middle of an action, and the state
database made unreachable. The figures (what each request answered, and how long the
recovery took) go to test-artifacts/faults-summary.json."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from actiondesk import ActionContext, Desk, Success
from actiondesk.data.urls import to_sync_url
from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.databases import POSTGRESQL_URL, scratch_database
from tests.faults.summary import record_figure
from tests.live_server import live_server
from tests.support import execute, jsonapi

metadata = sa.MetaData()
accounts = sa.Table("accounts", metadata,
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("balance", sa.Integer, nullable=False))
ADMIN = "admin@faults.test"
# The backend pid of the connection a slow handler holds, for the test to terminate.
HELD: dict[str, int] = {}
ENTERED = threading.Event()
RELEASE = threading.Event()
SLUGS = ("transfer", "sync-transfer", "touch", "gated-touch", "linger")


def _server_engine() -> sa.Engine:
    return sa.create_engine(to_sync_url(POSTGRESQL_URL), isolation_level="AUTOCOMMIT")


def build_desk(data_url: str, state_url: str, **options: Any) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key="faults",
                models=[metadata], **options)

    @desk.action("accounts", name="Transfer")
    async def transfer(ctx: ActionContext) -> Success:
        async with ctx.db.begin() as conn:  # one unit: both rows or neither
            await conn.execute(accounts.update().where(accounts.c.id == 1)
                               .values(balance=accounts.c.balance - 10))
            HELD["pid"] = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
            ENTERED.set()
            await conn.execute(sa.text("SELECT pg_sleep(20)"))
            await conn.execute(accounts.update().where(accounts.c.id == 2)
                               .values(balance=accounts.c.balance + 10))
        return Success("moved 10")

    @desk.action("accounts", name="Sync transfer")
    def sync_transfer(ctx: ActionContext) -> Success:
        with ctx.db.begin() as conn:
            conn.execute(accounts.update().where(accounts.c.id == 1)
                         .values(balance=accounts.c.balance - 10))
            HELD["pid"] = conn.scalar(sa.text("SELECT pg_backend_pid()"))
            ENTERED.set()
            conn.execute(sa.text("SELECT pg_sleep(20)"))
            conn.execute(accounts.update().where(accounts.c.id == 2)
                         .values(balance=accounts.c.balance + 10))
        return Success("moved 10")

    @desk.action("accounts", name="Touch")
    async def touch(ctx: ActionContext) -> Success:
        return Success("touched")

    @desk.action("accounts", name="Gated touch")
    async def gated_touch(ctx: ActionContext) -> Success:
        ENTERED.set()
        await asyncio.to_thread(RELEASE.wait, 60)
        return Success("touched after the gate")

    @desk.action("accounts", name="Linger")
    async def linger(ctx: ActionContext) -> Success:
        await asyncio.sleep(120)
        return Success("lingered")

    return desk


def _seed(url: str) -> None:
    engine = sa.create_engine(to_sync_url(url))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(accounts.insert(), [{"id": 1, "balance": 100}, {"id": 2, "balance": 0}])
    engine.dispose()


def _balances(url: str) -> dict[int, int]:
    engine = sa.create_engine(to_sync_url(url))
    with engine.connect() as conn:
        found = {r.id: r.balance for r in conn.execute(sa.select(accounts))}
    engine.dispose()
    return found


def _provision(desk: Desk) -> str:
    """The admin's bearer token."""
    made = provision(desk, roles=[RoleSpec("admin", is_admin=True, read_all=True)],
                     policies=[Policy("admin", "accounts", s) for s in SLUGS],
                     users={ADMIN: ("admin", None)})
    return access_token(desk, made[ADMIN])


def _serve(data_url: str, state_url: str, **options: Any) -> Iterator[tuple[str, str]]:
    desk = build_desk(data_url, state_url, **options)
    token = _provision(desk)
    with live_server(desk) as base:
        yield base, token


@pytest.fixture
def pg_data(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A desk whose data is a scratch PostgreSQL database; state on SQLite."""
    with scratch_database("postgresql", tmp_path) as data_url:
        _seed(data_url)
        state_url = f"sqlite:///{tmp_path / 'state.db'}"
        for base, token in _serve(data_url, state_url):
            yield base, token, data_url


@pytest.mark.parametrize("slug", ["transfer", "sync-transfer"])
def test_the_users_database_goes_away_in_the_middle_of_an_action(
    pg_data: tuple[str, str, str], slug: str
) -> None:
    base, token, data_url = pg_data
    HELD.clear()
    ENTERED.clear()
    answer: dict[str, Any] = {}

    def run() -> None:
        with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=60) as c:
            answer["response"] = execute(c, slug, jsonapi(["1"]), "accounts")

    worker = threading.Thread(target=run)
    worker.start()
    assert ENTERED.wait(30), "the handler did not start"
    server = _server_engine()
    with server.connect() as conn:  # what a DBA's kill (or a failover) does to the session
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": HELD["pid"]})
    server.dispose()
    worker.join(60)
    response: httpx.Response = answer["response"]
    assert response.status_code == 503, response.text
    body = response.json()
    assert "connection to the database was lost" in body["error"]
    assert "Traceback" not in response.text
    # Nothing half-written: the handler's one transaction was rolled back whole.
    assert _balances(data_url) == {1: 100, 2: 0}
    with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=60) as client:
        run_record = client.get(f"/runs/{body['detail']['run_id']}").json()
        assert run_record["status"] == "failed" and run_record["status_code"] == 503
        # The server recovers by itself: the very next requests work.
        started = time.monotonic()
        listed = client.get("/collections/accounts/records")
        touched = client.post("/collections/accounts/actions/touch", json=jsonapi(["2"]))
        recovery_ms = (time.monotonic() - started) * 1000
    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert touched.status_code == 200, touched.text
    record_figure(f"user database lost during '{slug}'", {
        "answer": response.status_code, "run_status": run_record["status"],
        "balances_after": _balances(data_url), "next_two_requests_ms": round(recovery_ms, 1),
    })


@pytest.fixture
def pg_state(tmp_path: Path) -> Iterator[tuple[str, str, str, str]]:
    """A desk whose state database is a scratch PostgreSQL database; data on SQLite."""
    data_url = f"sqlite:///{tmp_path / 'data.db'}"
    _seed(data_url)
    with scratch_database("postgresql", tmp_path) as state_url:
        name = sa.engine.make_url(state_url).database
        assert name
        try:
            # A short lease: a kept outcome is written within a third of it once back.
            for base, token in _serve(data_url, state_url, run_lease=dt.timedelta(seconds=3)):
                yield base, token, data_url, name
        finally:
            _allow_connections(name, True)


def _allow_connections(database: str, allowed: bool) -> None:
    server = _server_engine()
    with server.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS '
                             f"{'true' if allowed else 'false'}"))
        if not allowed:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :name AND pid <> pg_backend_pid()"),
                         {"name": database})
    server.dispose()


def test_actions_refuse_to_run_without_the_state_database(
    pg_state: tuple[str, str, str, str],
) -> None:
    base, token, data_url, state_db = pg_state
    with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=60) as client:
        assert client.post("/collections/accounts/actions/touch",
                           json=jsonapi(["1"])).status_code == 200
        runs_before = client.get("/runs").json()["count"]
        _allow_connections(state_db, False)
        refused = [client.post("/collections/accounts/actions/sync-transfer",
                               json=jsonapi(["1"])) for _ in range(3)]
        for response in refused:
            assert response.status_code == 503, response.text
            assert "unavailable" in response.json()["error"]
            assert response.headers["retry-after"] == "5"
        assert _balances(data_url) == {1: 100, 2: 0}  # nothing ran unaudited
        _allow_connections(state_db, True)
        started = time.monotonic()
        back = client.post("/collections/accounts/actions/touch", json=jsonapi(["1"]))
        recovery_ms = (time.monotonic() - started) * 1000
        assert back.status_code == 200, back.text
        runs = client.get("/runs").json()
        # No run was recorded for the refused requests: there was nowhere to write it.
        assert runs["count"] == runs_before + 1
    record_figure("state database unreachable", {
        "answers_while_unreachable": [r.status_code for r in refused],
        "balances_after": _balances(data_url),
        "first_request_after_return_ms": round(recovery_ms, 1),
    })


def test_pool_timeouts_are_unavailable_too() -> None:
    from actiondesk.errors import lost_database

    assert lost_database(sa.exc.TimeoutError("pool"))
    assert lost_database(ConnectionRefusedError(111, "refused"))
    assert not lost_database(FileNotFoundError(2, "no such file"))
    assert not lost_database(sa.exc.IntegrityError("x", {}, Exception("dup")))


def _wait_for_run(client: httpx.Client, run_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if run.get("status") == status:
            return run
        assert time.monotonic() < deadline, f"the run never became {status}: {run}"
        time.sleep(0.1)


def test_an_outcome_the_state_database_missed_is_written_when_it_is_back(
    pg_state: tuple[str, str, str, str],
) -> None:
    """The state database goes away after the run began: the caller still gets the
    handler's answer, and the run is not left ``running``: its process writes the real
    outcome as soon as the database is reachable again."""
    base, token, _, state_db = pg_state
    ENTERED.clear()
    RELEASE.clear()
    answer: dict[str, httpx.Response] = {}

    def run() -> None:
        with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=90) as c:
            answer["response"] = c.post("/collections/accounts/actions/gated-touch",
                                        json=jsonapi(["1"]))

    worker = threading.Thread(target=run)
    worker.start()
    assert ENTERED.wait(30), "the handler did not start"
    _allow_connections(state_db, False)
    try:
        RELEASE.set()
        worker.join(90)
        response = answer["response"]
    finally:
        _allow_connections(state_db, True)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": "touched after the gate"}
    run_id = response.headers["x-actiondesk-run-id"]
    with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=60) as client:
        run_record = _wait_for_run(client, run_id, "succeeded")
    assert run_record["message"] == "touched after the gate"
    assert run_record["result"] == {"success": "touched after the gate"}


def test_a_run_whose_process_died_is_marked_failed_by_the_next_server(tmp_path: Path) -> None:
    """kill -9 of the server while an inline run runs: the next server marks the run
    ``failed`` with the outcome unknown instead of leaving it ``running`` forever."""
    from tests.background.processes import environment, kill, server

    data_url = f"sqlite:///{tmp_path / 'data.db'}"
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    _seed(data_url)
    token = _provision(build_desk(data_url, state_url))
    env = environment(data_url, state_url)  # a lease of 2 s
    log = tmp_path / "servers.log"
    target = "tests.faults.env_desk:desk"

    def linger(base: str) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it
            httpx.post(base + "/api/collections/accounts/actions/linger", json=jsonapi(["1"]),
                       headers=bearer(token), timeout=120)

    with server(env, token, log, target) as (base, first):
        threading.Thread(target=linger, args=(base,), daemon=True).start()
        with httpx.Client(base_url=base + "/api", headers=bearer(token), timeout=60) as client:
            deadline = time.monotonic() + 60
            while not (running := client.get("/runs", params={"status": "running"})
                       .json()["runs"]):
                assert time.monotonic() < deadline, "the run never started"
                time.sleep(0.1)
        run_id = running[0]["id"]
        kill(first)
    with server(env, token, log, target) as (base, _), httpx.Client(
            base_url=base + "/api", headers=bearer(token), timeout=60) as client:
        run_record = _wait_for_run(client, run_id, "failed")
    assert run_record["result_kind"] == "abandoned"
    assert "outcome unknown" in run_record["message"], run_record
    assert run_record["finished_at"] is not None
