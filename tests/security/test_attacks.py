"""The attack suite: what an outsider or an insider with a restricted role tries, against a
real server. Each attempt is refused (a JSON 4xx, found in /api/audit or in the runs) or its
payload is neutralised (sanitised HTML, JSON-escaped values, safe file names and headers).
The session summary (attempts, refused, neutralised, audited) is printed at the end and
written to test-artifacts/security-summary.json; ./scripts/attack runs only this suite.

Some attacks also have focused tests elsewhere (tests/http/test_auth.py for tokens and CSRF,
tests/actions/test_execute.py for results); the token attacks are the same list, reused.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from actiondesk.http.dependencies import COOKIE, CSRF_HEADER
from tests.http.test_auth import ATTACKS
from tests.security.attack_app import (
    AGENT,
    APPROVER,
    LOCKED,
    MALLORY,
    MAX_BODY,
    MAX_FILE,
    PASSWORD,
    XSS_NAME,
    XSS_RECORD,
)
from tests.security.conftest import AttackLog, Site
from tests.support import execute, jsonapi

ACTIONS = "/collections/companies/actions"


@pytest.fixture
def agent(site: Site) -> Iterator[httpx.Client]:
    with site.client(AGENT) as client:
        yield client


# -- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_tokens(site: Site, attacks: AttackLog, attack: str) -> None:
    headers = ATTACKS[attack](site, site.users[AGENT])  # type: ignore[arg-type]
    path = f"/api/collections/probe-{attack}"
    before = site.audit_count(path, "unauthenticated")
    response = httpx.get(site.base + path, headers=headers, timeout=30)
    attacks.refused("forged tokens", attack, response, 401, audited_in="/api/audit",
                    audited=attacks.in_audit(path, "unauthenticated", before))


def test_session_fixation(site: Site, attacks: AttackLog) -> None:
    planted = "attacker-chosen-session-id"
    login = httpx.post(site.api + "/login", json={"email": AGENT, "password": PASSWORD},
                       cookies={COOKIE: planted}, timeout=30)
    assert login.status_code == 200
    issued = httpx.Cookies()
    issued.extract_cookies(login)
    # Sign-in always issues a new session; the planted id never becomes one.
    assert issued.get(COOKIE) and issued.get(COOKIE) != planted
    before = site.audit_count("/api/me", "unauthenticated")
    replay = httpx.get(site.api + "/me", cookies={COOKIE: planted}, timeout=30)
    attacks.refused("session fixation", "planted session id replayed after sign-in", replay,
                    401, audited_in="/api/audit",
                    audited=attacks.in_audit("/api/me", "unauthenticated", before))


def test_csrf(site: Site, attacks: AttackLog) -> None:
    path = "/api" + ACTIONS + "/touch"
    victim, csrf = site.session(AGENT)
    other, other_csrf = site.session(MALLORY)
    other.close()
    tries = {
        "no token": {},
        "wrong token": {CSRF_HEADER: csrf[:-2] + "xx"},
        "empty token": {CSRF_HEADER: ""},
        "another session's token": {CSRF_HEADER: other_csrf},
        "token in a cookie-like header": {"Cookie": f"{COOKIE}={victim.cookies.get(COOKIE)}; "
                                          f"csrf={csrf}"},
    }
    try:
        for name, headers in tries.items():
            before = site.audit_count(path, "forbidden")
            response = execute(victim, "touch", jsonapi(["1"]), headers=headers)
            attacks.refused("csrf", name, response, 403, audited_in="/api/audit",
                            audited=attacks.in_audit(path, "forbidden", before))
        # A cross-site form post: no JSON, no header, the cookie alone.
        before = site.audit_count(path, "forbidden")
        form_post = victim.post(f"{ACTIONS}/touch", content=b"data=1",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        attacks.refused("csrf", "cross-site form post", form_post, 403,
                        audited_in="/api/audit",
                        audited=attacks.in_audit(path, "forbidden", before))
        assert execute(victim, "touch", jsonapi(["1"]),
                       headers={CSRF_HEADER: csrf}).status_code == 200
    finally:
        victim.close()


def test_login_brute_force_is_rate_limited(site: Site, attacks: AttackLog) -> None:
    path = "/api/login"
    for n in range(5):
        before = site.audit_count(path, "unauthenticated")
        response = httpx.post(site.api + "/login", timeout=30,
                              json={"email": LOCKED, "password": f"guess-{n}"})
        attacks.refused("brute force", f"wrong password {n + 1}", response, 401,
                        audited_in="/api/audit",
                        audited=attacks.in_audit(path, "unauthenticated", before))
    before = site.audit_count(path, "rate_limited")
    locked = httpx.post(site.api + "/login", json={"email": LOCKED, "password": PASSWORD},
                        timeout=30)
    attacks.refused("brute force", "the right password after 5 failures", locked, 429,
                    audited_in="/api/audit", audited=attacks.in_audit(path, "rate_limited",
                                                                       before))


# -- guessed names and data outside the caller's access -------------------------------------


GUESSES = {
    "unknown action": ("post", ACTIONS + "/drop-everything", 404, "not_found"),
    "action of a state table": ("post", "/collections/actiondesk_users/actions/touch", 404,
                                "not_found"),
    "state table as a collection": ("get", "/collections/actiondesk_users/records", 404,
                                    "not_found"),
    "unknown collection": ("get", "/collections/secrets/records", 404, "not_found"),
    "unreadable collection": ("get", "/collections/transactions/records", 403, "forbidden"),
    "unreadable record": ("get", "/collections/transactions/records/1", 403, "forbidden"),
    "relationship into an unreadable collection": (
        "get", "/collections/companies/records/1/relationships/emitter_company_transactions", 403,
        "forbidden"),
    "another caller's runs": ("get", "/runs?caller=admin%40attack.test", 403, "forbidden"),
    "the audit": ("get", "/audit", 403, "forbidden"),
    "the settings": ("get", "/settings/users", 403, "forbidden"),
    "traversal in a run id": ("get", "/runs/..%2F..%2Fetc%2Fpasswd/file", 404, "not_found"),
    "unknown route": ("get", "/admin.php", 404, "not_found"),
}


@pytest.mark.parametrize("name", list(GUESSES))
def test_guessed_names_and_unreadable_data(site: Site, attacks: AttackLog,
                                           agent: httpx.Client, name: str) -> None:
    method, path, status, kind = GUESSES[name]
    audited_path = unquote("/api" + path.split("?")[0])  # the audit keeps the decoded path
    before = site.audit_count(audited_path, kind)
    body = jsonapi(["1"]) if method == "post" else None
    response = agent.request(method.upper(), path, json=body)
    attacks.refused("guessed names / read access", name, response, status,
                    audited_in="/api/audit", audited=attacks.in_audit(audited_path, kind,
                                                                      before))


def test_hidden_actions_and_unreadable_parents(site: Site, attacks: AttackLog,
                                               agent: httpx.Client) -> None:
    path = "/api" + ACTIONS + "/purge"
    before = site.audit_count(path, "not_found")
    hidden = execute(agent, "purge", jsonapi(["1"]))
    # Answered as an action that does not exist; the admins' audit has the real reason.
    body = attacks.refused("guessed names / read access", "hidden action", hidden, 404,
                           audited_in="/api/audit",
                           audited=site.audit_count(path, "not_found") == before + 1)
    assert body == {"error": "no action 'purge' on companies"}
    parent = execute(agent, "touch", jsonapi(
        ["1"], parent_collection_name="transactions", parent_collection_id="1",
        parent_association_name="beneficiary_company"))
    attacks.refused("guessed names / read access", "parent in an unreadable collection",
                    parent, 403, audited_in="runs", audited=attacks.refused_run(parent))


# -- select-all filters ---------------------------------------------------------------------

HOSTILE_FILTERS: dict[str, dict[str, Any]] = {
    "field of another collection": {"filters": json.dumps(
        {"field": "transactions.amount", "operator": "greater_than", "value": 0})},
    "field name as SQL": {"filters": json.dumps(
        {"field": "id) OR (1=1", "operator": "equal", "value": 1})},
    "SQL in an integer value": {"filters": json.dumps(
        {"field": "id", "operator": "equal", "value": "1 OR 1=1"})},
    "SQL in a text value": {"filters": json.dumps(
        {"field": "name", "operator": "equal", "value": "x' OR '1'='1"})},
    "SQL in a LIKE pattern": {"filters": json.dumps(
        {"field": "name", "operator": "contains", "value": "%' OR 1=1 --"})},
    "SQL in the search": {"search": "%' OR '1'='1' --"},
    "an unknown subset key": {"where": "1=1"},
    "a bare condition": {"field": "id", "operator": "is_not_null"},
    "an operator as SQL": {"filters": json.dumps(
        {"field": "id", "operator": "= 1 OR 1 =", "value": 1})},
}


@pytest.mark.parametrize("name", list(HOSTILE_FILTERS))
def test_select_all_filters(site: Site, attacks: AttackLog, agent: httpx.Client,
                            name: str) -> None:
    path = "/api" + ACTIONS + "/bulk-touch"
    before = site.audit_count(path, "bad_request")
    response = execute(agent, "bulk-touch", jsonapi(
        all_records=True, all_records_subset_query=HOSTILE_FILTERS[name]))
    attacks.refused("select-all filters", name, response, 400, audited_in="/api/audit",
                    audited=attacks.in_audit(path, "bad_request", before))
    # Nothing reached the database as SQL: the table is whole.
    assert agent.get("/collections/companies/records").json()["count"] == 30


# -- approvals ------------------------------------------------------------------------------


def _request(client: httpx.Client, slug: str, **values: Any) -> str:
    response = execute(client, slug, jsonapi(["2"], values or None))
    assert response.status_code == 202, response.text
    approval_id: str = response.json()["approval"]["id"]
    return approval_id


def test_tampered_and_self_approvals(site: Site, attacks: AttackLog,
                                     agent: httpx.Client) -> None:
    approval = _request(agent, "wire-money", amount="10.00")
    path = f"/api/approvals/{approval}/approve"
    with site.client(APPROVER) as approver, site.client(MALLORY) as mallory:
        tampered = {
            "changed values": {"message": "ok", "values": {"amount": "1000000"}},
            "changed ids": {"ids": ["1", "2", "3"]},
            "changed action": {"smart_action_id": "companies-purge"},
            "not an object": [{"message": "ok"}],
        }
        for name, body in tampered.items():
            before = site.audit_count(path, "bad_request")
            response = approver.post(f"/approvals/{approval}/approve", json=body)
            attacks.refused("approvals", f"tampered approval: {name}", response, 400,
                            audited_in="/api/audit",
                            audited=attacks.in_audit(path, "bad_request", before))
        for name, client in (("self-approval", agent), ("approval by a non-approver",
                                                        mallory)):
            before = site.audit_count(path, "forbidden")
            response = client.post(f"/approvals/{approval}/approve")
            attacks.refused("approvals", name, response, 403, audited_in="/api/audit",
                            audited=attacks.in_audit(path, "forbidden", before))
        missing = "/approvals/" + "f" * 32 + "/approve"
        before = site.audit_count("/api" + missing, "not_found")
        response = approver.post(missing)
        attacks.refused("approvals", "unknown request", response, 404, audited_in="/api/audit",
                        audited=attacks.in_audit("/api" + missing, "not_found", before))
        done = approver.post(f"/approvals/{approval}/approve")
        assert done.status_code == 200 and done.json()["approval"]["status"] == "executed"
        run = site.run(done.json()["approval"]["run_id"])
        assert run["values"] == {"amount": "10.00"}  # exactly what was requested
    own = _request(agent, "self-check")
    before = site.audit_count(f"/api/approvals/{own}/approve", "forbidden")
    response = agent.post(f"/approvals/{own}/approve")
    attacks.refused("approvals", "self-approval with can_approve", response, 403,
                    audited_in="/api/audit", audited=attacks.in_audit(
                        f"/api/approvals/{own}/approve", "forbidden", before))


# -- XSS ------------------------------------------------------------------------------------

XSS_HTML = {
    "script tag": "<script>alert(1)</script><b>kept</b>",
    "event handler": "<img src=x onerror=alert(1)><b>kept</b>",
    "javascript link": '<a href="javascript:alert(1)">x</a><b>kept</b>',
    "svg onload": "<svg onload=alert(1)></svg><b>kept</b>",
    "iframe": '<iframe src="//evil.example"></iframe><b>kept</b>',
    "style attribute": '<p style="background:url(javascript:alert(1))">x</p><b>kept</b>',
    "data URL link": '<a href="data:text/html,<script>alert(1)</script>">x</a><b>kept</b>',
    "broken markup": '<<script>alert(1)//<</script><b>kept</b>',
}
DANGEROUS = ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg", "style=",
             "data:text/html")


@pytest.mark.parametrize("name", list(XSS_HTML))
def test_xss_in_html_results(site: Site, attacks: AttackLog, agent: httpx.Client,
                             name: str) -> None:
    response = execute(agent, "echo-html", jsonapi(["1"], {"html": XSS_HTML[name]}))
    assert response.status_code == 200, response.text
    html = response.json()["html"]
    assert "<b>kept</b>" in html
    assert not any(bad in html.lower() for bad in DANGEROUS), html
    run = attacks.run_of(response)
    attacks.neutralised("xss", f"html result: {name}", 200, audited_in="runs",
                        audited=bool(run and run["result"] == {"html": html}))


def test_xss_in_record_values_form_labels_and_enum_labels(site: Site, attacks: AttackLog,
                                                          agent: httpx.Client) -> None:
    record = agent.get(f"/collections/companies/records/{XSS_RECORD}")
    assert record.json()["values"]["name"] == XSS_NAME  # the value, as JSON text
    _json_only(record)
    attacks.neutralised("xss", "record value", 200, audited_in="n/a (a read)", audited=None)
    form = agent.post(f"{ACTIONS}/describe/form", json=jsonapi([XSS_RECORD]))
    assert form.status_code == 200, form.text
    _json_only(form)
    note, label = form.json()["fields"]
    assert note["description"] == XSS_NAME and note["label"] == XSS_NAME
    assert XSS_NAME in label["enum_values"]
    attacks.neutralised("xss", "form label and description", 200,
                        audited_in="n/a (a read)", audited=None)
    done = execute(agent, "describe", jsonapi([XSS_RECORD], {"label": XSS_NAME}))
    assert done.status_code == 200, done.text
    run = attacks.run_of(done)
    attacks.neutralised("xss", "enum label submitted", 200, audited_in="runs",
                        audited=bool(run and run["values"]["label"] == XSS_NAME))


def _json_only(response: httpx.Response) -> None:
    """Markup in JSON is data: served as JSON, never sniffed, under a policy with no inline
    script; the UI writes it as text."""
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]


# -- redirects and webhooks -----------------------------------------------------------------

REDIRECTS = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
             "java\tscript:alert(1)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
             "vbscript:msgbox(1)", "//evil.example/phish", "\\\\evil.example", "/\\evil.example",
             "https:evil.example", "http://[::1"]
WEBHOOKS = ["file:///etc/passwd", "ftp://evil.example/x", "javascript:alert(1)",
            "gopher://evil.example:70/x", "data:,x", "//evil.example/hook", "http://[::1",
            "ldap://evil.example"]


@pytest.mark.parametrize(("kind", "target"), [("redirect-to", t) for t in REDIRECTS]
                         + [("webhook-to", t) for t in WEBHOOKS])
def test_unsafe_redirects_and_webhooks(site: Site, attacks: AttackLog, agent: httpx.Client,
                                       kind: str, target: str) -> None:
    field = "to" if kind == "redirect-to" else "url"
    response = execute(agent, kind, jsonapi(["1"], {field: target}))
    body = attacks.refused("redirects" if kind == "redirect-to" else "webhooks",
                           repr(target), response, 400, audited_in="runs",
                           audited=attacks.refused_run(response))
    assert target.strip() not in json.dumps(body)
    run = attacks.run_of(response)
    assert run is not None and "refused an unsafe result" in run["message"]


def test_safe_redirects_and_webhooks_still_work(agent: httpx.Client) -> None:
    for target in ("/collections/companies", "https://example.com/track?id=1"):
        response = execute(agent, "redirect-to", jsonapi(["1"], {"to": target}))
        assert response.json() == {"redirectTo": target}
    hook = execute(agent, "webhook-to", jsonapi(["1"], {"url": "https://hooks.example.com/x"}))
    assert hook.json()["webhook"]["url"] == "https://hooks.example.com/x"


# -- sizes ----------------------------------------------------------------------------------


def _file(name: str, content: bytes) -> str:
    return f"data:text/plain;name={quote(name)};base64,{base64.b64encode(content).decode()}"


def test_oversized_bodies_and_files(site: Site, attacks: AttackLog, agent: httpx.Client) -> None:
    path = "/api" + ACTIONS + "/echo-html"
    big = jsonapi(["1"], {"html": "x" * (MAX_BODY + 1)})
    before = site.audit_count(path, "too_large")
    response = execute(agent, "echo-html", big)
    attacks.refused("sizes", "body over the limit", response, 413, audited_in="/api/audit",
                    audited=attacks.in_audit(path, "too_large", before))

    def chunks() -> Iterator[bytes]:
        yield b'{"data": {"attributes": {"values": {"html": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024
        yield b'"}}}}'

    before = site.audit_count(path, "too_large")
    streamed = agent.post(ACTIONS + "/echo-html", content=chunks(),
                          headers={"Content-Type": "application/json"})
    attacks.refused("sizes", "streamed body without a length", streamed, 413,
                    audited_in="/api/audit", audited=attacks.in_audit(path, "too_large",
                                                                      before))
    settings_path = "/api/settings/roles/huge"
    before = site.audit_count(settings_path, "too_large")
    with site.admin() as admin:
        settings = admin.put("/settings/roles/huge",
                             json={"description": "x", "readable": ["y" * 100] * 1000})
    attacks.refused("sizes", "settings body over the limit", settings, 413,
                    audited_in="/api/audit", audited=attacks.in_audit(settings_path,
                                                                      "too_large", before))
    upload = execute(agent, "upload", jsonapi(["1"], {"doc": _file("a.txt",
                                                                   b"x" * (MAX_FILE + 1))}))
    body = attacks.refused("sizes", "file over the field's limit", upload, 422,
                           audited_in="runs", audited=attacks.refused_run(upload))
    assert "larger than the limit" in body["fields"]["doc"]


# -- file names -----------------------------------------------------------------------------

TRAVERSALS = {"../../etc/passwd": "passwd", "..\\..\\windows\\win.ini": "win.ini",
              "/etc/shadow": "shadow", "....//....//x.txt": "x.txt", ".htaccess": "htaccess",
              "%2e%2e%2fsecret": "secret"}


@pytest.mark.parametrize("name", list(TRAVERSALS))
def test_path_traversal_in_uploaded_file_names(site: Site, attacks: AttackLog,
                                               agent: httpx.Client, name: str) -> None:
    response = execute(agent, "upload", jsonapi(["1"], {"doc": _file(name, b"data")}))
    assert response.status_code == 200, response.text
    stored = response.json()["success"].removeprefix("stored as ")
    assert "/" not in stored and "\\" not in stored and not stored.startswith(".")
    assert stored.endswith(TRAVERSALS[name].lstrip(".")), stored
    run = attacks.run_of(response)
    attacks.neutralised("file names", f"upload named {name!r}", 200, audited_in="runs",
                        audited=bool(run and run["values"]["doc"]["filename"] == stored))


DOWNLOAD_NAMES = ["../../etc/passwd", "report\r\nSet-Cookie: pwned=1", 'x"; filename="evil.exe',
                  "a\nX-Injected: 1", "\u202eexe.pdf", "..", "%0d%0aX-Injected: 1"]


@pytest.mark.parametrize("name", DOWNLOAD_NAMES)
def test_download_file_names(site: Site, attacks: AttackLog, agent: httpx.Client,
                             name: str) -> None:
    response = execute(agent, "download-as", jsonapi(["1"], {"name": name}))
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert "pwned" not in response.headers.get("set-cookie", "")
    assert "x-injected" not in response.headers
    assert "\r" not in disposition and "\n" not in disposition
    plain = disposition.split("filename=", 1)[1].split(";", 1)[0]
    assert plain.count('"') == 2 and "/" not in plain and "\\" not in plain, disposition
    assert "\u202e" not in disposition
    run = attacks.run_of(response)
    attacks.neutralised("file names", f"download named {name!r}", 200, audited_in="runs",
                        audited=bool(run and run["result_kind"] == "file"))
