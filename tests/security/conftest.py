"""The attack suite's server, signed-in clients, and its report: every attempt is logged with
its outcome (refused, or neutralised: the payload reached the desk and came out harmless) and
whether the audit holds it (``/api/audit`` or the runs). At the end of the session the
summary is printed and written to ``test-artifacts/security-summary.json``."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from actiondesk.http.dependencies import COOKIE
from tests.auth_support import ServedDesk, access_token, bearer, provision
from tests.live_server import live_server
from tests.sample_schema import companies, create_and_seed
from tests.security.attack_app import (
    ADMIN,
    PASSWORD,
    POLICIES,
    ROLES,
    USERS,
    XSS_NAME,
    XSS_RECORD,
    build_desk,
)
from tests.support import refused

SUMMARY = Path(__file__).resolve().parents[2] / "test-artifacts" / "security-summary.json"


@dataclass(frozen=True)
class Attempt:
    category: str
    name: str
    status: int
    outcome: str  # "refused" or "neutralised"
    audited: bool | None  # None: nothing to audit (a read whose answer was made harmless)
    where: str  # where the audit holds it


ATTEMPTS: list[Attempt] = []


class Site(ServedDesk):
    """What tests/http/test_auth.py's token attacks need, and more."""

    def client(self, email: str) -> httpx.Client:
        return httpx.Client(base_url=self.api, timeout=30,
                            headers=bearer(access_token(self.desk, self.users[email])))

    def session(self, email: str) -> tuple[httpx.Client, str]:
        """A client holding the session cookie of ``email``, and its CSRF token."""
        client = httpx.Client(base_url=self.api, timeout=30)
        response = client.post("/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        assert client.cookies.get(COOKIE)
        return client, response.json()["csrf_token"]

    # -- the audit ---------------------------------------------------------------------

    def audit_count(self, path: str, kind: str | None = None) -> int:
        params: dict[str, Any] = {"path": path, "limit": 1000}
        if kind:
            params["kind"] = kind
        with self.admin() as admin:
            response = admin.get("/audit", params=params)
        assert response.status_code == 200, response.text
        return len(response.json()["events"])

    def run(self, run_id: str) -> dict[str, Any]:
        with self.admin() as admin:
            response = admin.get(f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("attack")
    data_url, state_url = f"sqlite:///{tmp / 'data.db'}", f"sqlite:///{tmp / 'state.db'}"
    asyncio.run(create_and_seed(data_url))
    engine = sa.create_engine(data_url)
    with engine.begin() as conn:
        conn.execute(companies.update().where(companies.c.id == int(XSS_RECORD))
                     .values(name=XSS_NAME))
    engine.dispose()
    desk = build_desk(data_url, state_url)
    users = provision(desk, roles=ROLES, policies=POLICIES, users=USERS)
    with live_server(desk) as base:
        yield Site(base, desk, data_url, state_url, users, access_token(desk, users[ADMIN]))


class AttackLog:
    """What a test records about each attempt it makes."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def refused(self, category: str, name: str, response: httpx.Response, status: int,
                *, audited_in: str, audited: bool) -> dict[str, Any]:
        """An attempt the desk must refuse with ``status`` and a JSON error (no traceback);
        ``audited`` says whether the audit holds it, as the test checked."""
        body = refused(response, status)
        ATTEMPTS.append(Attempt(category, name, status, "refused", audited, audited_in))
        assert audited, f"{name}: the refusal is not in the audit ({audited_in})"
        return body

    def neutralised(self, category: str, name: str, status: int, *, audited_in: str,
                    audited: bool | None) -> None:
        """An attempt whose payload the desk took and rendered harmless (the test checked
        how); audited when the run that carried it is recorded (None: a plain read, which
        the audit does not record)."""
        ATTEMPTS.append(Attempt(category, name, status, "neutralised", audited, audited_in))
        assert audited is not False, f"{name}: the attempt is not in the audit ({audited_in})"

    def in_audit(self, path: str, kind: str, before: int) -> bool:
        return self.site.audit_count(path, kind) == before + 1

    def refused_run(self, response: httpx.Response) -> bool:
        """Whether the refusal is a run of the runs audit (its id in the error detail, or in
        the run header when the handler ran and its answer was refused)."""
        run = self.run_of(response)
        return bool(run and run["status"] in ("refused", "error") and
                    run["status_code"] == response.status_code)

    def run_of(self, response: httpx.Response) -> dict[str, Any] | None:
        run_id = response.headers.get("x-actiondesk-run-id")
        if run_id is None:
            detail = response.json().get("detail")
            run_id = detail.get("run_id") if isinstance(detail, dict) else None
        return self.site.run(run_id) if run_id else None


@pytest.fixture
def attacks(site: Site) -> AttackLog:
    return AttackLog(site)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not ATTEMPTS:
        return
    by_category: dict[str, Counter[str]] = {}
    for attempt in ATTEMPTS:
        counts = by_category.setdefault(attempt.category, Counter())
        counts["attempts"] += 1
        counts[attempt.outcome] += 1
        counts["audited"] += attempt.audited is True
        counts["n/a"] += attempt.audited is None
    write = terminalreporter.write_line
    terminalreporter.section("attack suite")
    header = (f"{'category':<26}{'attempts':>9}{'refused':>9}{'neutralised':>12}"
              f"{'audited':>9}{'n/a':>5}")
    write(header)
    write("-" * len(header))
    total: Counter[str] = Counter()
    for category, counts in sorted(by_category.items()):
        total.update(counts)
        write(f"{category:<26}{counts['attempts']:>9}{counts['refused']:>9}"
              f"{counts['neutralised']:>12}{counts['audited']:>9}{counts['n/a']:>5}")
    write("-" * len(header))
    write(f"{'total':<26}{total['attempts']:>9}{total['refused']:>9}"
          f"{total['neutralised']:>12}{total['audited']:>9}{total['n/a']:>5}")
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps({
        "attempts": total["attempts"], "refused": total["refused"],
        "neutralised": total["neutralised"], "audited": total["audited"],
        "audit_not_applicable": total["n/a"],
        "by_category": {k: dict(v) for k, v in sorted(by_category.items())},
        "each": [asdict(a) for a in ATTEMPTS],
    }, indent=2))
    write(f"written to {SUMMARY}")
