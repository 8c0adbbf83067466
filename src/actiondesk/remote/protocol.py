"""The message protocol: message names, how values travel, and how answers become results.

Every message is one signed HTTP POST of ``{"name": ..., "params": {...}}`` to the provider's
URL. Answers use the result shapes of local actions (Forest's), plus Jet's ``{"result": true}``;
they go through ``actiondesk.actions.results``, so HTML is sanitised and redirects and webhooks
are validated as for any local action. See docs/remote-actions.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from actiondesk.actions.form_values import FileValue
from actiondesk.actions.results import (
    Error,
    File,
    Html,
    Redirect,
    Refresh,
    Result,
    Success,
    Webhook,
)
from actiondesk.errors import UpstreamError

GET_ACTION_LIST = "GET_ACTION_LIST"
EXECUTE_ACTION = "EXECUTE_ACTION"
MESSAGE_NAMES = (GET_ACTION_LIST, EXECUTE_ACTION)
_MIME = re.compile(r"[\w.+-]+/[\w.+-]+(; ?charset=[\w-]+)?")
_SHAPES = "success, error, html, refresh, webhook, redirectTo or result"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as read from a remote: status, headers (lowercase names), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def message_body(name: str, params: Mapping[str, Any]) -> bytes:
    return json.dumps({"name": name, "params": dict(params)}, separators=(",", ":"),
                      ensure_ascii=False).encode()


def wire_value(value: Any) -> Any:
    """A validated form value as JSON: decimals as strings, dates ISO 8601, files as
    ``{"filename", "mime", "content": base64}``."""
    if isinstance(value, FileValue):
        return {"filename": value.filename, "mime": value.mime,
                "content": base64.b64encode(value.content).decode("ascii")}
    if isinstance(value, list | tuple):
        return [wire_value(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def wire_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: wire_value(value) for name, value in values.items()}


def decode_json(answer: Answer, where: str) -> Any:
    """The JSON of an answer; UpstreamError when it is not JSON."""
    try:
        return json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        kind = answer.headers.get("content-type", "no content type")
        raise UpstreamError(
            f"{where} answered something that is not JSON ({kind}, {len(answer.body):,} bytes)"
        ) from None


def result_of_answer(answer: Answer, where: str) -> Result:
    """The action result an answer stands for; UpstreamError (502) when it stands for none."""
    status = answer.status
    disposition = answer.headers.get("content-disposition", "")
    if 200 <= status < 300 and disposition.lower().startswith("attachment"):
        return File(filename=_filename(disposition), content=answer.body,
                    mime=_mime(answer.headers.get("content-type", "")))
    if status == 204 or (200 <= status < 300 and not answer.body.strip()):
        return None
    if 200 <= status < 300 or status in (400, 422):
        return result_of_json(decode_json(answer, where), where)
    detail = error_text(answer)
    if status in (401, 403):
        raise UpstreamError(f"{where} refused the message (HTTP {status}){detail}")
    raise UpstreamError(f"{where} failed (HTTP {status}){detail}")


def result_of_json(data: Any, where: str) -> Result:
    """A result from the JSON shapes of local actions (and Jet's ``{"result": ...}``)."""
    if not isinstance(data, dict):
        raise UpstreamError(f"{where} answered JSON that is not an object")
    try:
        return _shape(data)
    except (ValueError, TypeError) as exc:
        raise UpstreamError(f"{where} answered an unusable result: {exc}") from None


def _shape(data: dict[str, Any]) -> Result:
    html = _text(data, "html")
    if "error" in data:
        return Error(_required_text(data, "error"), html=html)
    if "webhook" in data:
        hook = data["webhook"]
        if not isinstance(hook, dict):
            raise ValueError("webhook must be an object")
        headers = hook.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("webhook.headers must be an object")
        return Webhook(url=_required_text(hook, "url"), method=_text(hook, "method") or "POST",
                       headers={str(k): str(v) for k, v in headers.items()},
                       body=hook.get("body", {}))
    if "redirectTo" in data:
        return Redirect(_required_text(data, "redirectTo"))
    if "result" in data:  # Jet: true, false or a message
        outcome = data["result"]
        if outcome is False:
            return Error(_text(data, "message") or "the remote action reported a failure")
        if outcome is True or isinstance(outcome, str):
            return Success(outcome if isinstance(outcome, str) else _text(data, "message"))
        raise ValueError("result must be true, false or text")
    relationships = _refresh(data)
    success = _text(data, "success")
    if success is not None or (html is not None and relationships):
        return Success(success, html=html, refresh=relationships)
    if html is not None:
        return Html(html)
    if relationships:
        return Refresh(relationships)
    raise ValueError(f"the answer has none of {_SHAPES}")


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value


def _required_text(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    if not value:
        raise ValueError(f"{key} must be non-empty text")
    return value


def _refresh(data: Mapping[str, Any]) -> list[str]:
    refresh = data.get("refresh")
    if refresh is None:
        return []
    names = refresh.get("relationships") if isinstance(refresh, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("refresh must be {\"relationships\": [names]}")
    return names


def error_text(answer: Answer) -> str:
    """The remote's own error message, when it gave one as JSON (clipped)."""
    try:
        data = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        return ""
    message = data.get("error") if isinstance(data, dict) else None
    return f": {message[:300]}" if isinstance(message, str) and message else ""


def _filename(disposition: str) -> str:
    star = re.search(r"filename\*\s*=\s*UTF-8''([^;]+)", disposition, re.IGNORECASE)
    if star:
        return unquote(star.group(1).strip())
    plain = re.search(r'filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)', disposition,
                      re.IGNORECASE)
    if plain:
        return (plain.group(1) or plain.group(2) or "download").strip()
    return "download"


def _mime(content_type: str) -> str:
    value = content_type.strip()
    return value if _MIME.fullmatch(value) else "application/octet-stream"
