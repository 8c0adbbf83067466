"""Nonces shared between the processes of a remote service (SqlNonceStore): a message
replayed to another process within the validity window is refused there, on SQLite,
PostgreSQL and MariaDB; plus the store itself and the docs' example."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from actiondesk.data.urls import to_sync_url
from actiondesk.remote import GET_ACTION_LIST, RemoteActions, SqlNonceStore, sign
from tests.databases import BACKENDS, scratch_database
from tests.live_server import free_port
from tests.remote.conftest import stop_remote_process
from tests.remote.remote_app import SECRET

ROOT = Path(__file__).resolve().parents[2]
LIST = json.dumps({"name": GET_ACTION_LIST, "params": {}}).encode()


@contextmanager
def remote_process(url: str | None, *, wsgi: bool) -> Iterator[str]:
    """A remote service process (tests.remote.nonce_app) sharing ``url``'s nonces."""
    port = free_port()
    args = [sys.executable, "-m", "tests.remote.nonce_app", "--port", str(port)]
    proc = subprocess.Popen(args + (["--url", url] if url else []) + (["--wsgi"] if wsgi else []),
                            cwd=ROOT)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the remote process stopped"
            try:
                if httpx.get(base, timeout=1).status_code == 405:  # up: it answers POST only
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the remote process did not start"
            time.sleep(0.1)
        yield base
    finally:
        stop_remote_process(proc)


def post(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=LIST, headers=headers, timeout=30)


@pytest.fixture(params=BACKENDS)
def nonce_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with scratch_database(request.param, tmp_path) as url:
        yield url


def test_a_replay_to_another_process_is_refused(nonce_db: str) -> None:
    with remote_process(nonce_db, wsgi=False) as asgi, remote_process(nonce_db,
                                                                      wsgi=True) as wsgi:
        for first, second in ((asgi, wsgi), (wsgi, asgi)):
            headers = sign(SECRET, LIST)
            assert post(first, headers).status_code == 200
            replay = post(second, headers)
            assert replay.status_code == 401, replay.text
            assert "replayed" in replay.json()["error"]
            assert post(second, sign(SECRET, LIST)).status_code == 200  # a new one passes
        # The same message to both at once: exactly one of them accepts it.
        headers = sign(SECRET, LIST)
        answers: list[int] = []
        threads = [threading.Thread(target=lambda u=url: answers.append(
            post(u, headers).status_code)) for url in (asgi, wsgi, asgi, wsgi)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(answers) == [200, 401, 401, 401]
    engine = sa.create_engine(to_sync_url(nonce_db))
    with engine.connect() as conn:  # the table was created on first use
        assert conn.scalar(sa.text("SELECT count(*) FROM actiondesk_remote_nonces")) == 5
    engine.dispose()


def test_without_a_shared_store_another_process_accepts_the_replay() -> None:
    """Why the store exists: the default cache is one process's memory."""
    with remote_process(None, wsgi=False) as first, remote_process(None, wsgi=True) as second:
        headers = sign(SECRET, LIST)
        assert post(first, headers).status_code == 200
        assert post(second, headers).status_code == 200
        assert post(second, headers).status_code == 401


def test_the_store_refuses_live_nonces_and_reuses_expired_ones(nonce_db: str) -> None:
    store = SqlNonceStore(nonce_db, table="other_nonces")
    now = time.time()
    try:
        assert store.add("a" * 16, now - 10)  # already expired when remembered
        assert store.add("a" * 16, now + 60)  # so it may be taken again
        assert not store.add("a" * 16, now + 60)

        async def on_the_loop() -> list[bool]:
            try:
                return [await store.add_async("a" * 16, now + 60),
                        await store.add_async("b" * 16, now + 60),
                        await store.add_async("b" * 16, now + 60)]
            finally:
                await store.aclose()

        assert asyncio.run(on_the_loop()) == [False, True, False]
    finally:
        store.close()


def test_the_docs_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "remote-actions.md").read_text()
    [example] = [block for block in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "SqlNonceStore(" in block]
    monkeypatch.setenv("BILLING_ACTIONS_SECRET", SECRET)
    monkeypatch.setenv("BILLING_DATABASE_URL", f"sqlite:///{tmp_path / 'nonces.db'}")
    namespace: dict[str, object] = {}
    exec(compile(example, "remote-actions.md", "exec"), namespace)  # noqa: S102
    remote = namespace["remote"]
    assert isinstance(remote, RemoteActions)
    remote.add_message_handler(GET_ACTION_LIST, lambda message: [])
    other = RemoteActions(SECRET, nonces=SqlNonceStore(str(
        namespace["os"].environ["BILLING_DATABASE_URL"])))  # type: ignore[attr-defined]
    headers = sign(SECRET, LIST)
    assert remote.handle(LIST, headers).status == 200
    refused = asyncio.run(other.handle_async(LIST, headers))
    assert refused.status == 401 and b"replayed" in refused.body
