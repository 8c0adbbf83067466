"""One signed exchange with a remote provider, bounded in time and size.

Whatever goes wrong becomes an ``UpstreamError`` (502) or ``UpstreamTimeoutError`` (504)
naming the provider and the cause, never a hang: the whole exchange (connecting, sending,
waiting, reading the answer) must end within the provider's timeout, and an answer larger than
``max_answer_bytes`` is cut off and refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from actiondesk.errors import UpstreamError, UpstreamTimeoutError
from actiondesk.remote.config import RemoteProvider
from actiondesk.remote.protocol import Answer, error_text, message_body
from actiondesk.remote.signing import SignatureError, sign, verify

USER_AGENT = "actiondesk-remote/1"


class ProviderClient:
    """Signed HTTP exchanges with one provider (one connection pool, reused)."""

    def __init__(self, provider: RemoteProvider) -> None:
        self.provider = provider
        self.where = f"remote provider {provider.name!r}"
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.provider.timeout),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def message(self, name: str, params: Mapping[str, Any]) -> Answer:
        """Send one protocol message to the provider's URL."""
        return await self.send("POST", self.provider.url, message_body(name, params))

    async def send_json(self, method: str, url: str, document: Any) -> Answer:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        return await self.send(method, url, body)

    async def send(self, method: str, url: str, body: bytes) -> Answer:
        """Sign and send ``body``; the verified answer."""
        provider = self.provider
        headers = sign(provider.secret, body)
        headers["Content-Type"] = "application/json"
        try:
            with anyio.fail_after(provider.timeout):
                answer = await self._exchange(method, url, body, headers)
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamTimeoutError(
                f"{self.where} did not answer within {provider.timeout:g} s"
            ) from None
        except httpx.ConnectError as exc:
            raise UpstreamError(f"{self.where} cannot be reached ({_reason(exc)})") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"{self.where} broke off the exchange ({_reason(exc)})"
            ) from None
        if 300 <= answer.status < 400:
            raise UpstreamError(
                f"{self.where} answered with a redirect (HTTP {answer.status} to "
                f"{answer.headers.get('location', '?')[:200]}); configure the final URL"
            )
        if provider.signed_answers:
            try:
                verify(provider.secret, answer.headers, answer.body,
                       expected_nonce=headers["X-Actiondesk-Nonce"],
                       tolerance=provider.tolerance)
            except SignatureError as exc:
                if answer.status in (401, 403):
                    # The provider refused our message (its refusals are not signed).
                    raise UpstreamError(
                        f"{self.where} refused the message (HTTP {answer.status})"
                        f"{error_text(answer)}"
                    ) from None
                raise UpstreamError(
                    f"{self.where} gave an answer that cannot be trusted: {exc} "
                    f"(HTTP {answer.status})"
                ) from None
        return answer

    async def _exchange(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> Answer:
        limit = self.provider.max_answer_bytes
        request = self._http().build_request(method, url, content=body, headers=headers)
        response = await self._http().send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise UpstreamError(
                    f"{self.where} answered {int(declared):,} bytes, more than the "
                    f"{limit:,} bytes allowed"
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise UpstreamError(
                        f"{self.where} answered more than the {limit:,} bytes allowed"
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return Answer(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=b"".join(chunks),
        )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text and text[0] else type(exc).__name__
