"""The documented deployment (deploy/compose.yaml): its plan is the documented topology, and
the same topology started as local processes keeps every promise across processes: any
server answers any signed-in request, background runs go to the workers, and a permission
change made through one server is refused at the next request on the others."""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.databases import scratch_database, unavailable
from tests.deploy.topology import DEPLOY, Topology, compose, services, started
from tests.doc_blocks import ROOT, blocks, section
from tests.support import jsonapi

ADMIN = "admin@deploy.test"
OPS = "ops@deploy.test"
PASSWORD = "deploy-test-password"
ACTIONDESK = ("setup", "server-1", "server-2", "server-3", "worker-1", "worker-2")


def test_the_compose_file_is_the_documented_topology() -> None:
    plan = compose()["services"]
    assert sorted(plan) == sorted(["postgres", "proxy", *ACTIONDESK])
    assert services("server-") == ["server-1", "server-2", "server-3"]
    assert services("worker-") == ["worker-1", "worker-2"]
    shared = plan["server-1"]["environment"]
    assert shared["ACTIONDESK_RUNNER"] == "procrastinate"
    assert shared["ACTIONDESK_STATE_URL"].startswith("postgresql://")
    assert shared["ACTIONDESK_STATE_URL"] == shared["ACTIONDESK_DATABASE_URL"]
    # One secret key for every process, required (never a random key per process).
    assert shared["ACTIONDESK_SECRET_KEY"].startswith("${ACTIONDESK_SECRET_KEY:?")
    for name in ACTIONDESK:
        env = plan[name]["environment"]
        assert {k: v for k, v in env.items() if k in shared} == shared, name
    for name in services("server-"):
        argv = plan[name]["command"].split()
        assert argv[:3] == ["actiondesk", "serve", "app:desk"], name
        assert "--workers" in argv and "--forwarded-allow-ips" in argv, name
        assert plan[name]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    for name in services("worker-"):
        assert plan[name]["command"] == "actiondesk worker app:desk"
    assert plan["setup"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert sorted(plan["proxy"]["depends_on"]) == services("server-")
    upstreams = re.findall(r"server (\S+):8000", (DEPLOY / "nginx.conf").read_text())
    assert upstreams == services("server-")
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY deploy/app.py deploy/setup.py /app/" in dockerfile
    assert "USER nobody" in dockerfile
    example = dict(line.split("=", 1) for line in (DEPLOY / "example.env").read_text()
                   .splitlines() if line and not line.startswith("#"))
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert required == set(example), "example.env names every variable compose requires"


def test_the_readme_commands_name_the_deployment_files() -> None:
    commands = blocks(section("## Many servers"), "sh")[0]
    lines = [line.split("#")[0].split() for line in commands.text.splitlines()]
    assert lines[0] == ["cp", "deploy/example.env", "deploy/.env"]
    assert (ROOT / lines[0][1]).is_file()
    compose_file = lines[1][lines[1].index("-f") + 1]
    assert (ROOT / compose_file) == DEPLOY / "compose.yaml"
    assert lines[1][:2] == ["docker", "compose"] and "up" in lines[1]
    assert "8080:80" in compose()["services"]["proxy"]["ports"]
    assert "/deploy/.env" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        unavailable("nginx is not installed (apt-get install nginx-light)")
    logs = tmp_path_factory.mktemp("topology")
    variables = {"POSTGRES_PASSWORD": "unused", "ACTIONDESK_SECRET_KEY": secrets.token_urlsafe(32),
                 "ACTIONDESK_ADMIN_EMAIL": ADMIN, "ACTIONDESK_ADMIN_PASSWORD": PASSWORD}
    with scratch_database("postgresql", logs) as url, started(nginx, url, variables, logs) as top:
        yield top


def sign_in(base: str, email: str) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=base + "/api", timeout=60)
    answer = client.post("/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def wait_run(client: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.3)


def test_any_server_answers_any_session_through_the_proxy(topology: Topology) -> None:
    client, _ = sign_in(topology.proxy, ADMIN)
    for _ in range(12):
        assert client.get("/me").status_code == 200
    for name in services("server-"):
        log = (topology.logs / f"{name}.log").read_text()
        assert '"GET /api/me HTTP/1.1" 200' in log, f"the proxy sent nothing to {name}"
    # The session cookie and its CSRF token, issued by one server, are good on every server.
    for base in topology.servers.values():
        direct = httpx.Client(base_url=base + "/api", cookies=client.cookies, timeout=60)
        assert direct.get("/me").json()["user"]["email"] == ADMIN
        refused = direct.post("/collections/companies/actions/mark-as-live",
                              json=jsonapi(["1"]))
        assert refused.status_code == 403, refused.text  # no CSRF token: refused everywhere


def test_background_runs_go_to_the_workers(topology: Topology) -> None:
    client, csrf = sign_in(topology.proxy, ADMIN)
    customers = client.get("/collections/customers/records", params={"page_size": 1}).json()
    answer = client.post("/collections/customers/actions/recheck-customers", headers=csrf,
                         json=jsonapi(None, all_records=True))
    assert answer.status_code == 202, answer.text
    run = wait_run(client, answer.json()["run"]["id"])
    assert run["status"] == "succeeded", run
    assert run["message"] == f"{customers['count']} customers rechecked"
    assert run["runner"] == "procrastinate"
    assert run["progress"]["done"] == customers["count"]
    # Only workers execute Procrastinate jobs: the servers enqueue them.


def test_a_permission_change_on_one_server_is_refused_at_the_next_request_on_the_others(
    topology: Topology,
) -> None:
    admin = httpx.Client(base_url=topology.servers["server-1"] + "/api", timeout=60)
    answer = admin.post("/login", json={"email": ADMIN, "password": PASSWORD})
    admin.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    assert admin.put("/settings/roles/ops", json={"read_all": True}).status_code == 200
    policy = {"role": "ops", "collection": "companies", "action": "mark-as-live"}
    assert admin.put("/settings/policies", json=policy).status_code == 200
    created = admin.post("/settings/users", json={"email": OPS, "role": "ops",
                                                  "password": PASSWORD})
    assert created.status_code == 201, created.text
    others = {name: sign_in(base, OPS) for name, base in topology.servers.items()
              if name != "server-1"}
    for client, _ in others.values():
        slugs = [a["slug"] for a in client.get("/collections/companies/actions").json()["actions"]]
        assert "mark-as-live" in slugs

    removed = admin.delete("/settings/policies", params={"role": "ops",
                                                         "collection": "companies",
                                                         "action": "mark-as-live"})
    assert removed.status_code == 204
    for name, (client, csrf) in others.items():
        for _ in range(4):  # every process of that server, whichever answers
            refused = client.post("/collections/companies/actions/mark-as-live", headers=csrf,
                                  json=jsonapi(["1"]))
            assert refused.status_code == 404, (name, refused.text)
