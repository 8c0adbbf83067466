"""The remote side: RemoteActions over real HTTP servers (ASGI under uvicorn, WSGI under the
standard library's server) refuses unsigned, wrongly signed, expired and replayed messages,
and signs its answers; plus the signing primitives themselves."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from actiondesk.remote import (
    GET_ACTION_LIST,
    NonceCache,
    RemoteActions,
    SignatureError,
    sign,
    sign_answer,
    verify,
)
from tests.live_server import live_server
from tests.remote.remote_app import SECRET
from tests.remote.remote_desk import Remote

LIST = json.dumps({"name": GET_ACTION_LIST, "params": {}}).encode()


@pytest.fixture(params=["asgi", "wsgi"])
def endpoint(request: pytest.FixtureRequest, remote_service: Remote) -> str:
    return remote_service.base + "/native/" if request.param == "asgi" else remote_service.wsgi


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_a_signed_message_gets_a_signed_answer(endpoint: str) -> None:
    headers = sign(SECRET, LIST)
    response = post(endpoint, LIST, headers)
    assert response.status_code == 200
    nonce = verify(SECRET, dict(response.headers), response.content,
                   expected_nonce=headers["X-Actiondesk-Nonce"])
    assert nonce == headers["X-Actiondesk-Nonce"]
    assert response.json()


@pytest.mark.parametrize(("headers_of", "words"), [
    (lambda body: {}, "not signed"),
    (lambda body: sign("x" * 40, body), "wrong signature"),
    (lambda body: sign(SECRET, body + b" "), "wrong signature"),
    (lambda body: sign(SECRET, body, now=time.time() - 3600), "expired"),
    (lambda body: {**sign(SECRET, body), "X-Actiondesk-Nonce": "short"}, "16 to 64"),
    (lambda body: {**sign(SECRET, body), "X-Actiondesk-Timestamp": "soon"}, "Unix seconds"),
])
def test_bad_signatures_are_refused_with_the_reason(endpoint: str, headers_of: object,
                                                    words: str) -> None:
    headers = headers_of(LIST)  # type: ignore[operator]
    response = post(endpoint, LIST, headers)
    assert response.status_code == 401 and words in response.json()["error"]
    assert "X-Actiondesk-Signature" not in response.headers  # refusals are not signed


def test_a_replayed_message_is_refused(endpoint: str) -> None:
    headers = sign(SECRET, LIST)
    assert post(endpoint, LIST, headers).status_code == 200
    replay = post(endpoint, LIST, headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]


@pytest.mark.parametrize(("body", "words"), [
    (b"{not json", "not JSON"),
    (b'{"params": {}}', "a message is"),
    (b'{"name": "DANCE", "params": {}}', "no handler for message 'DANCE'"),
])
def test_malformed_messages_are_400_and_signed(endpoint: str, body: bytes, words: str) -> None:
    headers = sign(SECRET, body)
    response = post(endpoint, body, headers)
    assert response.status_code == 400 and words in response.json()["error"]
    verify(SECRET, dict(response.headers), response.content,
           expected_nonce=headers["X-Actiondesk-Nonce"])


def test_only_post_is_answered(endpoint: str) -> None:
    assert httpx.get(endpoint, timeout=10).status_code == 405


@pytest.fixture
def small_remote() -> Iterator[str]:
    remote = RemoteActions(SECRET, max_body_bytes=2048)
    remote.add_message_handler(GET_ACTION_LIST, lambda message: [])
    with live_server(remote.asgi, lifespan="off") as url:
        yield url


def test_a_message_too_large_is_413(small_remote: str) -> None:
    body = json.dumps({"name": GET_ACTION_LIST, "params": {"x": "y" * 5000}}).encode()
    response = post(small_remote, body, sign(SECRET, body))
    assert response.status_code == 413
    assert post(small_remote, LIST, sign(SECRET, LIST)).status_code == 200


def test_secrets_can_be_rotated() -> None:
    old, new = "o" * 32, "n" * 32
    remote = RemoteActions([new, old])
    remote.add_message_handler(GET_ACTION_LIST, lambda message: [])
    assert remote.handle(LIST, sign(old, LIST)).status == 200
    assert remote.handle(LIST, sign(new, LIST)).status == 200
    assert remote.handle(LIST, sign("x" * 32, LIST)).status == 401
    with pytest.raises(ValueError, match="32 characters"):
        RemoteActions("short")


def test_verify_checks_the_answer_nonce_and_the_window() -> None:
    body = b'{"success": "ok"}'
    headers = sign_answer(SECRET, body, "a" * 32)
    assert verify(SECRET, headers, body, expected_nonce="a" * 32) == "a" * 32
    with pytest.raises(SignatureError, match="another request"):
        verify(SECRET, headers, body, expected_nonce="b" * 32)
    with pytest.raises(SignatureError, match="expired"):
        verify(SECRET, headers, body, now=time.time() + 400)
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify(SECRET, lower, body) == "a" * 32  # header names in any case


def test_the_nonce_cache_forgets_after_the_window() -> None:
    cache = NonceCache()
    assert cache.add("n" * 16, time.time() + 60)
    assert not cache.add("n" * 16, time.time() + 60)
    assert cache.add("m" * 16, time.time() - 1)
    assert cache.add("m" * 16, time.time() + 60)  # expired, so accepted again
