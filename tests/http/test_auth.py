"""Identity over HTTP: sign-in and its cookie, rate limits, CSRF, token attacks, accounts that
change while signed in, external identity, development mode, and secrets kept out of answers.

One SQLite desk served for the module; the identity checks do not depend on the data backend.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import hmac
import importlib.metadata
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher

from actiondesk import ActionContext, Desk, Success
from actiondesk.http.dependencies import COOKIE, CSRF_HEADER
from actiondesk.permissions.service import Policy, RoleSpec
from actiondesk.services import passwords
from actiondesk.services import users as users_module
from actiondesk.services.users import User
from tests.auth_support import ServedDesk, access_token, bearer, provision, with_started
from tests.live_server import live_server
from tests.sample_schema import create_and_seed, metadata
from tests.support import jsonapi, refused

SECRET = "auth-tests-secret"
EXTERNAL_SECRET = "x" * 32
PASSWORD = "correct-horse-battery"

ADMIN = "admin@auth.test"
ALICE = "alice@auth.test"  # signs in; CSRF and cookie checks
BOB = "bob@auth.test"  # gets locked out
CAROL = "carol@auth.test"  # deactivated while signed in
DAVE = "dave@auth.test"  # changes role while signed in
NOBODY = "nobody@auth.test"  # a role without any rule
GHOST = "ghost@auth.test"  # no such account

ROLES = [
    RoleSpec("admin", is_admin=True, read_all=True),
    RoleSpec("agent", readable=frozenset({"companies"})),
    RoleSpec("clerk", readable=frozenset({"companies"})),
    RoleSpec("nobody"),
]
POLICIES = [
    Policy("admin", "companies", "touch"),
    Policy("admin", "companies", "secret-op"),
    Policy("agent", "companies", "touch"),
    Policy("clerk", "companies", "touch"),
]
USERS: dict[str, tuple[str, str | None]] = {
    ADMIN: ("admin", None),
    ALICE: ("agent", PASSWORD),
    BOB: ("agent", PASSWORD),
    CAROL: ("agent", PASSWORD),
    DAVE: ("agent", PASSWORD),
    NOBODY: ("nobody", None),
}

# Any public key will do: an attacker signs HS256 with it, hoping it is taken as the secret.
PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0yRAdSTGoCsog9JP24Dz
qg92pFcTH/zpTgzOssbmcZIw92H6YNu85epROasF23AsdEsYgumSW5CfmnnKgcHj
cWcJcJ6ToMhvOQ93hxZIo+mJ5U89XDE+UnY4l9AAMfTxyK61pxI0LlFuXqnLzgg/
onHuze8H1Jo68kcwB2YWCAuHOFrJy/coswsSsYrjuDvwR1cT0qlXOhDdfOgCwlzN
cvxdUh9RSrA4MpR3X7tWgmSF+09f+RuPsStwvO3aSXKiYvL8uMc9qqXNPyBQXR/6
/qzNDLq6I2yXjoVG+KJT5olDyUNaZbTwhJlR3Ml8CEFhiHnOwAs2FqK4JMoUSNEm
5QIDAQAB
-----END PUBLIC KEY-----
"""


def make_desk(data_url: str, state_url: str, **options: Any) -> Desk:
    desk = Desk(database_url=data_url, state_url=state_url, secret_key=SECRET,
                models=[metadata], **options)

    @desk.action("companies", name="Touch")
    async def touch(ctx: ActionContext) -> Success:
        assert ctx.selection is not None
        record = await ctx.selection.record()
        return Success(f"touched {record['id']} for {ctx.caller.email}")

    @desk.action("companies", name="Secret op")
    async def secret_op(ctx: ActionContext) -> Success:
        return Success("done")

    return desk


class Site(ServedDesk):
    def other_process(self) -> Desk:
        """A desk on the same databases, as another server process would have."""
        return make_desk(self.data_url, self.state_url)


@pytest.fixture(scope="module")
def cheap_argon2() -> Iterator[None]:
    """argon2 at its smallest cost: the tests check what sign-in answers, not how long the
    hash takes, and the real parameters cost ~50-300 ms per login on a test machine."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    dummy = hasher.hash("actiondesk-dummy-password")
    with pytest.MonkeyPatch.context() as patch:
        # Private names of services/passwords.py: if they change, the tests only run slower.
        if hasattr(passwords, "_hasher"):
            patch.setattr(passwords, "_hasher", hasher)
        # The hash verified for unknown accounts, so they cost what a real one does.
        if hasattr(passwords, "_dummy_hash"):
            patch.setattr(passwords, "_dummy_hash", lambda: dummy)
        if hasattr(passwords, "_DUMMY_HASH"):
            patch.setattr(passwords, "_DUMMY_HASH", dummy)
        yield


@pytest.fixture(scope="module")
def data_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('auth-data') / 'data.db'}"
    asyncio.run(create_and_seed(url))
    return url


def _serve(
    data_url: str, tmp: Path, users: dict[str, tuple[str, str | None]], **options: Any
) -> Iterator[Site]:
    state_url = f"sqlite:///{tmp / 'state.db'}"
    desk = make_desk(data_url, state_url, **options)
    made = provision(desk, roles=ROLES, policies=POLICIES, users=users)
    token = access_token(desk, made[ADMIN])
    with live_server(desk) as base:
        yield Site(base, desk, data_url, state_url, made, token)


@pytest.fixture(scope="module")
def site(
    cheap_argon2: None, data_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    yield from _serve(data_url, tmp_path_factory.mktemp("auth-state"), USERS)


@pytest.fixture(scope="module")
def external_site(data_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _serve(data_url, tmp_path_factory.mktemp("external-state"),
                      {ADMIN: ("admin", None)}, external_identity_secret=EXTERNAL_SECRET)


@pytest.fixture(scope="module")
def dev_site(data_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _serve(data_url, tmp_path_factory.mktemp("dev-state"),
                      {ADMIN: ("admin", None), NOBODY: ("nobody", None)}, dev_mode=True)


# -- helpers -------------------------------------------------------------------------------


def audit_events(site: Site, kind: str) -> list[dict[str, Any]]:
    with site.admin() as admin:
        response = admin.get("/audit", params={"kind": kind, "limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def count_audited(site: Site, kind: str, **match: Any) -> int:
    return sum(
        1 for e in audit_events(site, kind) if all(e.get(k) == v for k, v in match.items())
    )


def login(site: Site, email: str, password: str = PASSWORD,
          headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(site.api + "/login", json={"email": email, "password": password},
                      headers=headers, timeout=30)


@contextmanager
def signed_in(site: Site, email: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client holding the session cookie of ``email``, and its CSRF token."""
    with httpx.Client(base_url=site.api, timeout=30) as session:
        response = session.post("/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        assert session.cookies.get(COOKIE)
        yield session, response.json()["csrf_token"]


def touch(client: httpx.Client, record_id: str = "1", **kwargs: Any) -> httpx.Response:
    return client.post("/collections/companies/actions/touch", json=jsonapi([record_id]),
                       **kwargs)


def cookie_attributes(header: str) -> tuple[str, str, dict[str, str]]:
    """name, value and lower-cased attributes of one Set-Cookie header."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.lower()] = val.lower()
    return name, value, parsed


def session_cookie(response: httpx.Response) -> tuple[str, dict[str, str]]:
    found = [cookie_attributes(h) for h in response.headers.get_list("set-cookie")]
    ours = [(value, attrs) for name, value, attrs in found if name == COOKIE]
    assert len(ours) == 1, found
    return ours[0]


# -- sign-in, cookie, logout ---------------------------------------------------------------


def test_login_sets_a_safe_session_cookie_and_logout_clears_it(site: Site) -> None:
    with httpx.Client(base_url=site.api, timeout=30) as session:
        response = session.post("/login", json={"email": ALICE, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user"]["email"] == ALICE and body["user"]["role"] == "agent"
        assert body["csrf_token"] and body["is_admin"] is False and body["dev_mode"] is False
        value, attributes = session_cookie(response)
        assert value and "httponly" in attributes
        assert attributes["samesite"] == "lax" and attributes["path"] == "/"
        assert "secure" not in attributes  # plain http: a Secure cookie would never come back
        assert int(attributes["max-age"]) > 0

        me = session.get("/me")
        assert me.status_code == 200, me.text
        assert me.json()["user"]["email"] == ALICE
        assert me.json()["csrf_token"] == body["csrf_token"]

        out = session.post("/logout", headers={CSRF_HEADER: body["csrf_token"]})
        assert out.status_code == 204, out.text
        cleared, attributes = session_cookie(out)
        assert cleared in ("", '""')
        assert attributes.get("max-age") == "0" or "1970" in attributes.get("expires", "")
        assert attributes["path"] == "/"
        assert not session.cookies.get(COOKIE)
        refused(session.get("/me"), 401)


def test_the_cookie_is_secure_behind_https(site: Site) -> None:
    # uvicorn trusts X-Forwarded-Proto from the loopback proxy, as behind a TLS terminator.
    response = login(site, ALICE, headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200, response.text
    _, attributes = session_cookie(response)
    assert "secure" in attributes and "httponly" in attributes


def test_wrong_password_and_unknown_email_get_the_same_401(site: Site) -> None:
    before = count_audited(site, "unauthenticated", path="/api/login", status_code=401)
    wrong = refused(login(site, ALICE, "not-the-password"), 401)
    unknown = refused(login(site, "someone-else@auth.test", "not-the-password"), 401)
    assert wrong == unknown
    assert "Set-Cookie" not in login(site, ALICE, "still-wrong").headers
    after = count_audited(site, "unauthenticated", path="/api/login", status_code=401)
    assert after - before == 3


def test_five_failures_lock_the_account_without_telling_whether_it_exists(site: Site) -> None:
    limited_before = count_audited(site, "rate_limited", path="/api/login", status_code=429)
    failed_before = count_audited(site, "unauthenticated", path="/api/login", status_code=401)
    answers: dict[str, list[dict[str, Any]]] = {BOB: [], GHOST: []}
    for email in (BOB, GHOST):
        for _ in range(5):
            answers[email].append(refused(login(site, email, "wrong-password"), 401))
        answers[email].append(refused(login(site, email, "wrong-password"), 429))
    # Locked: even the right password is refused, and says nothing more.
    locked = refused(login(site, BOB, PASSWORD), 429)
    assert answers[BOB] == answers[GHOST]
    assert locked == answers[GHOST][-1]
    assert "exist" not in locked["error"] and "exist" not in answers[BOB][0]["error"]
    # Another account is not affected.
    assert login(site, ALICE).status_code == 200
    assert count_audited(site, "rate_limited", path="/api/login",
                         status_code=429) - limited_before == 3
    assert count_audited(site, "unauthenticated", path="/api/login",
                         status_code=401) - failed_before == 10


def test_failures_are_also_limited_per_address(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users_module, "MAX_FAILURES_PER_ADDRESS", 3)
    # The loopback proxy is trusted: X-Forwarded-For is the client's address.
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    for n in range(3):
        refused(login(site, f"guess{n}@auth.test", "wrong-password", attacker), 401)
    body = refused(login(site, ALICE, PASSWORD, attacker), 429)
    assert body == refused(login(site, GHOST + ".other", PASSWORD, attacker), 429)
    events = [e for e in audit_events(site, "rate_limited") if e["address"] == "203.0.113.9"]
    assert len(events) == 2
    assert login(site, ALICE, PASSWORD, {"X-Forwarded-For": "198.51.100.4"}).status_code == 200


# -- CSRF ----------------------------------------------------------------------------------


def test_unsafe_cookie_requests_need_the_csrf_token(site: Site) -> None:
    path = "/api/collections/companies/actions/touch"
    before = count_audited(site, "forbidden", path=path, caller_email=ALICE)
    with signed_in(site, ALICE) as (session, csrf):
        missing = refused(touch(session), 403)
        assert CSRF_HEADER in missing["error"]
        refused(touch(session, headers={CSRF_HEADER: csrf[:-2] + "xx"}), 403)
        refused(touch(session, headers={CSRF_HEADER: ""}), 403)
        done = touch(session, headers={CSRF_HEADER: csrf})
        assert done.status_code == 200, done.text
        assert done.json() == {"success": f"touched 1 for {ALICE}"}
    assert count_audited(site, "forbidden", path=path, caller_email=ALICE) - before == 3


def test_csrf_covers_every_unsafe_route_of_a_session(site: Site) -> None:
    with signed_in(site, ALICE) as (session, _):
        refused(session.post("/collections/companies/actions/touch/form",
                             json=jsonapi(["1"])), 403)
        refused(session.post("/logout"), 403)
        # Refused before anything ran: the session still works.
        assert session.get("/me").status_code == 200


def test_the_csrf_token_of_another_session_is_refused(site: Site) -> None:
    with signed_in(site, ALICE) as (first, first_csrf), signed_in(site, ALICE) as (second, _):
        refused(touch(second, headers={CSRF_HEADER: first_csrf}), 403)
        assert touch(first, headers={CSRF_HEADER: first_csrf}).status_code == 200


def test_safe_methods_and_bearer_tokens_need_no_csrf(site: Site) -> None:
    with signed_in(site, ALICE) as (session, _):
        assert session.get("/me").status_code == 200
        assert session.get("/collections/companies/records").status_code == 200
        assert session.get("/collections/companies/actions", params={"ids": ["1"]}
                           ).status_code == 200
    token = access_token(site.desk, site.users[ALICE])
    with httpx.Client(base_url=site.api, headers=bearer(token), timeout=30) as scripted:
        done = touch(scripted)
        assert done.status_code == 200, done.text


# -- tokens --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes | None,
                digest: str = "sha256") -> str:
    """A JWT assembled by hand, an HMAC over it with ``key`` (none when None) whatever the
    header says: what an attacker can send, unconstrained by a library."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = b"" if key is None else hmac.new(
        key, signing_input.encode(), digest).digest()
    return signing_input + "." + _b64(signature)


def claims_of(user: User, kind: str = "access", **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": user.id, "sv": user.session_version, "typ": kind, "iat": now,
              "exp": now + 3600, "jti": "0123456789abcdef"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def desk_key(site: Site) -> bytes:
    # The HMAC key the desk derives from its secret: the strongest forgery is one that has it.
    key: bytes = site.desk.tokens._secret
    return key


@functools.cache
def _rsa_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _rs256_own_key_pair(site: Site, alice: User) -> dict[str, str]:
    key = _rsa_key()
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    # The attacker's own key pair, its public half embedded in the header (as "jwk").
    token = jwt.encode(claims_of(alice), key, algorithm="RS256", headers={"jwk": public_jwk})
    return bearer(token)


HS256 = {"alg": "HS256", "typ": "JWT"}
Attack = Callable[[Site, User], dict[str, str]]
ATTACKS: dict[str, Attack] = {
    "forged-with-another-key": lambda s, u: bearer(
        jwt.encode(claims_of(u), "another-key-that-is-long-enough-32b", algorithm="HS256")),
    "expired": lambda s, u: bearer(s.desk.tokens.access(u, dt.timedelta(seconds=-60))),
    "alg-none": lambda s, u: bearer(hand_signed({"alg": "none", "typ": "JWT"},
                                                claims_of(u), None)),
    "alg-None-with-a-valid-mac": lambda s, u: bearer(
        hand_signed({"alg": "None", "typ": "JWT"}, claims_of(u), desk_key(s))),
    "hs512-with-the-desk-key": lambda s, u: bearer(
        hand_signed({"alg": "HS512", "typ": "JWT"}, claims_of(u), desk_key(s), "sha512")),
    "rs256-own-key-pair": _rs256_own_key_pair,
    "rs256-header-signed-with-the-hmac-key": lambda s, u: bearer(
        hand_signed({"alg": "RS256", "typ": "JWT"}, claims_of(u), desk_key(s))),
    "hs256-signed-with-a-public-key-pem": lambda s, u: bearer(
        hand_signed(HS256, claims_of(u), PUBLIC_PEM.encode())),
    "session-token-as-bearer": lambda s, u: bearer(s.desk.tokens.session(u)[0]),
    "access-token-as-cookie": lambda s, u: {
        "Cookie": f"{COOKIE}={s.desk.tokens.access(u, dt.timedelta(hours=1))}"},
    "valid-mac-for-no-such-user": lambda s, u: bearer(
        hand_signed(HS256, claims_of(u, sub="f" * 32), desk_key(s))),
    "valid-mac-without-session-version": lambda s, u: bearer(
        hand_signed(HS256, claims_of(u, sv=None), desk_key(s))),
    "valid-mac-without-expiry": lambda s, u: bearer(
        hand_signed(HS256, claims_of(u, exp=None), desk_key(s))),
    "garbage": lambda s, u: {"Authorization": "Bearer not-a.jwt.at-all"},
    "truncated": lambda s, u: bearer(s.desk.tokens.access(u, dt.timedelta(hours=1))[:-10]),
    "bearer-without-token": lambda s, u: {"Authorization": "Bearer"},
    "basic-scheme": lambda s, u: {
        "Authorization": "Basic " + base64.b64encode(f"{ALICE}:{PASSWORD}".encode()).decode()},
}


def test_a_hand_signed_token_with_the_desk_key_is_accepted(site: Site) -> None:
    """The control for the attacks below: the forging helper makes tokens the desk accepts
    when nothing is wrong with them, so each refusal is down to the one thing changed."""
    token = hand_signed(HS256, claims_of(site.users[ALICE]), desk_key(site))
    response = httpx.get(site.api + "/me", headers=bearer(token), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == ALICE


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_bad_credentials_get_401_json_and_are_audited(site: Site, attack: str) -> None:
    headers = ATTACKS[attack](site, site.users[ALICE])
    # The collection name tells the attacks apart in the audit.
    path = f"/api/collections/attack-{attack}"
    response = httpx.get(site.base + path, headers=headers, timeout=30)
    body = refused(response, 401)
    assert "set-cookie" not in response.headers
    for secret in (SECRET, desk_key(site).hex()):
        assert secret not in response.text
    assert body.keys() <= {"error", "detail"}
    assert count_audited(site, "unauthenticated", path=path, status_code=401) == 1


def test_every_api_route_but_login_and_openapi_needs_a_caller(site: Site) -> None:
    document = httpx.get(site.api + "/openapi.json", timeout=30)
    assert document.status_code == 200
    checked = 0
    with httpx.Client(base_url=site.base, timeout=30) as anonymous:
        for template, operations in document.json()["paths"].items():
            if template == "/api/login":
                continue
            path = re.sub(r"\{[^}]+\}", "x", template)
            for method in operations:
                refused(anonymous.request(method.upper(), path, json={}), 401)
                checked += 1
    assert checked >= 20


# -- accounts that change while signed in ---------------------------------------------------


def test_a_deactivated_user_loses_session_and_token_and_must_sign_in_again(
    site: Site,
) -> None:
    token = access_token(site.desk, site.users[CAROL])
    with signed_in(site, CAROL) as (session, csrf):
        assert session.get("/me").status_code == 200
        assert httpx.get(site.api + "/me", headers=bearer(token)).status_code == 200
        before = count_audited(site, "unauthenticated", path="/api/me")

        with_started(site.other_process(), lambda d: d.users.deactivate(CAROL))
        refused(session.get("/me"), 401)
        refused(touch(session, headers={CSRF_HEADER: csrf}), 401)
        refused(httpx.get(site.api + "/me", headers=bearer(token)), 401)
        # The right password does not help, and says nothing about why.
        assert refused(login(site, CAROL), 401) == refused(login(site, GHOST + ".x"), 401)
        assert count_audited(site, "unauthenticated", path="/api/me") - before == 2

        with_started(site.other_process(), lambda d: d.users.activate(CAROL))
        # Reactivation does not revive what was ended.
        refused(session.get("/me"), 401)
        refused(httpx.get(site.api + "/me", headers=bearer(token)), 401)
    with signed_in(site, CAROL) as (fresh, _):
        assert fresh.get("/me").json()["user"]["email"] == CAROL


def test_a_role_change_ends_sessions_and_tokens(site: Site) -> None:
    token = access_token(site.desk, site.users[DAVE])
    with signed_in(site, DAVE) as (session, _):
        assert session.get("/me").json()["user"]["role"] == "agent"
        with_started(site.other_process(), lambda d: d.users.set_role(DAVE, "clerk"))
        refused(session.get("/me"), 401)
        refused(httpx.get(site.api + "/me", headers=bearer(token)), 401)
    with signed_in(site, DAVE) as (fresh, csrf):
        assert fresh.get("/me").json()["user"]["role"] == "clerk"
        assert touch(fresh, headers={CSRF_HEADER: csrf}).status_code == 200


# -- external identity ---------------------------------------------------------------------

HOST_USER = {
    "id": "42", "email": "hana@host.example", "firstName": "Hana", "lastName": "Host",
    "team": "Billing", "role": "agent", "tags": {"region": "eu", "tier": "gold"},
}


def host_token(key: str = EXTERNAL_SECRET, **changes: Any) -> str:
    claims: dict[str, Any] = {**HOST_USER, "exp": int(time.time()) + 600}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key,
                      algorithm="HS256")


def test_external_identity_is_accepted_with_its_claims_and_role(external_site: Site) -> None:
    with httpx.Client(base_url=external_site.api, headers=bearer(host_token()),
                      timeout=30) as host:
        me = host.get("/me")
        assert me.status_code == 200, me.text
        user = me.json()["user"]
        # The desk may namespace ids it did not issue, so they cannot pass for local users.
        assert user["id"] in ("42", "external:42")
        assert {k: user[k] for k in HOST_USER if k != "id"} == {
            k: v for k, v in HOST_USER.items() if k != "id"}
        assert me.json()["is_admin"] is False and me.json()["dev_mode"] is False
        # The role's permissions apply.
        assert host.get("/collections/companies/records").status_code == 200
        assert "'agent'" in refused(host.get("/collections/transactions/records"), 403)["error"]
        done = touch(host)
        assert done.status_code == 200, done.text
        assert done.json() == {"success": "touched 1 for hana@host.example"}
        hidden = refused(host.post("/collections/companies/actions/secret-op",
                                   json=jsonapi(["1"])), 404)
        assert hidden == {"error": "no action 'secret-op' on companies"}
    with external_site.admin() as admin:
        why = admin.get("/audit", params={
            "kind": "not_found", "path": "/api/collections/companies/actions/secret-op"}).json()
        assert "'agent'" in why["events"][0]["reason"]
        assert "hidden by default" in why["events"][0]["reason"]
        run = admin.get(f"/runs/{done.headers['x-actiondesk-run-id']}").json()
        assert run["caller"]["email"] == "hana@host.example"
        assert run["caller"]["tags"] == HOST_USER["tags"]
        # Local accounts keep working next to the host's.
        assert admin.get("/me").json()["user"]["email"] == ADMIN


@pytest.mark.parametrize("case", ["another-key", "no-exp", "expired", "alg-none", "no-role"])
def test_external_tokens_that_are_not_right_get_401(external_site: Site, case: str) -> None:
    token = {
        "another-key": lambda: host_token(key="y" * 32),
        "no-exp": lambda: host_token(exp=None),
        "expired": lambda: host_token(exp=int(time.time()) - 60),
        "alg-none": lambda: hand_signed({"alg": "none", "typ": "JWT"},
                                        {**HOST_USER, "exp": int(time.time()) + 600}, None),
        "no-role": lambda: host_token(role=None),
    }[case]()
    path = f"/api/collections/external-{case}"
    refused(httpx.get(external_site.base + path, headers=bearer(token), timeout=30), 401)
    assert count_audited(external_site, "unauthenticated", path=path) == 1


def test_without_external_mode_host_tokens_are_refused(site: Site) -> None:
    refused(httpx.get(site.api + "/me", headers=bearer(host_token()), timeout=30), 401)


# -- development mode ----------------------------------------------------------------------


def test_dev_mode_lets_a_role_without_rules_trigger_everything(
    site: Site, dev_site: Site
) -> None:
    newbie = access_token(dev_site.desk, dev_site.users[NOBODY])
    with httpx.Client(base_url=dev_site.api, headers=bearer(newbie), timeout=30) as dev:
        me = dev.get("/me").json()
        assert me["dev_mode"] is True and me["user"]["role"] == "nobody"
        listed = dev.get("/collections/companies/actions").json()["actions"]
        assert {a["slug"] for a in listed} == {"touch", "secret-op"}
        assert touch(dev).status_code == 200
        secret = dev.post("/collections/companies/actions/secret-op", json=jsonapi(["1"]))
        assert secret.status_code == 200, secret.text
    # The same role on a desk without development mode is refused.
    same = access_token(site.desk, site.users[NOBODY])
    with httpx.Client(base_url=site.api, headers=bearer(same), timeout=30) as strict:
        assert strict.get("/me").json()["dev_mode"] is False
        # The role may not read the collection: refused before the action is looked up.
        body = refused(touch(strict), 403)
        assert body == {"error": "role 'nobody' may not read collection 'companies'"}
        with site.admin() as admin:
            why = admin.get("/audit", params={
                "kind": "forbidden", "path": "/api/collections/companies/actions/touch"}).json()
        assert why["events"][0]["caller_email"] == NOBODY
        assert why["events"][0]["reason"] == body["error"]


# -- secrets -------------------------------------------------------------------------------

HASH_MARKERS = ("$argon2", "password_hash", PASSWORD)


def test_password_hashes_never_appear_in_answers(site: Site) -> None:
    answers = [login(site, ALICE)]
    with site.admin() as admin:
        for path in ("/me", "/settings/roles", "/settings/policies", "/settings/actions",
                     "/settings/permissions/export", "/audit", "/runs", "/collections",
                     "/openapi.json"):
            answers.append(admin.get(path))
    with signed_in(site, ALICE) as (session, _):
        answers.append(session.get("/me"))
        answers.append(session.get("/runs"))
    for answer in answers:
        assert answer.status_code == 200, (answer.url, answer.text)
        for marker in HASH_MARKERS:
            assert marker not in answer.text, (answer.url, marker)


def test_the_users_settings_api_lists_users_without_hashes(site: Site) -> None:
    with site.admin() as admin:
        response = admin.get("/settings/users")
    assert response.status_code == 200, response.text
    assert ALICE in response.text
    for marker in HASH_MARKERS:
        assert marker not in response.text


def test_state_tables_in_the_data_database_are_never_collections(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    asyncio.run(create_and_seed(url))
    # Reflected, with the state tables (users and their hashes) in the same database.
    desk = Desk(database_url=url, state_url=url, secret_key=SECRET)
    made = provision(desk, roles=ROLES[:1], users={ADMIN: ("admin", None)})
    token = access_token(desk, made[ADMIN])
    with live_server(desk) as base, httpx.Client(
        base_url=base + "/api", headers=bearer(token), timeout=30
    ) as admin:
        names = [c["name"] for c in admin.get("/collections").json()["collections"]]
        assert "companies" in names
        assert not [n for n in names if n.startswith("actiondesk")]
        refused(admin.get("/collections/actiondesk_users/records"), 404)


def test_the_token_and_password_libraries_are_declared_dependencies() -> None:
    declared = set()
    for requirement in importlib.metadata.requires("actiondesk") or []:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0]
        declared.add(name.lower().replace("_", "-"))
    assert {"pyjwt", "argon2-cffi"} <= declared, sorted(declared)


def test_the_users_settings_api_manages_users_without_exposing_hashes(site: Site) -> None:
    with site.admin() as admin:
        listed = admin.get("/settings/users")
        assert listed.status_code == 200, listed.text
        assert ALICE in listed.text
        for marker in HASH_MARKERS:
            assert marker not in listed.text
        created = admin.post("/settings/users", json={
            "email": "Newbie@Auth.Test", "role": "admin", "password": "long-enough-1"})
        assert created.status_code == 201, created.text
        assert created.json()["email"] == "newbie@auth.test"
        assert admin.post("/settings/users", json={
            "email": "newbie@auth.test", "role": "admin"}).status_code == 409
        bad = admin.post("/settings/users", json={"email": "nope", "role": "ghost"})
        assert bad.status_code == 400 and "email" in bad.json()["fields"]
        changed = admin.patch("/settings/users/newbie@auth.test", json={"active": False})
        assert changed.status_code == 200 and changed.json()["active"] is False
        assert admin.patch("/settings/users/ghost@auth.test",
                           json={"active": True}).status_code == 404
