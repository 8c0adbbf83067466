"""The README's partitioned-run example, run as shown: declared from the README's own code
block, executed through a real server on SQLite with the in-process runner."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from actiondesk.permissions.service import Policy, RoleSpec
from tests.auth_support import access_token, bearer, provision
from tests.doc_blocks import block_named, section
from tests.live_server import live_server
from tests.support import jsonapi

CUSTOMERS = 1000


def test_the_readme_partitioned_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACTIONDESK_SECRET_KEY", "partitioned-doc-test-secret")
    db = sqlite3.connect(tmp_path / "shop.db")
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    db.executemany("INSERT INTO customers VALUES (?, ?)",
                   [(i, f"c{i}") for i in range(1, CUSTOMERS + 1)])
    db.commit()
    db.close()
    namespace: dict[str, Any] = {}
    exec(block_named(section("### Partitioned runs"), "# partitioned.py").text, namespace)  # noqa: S102
    desk = namespace["desk"]
    users = provision(desk, roles=[RoleSpec("ops", read_all=True)],
                      policies=[Policy("ops", "customers", "rescore-all")],
                      users={"ada@example.com": ("ops", None)})
    token = access_token(desk, users["ada@example.com"])
    with live_server(desk) as base, httpx.Client(base_url=base + "/api", timeout=60,
                                                 headers=bearer(token)) as api:
        answer = api.post("/collections/customers/actions/rescore-all",
                          json=jsonapi(all_records=True))
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["run"]["id"]
        deadline = time.monotonic() + 90
        while (run := api.get(f"/runs/{run_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, run
            time.sleep(0.05)
    assert run["status"] == "succeeded", run
    assert run["result"] == {"success": f"{CUSTOMERS:,} customers rescored"}
    assert run["progress"]["done"] == CUSTOMERS
