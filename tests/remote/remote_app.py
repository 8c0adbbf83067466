"""The remote services the tests talk to, run as a second process:

``python -m tests.remote.remote_app --port P --wsgi-port Q``

- ``/native``: actions declared in actiondesk's own format (RemoteActions, ASGI);
- ``/jet``: actions declared in Jet's format, handlers registered Jet's bridge way;
- ``/garbage``: a well-signed list whose actions answer garbage (non-JSON, wrong shapes, huge
  bodies, bad signatures, slowness, death);
- ``/slowlist``: never answers its list in time;
- ``/endpoint/...``: Forest-style endpoints (JSON:API requests, signed);
- a WSGI server (wsgiref) on the second port serving a RemoteActions.wsgi;
- ``/calls`` (GET, DELETE) and ``/control`` (POST): unsigned test controls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from actiondesk import ActionError, File, Html, Redirect, Refresh, Success, Webhook
from actiondesk.remote import EXECUTE_ACTION, GET_ACTION_LIST, Message, RemoteActions
from actiondesk.remote.signing import compute, sign_answer, verify

SECRET = "remote-test-secret-0123456789abcdef"
CALLS: list[dict[str, Any]] = []
CONTROL: dict[str, Any] = {"native_list": "full"}

ALL_FIELDS = [
    {"name": "s", "type": "string", "required": True, "min_length": 2, "pattern": "[a-z]+"},
    {"name": "n", "type": "number", "min": 0, "max": 100},
    {"name": "d", "type": "decimal", "min": "0.01"},
    {"name": "b", "type": "boolean"},
    {"name": "day", "type": "date_only"},
    {"name": "at", "type": "datetime"},
    {"name": "t", "type": "time"},
    {"name": "e", "type": "enum", "enum_values": ["low", "high"]},
    {"name": "j", "type": "json"},
    {"name": "f", "type": "file", "max_file_bytes": 1000},
    {"name": "sl", "type": "string_list"},
    {"name": "ref", "type": "reference", "reference": "companies"},
    {"name": "pin", "type": "string", "secret": True},
    {"name": "why", "type": "text", "visible_if": {"field": "e", "operator": "equal",
                                                    "value": "high"}},
]

NATIVE = [
    {"name": "Ship", "collection": "companies", "scope": "single",
     "description": "Ship the company's order", "form": ALL_FIELDS},
    {"name": "Tag many", "slug": "tag-many", "collection": "companies", "scope": "bulk",
     "enabled_if": {"field": "active", "operator": "equal", "value": True},
     "disabled_reason": "Only active companies can be tagged"},
    {"name": "Count", "collection": "companies", "scope": "bulk"},
    {"name": "Count transactions", "collection": "transactions", "scope": "bulk"},
    {"name": "Relabel lines", "collection": "order_lines", "scope": "bulk"},
    {"name": "Recount", "scope": "global", "form": [{"name": "who", "type": "string"}]},
    {"name": "Report", "collection": "companies", "download": True},
    {"name": "Show html", "collection": "companies"},
    {"name": "Hook", "collection": "companies"},
    {"name": "Go inside", "collection": "companies"},
    {"name": "Go outside", "collection": "companies"},
    {"name": "Evil redirect", "collection": "companies"},
    {"name": "Refresh", "collection": "companies"},
    {"name": "Nothing", "collection": "companies"},
    {"name": "Decline", "collection": "companies"},
    {"name": "Raise", "collection": "companies"},
    {"name": "Crash", "collection": "companies"},
    {"name": "Fail batch", "collection": "companies", "scope": "bulk"},
    # Malformed: each is skipped with its reason, the others still work.
    {"name": "Bad scope", "collection": "companies", "scope": "sometimes"},
    {"name": "Unknown collection", "collection": "nope"},
    {"name": "Typo", "collection": "companies", "enabledIf": {"field": "id"}},
    42,
    {"name": "Bad field", "collection": "companies", "form": [{"name": "x", "type": "nope"}]},
    {"name": "Bad reference", "collection": "companies",
     "form": [{"name": "x", "type": "reference", "reference": "ghosts"}]},
    {"name": "Mark as Live", "collection": "companies"},
    {"name": "Bad condition", "collection": "companies",
     "enabled_if": {"field": "nope", "operator": "equal", "value": 1}},
]
NATIVE_CHANGED = [{"name": "Brand new", "collection": "companies"}]

JET = [
    {"name": "transfer", "label": "Account transfer",
     "model_action": {"model": "app.Company", "for_instance": True, "bulk": False},
     "params": [
         {"name": "to_company", "verbose_name": "To", "field": "ForeignKey", "required": True,
          "params": {"related_model": {"model": "app.Company"}}},
         {"name": "amount", "field": "DecimalField", "required": True},
         {"name": "comment", "field": "TextField", "required": False},
         {"name": "date", "field": "DateTimeField", "required": False},
     ]},
    {"name": "notify", "model_action": {"model": ["app.Company", "app.Transaction"],
                                        "for_instance": False, "bulk": True}},
    {"name": "recompute_stats", "common_action": {}},
    {"name": "company_stats", "model_action": {"model": "app.Company"}},
    {"name": "refuse", "model_action": {"model": "app.Company", "for_instance": True}},
    {"name": "ghost", "model_action": {"model": "app.Ghost", "for_instance": True}},
    {"name": "broken_fk", "model_action": {"model": "app.Company", "for_instance": True},
     "params": [{"name": "x", "field": "ForeignKey"}]},
]


def _record(message: Message) -> None:
    CALLS.append({"name": message.name, "params": dict(message.params)})


# -- actiondesk's own format ----------------------------------------------------------------

native = RemoteActions(SECRET)


@native.handler(GET_ACTION_LIST)
def native_list(message: Message) -> Any:
    mode = CONTROL["native_list"]
    if mode == "broken":
        return {"not": "a list"}
    return {"actions": NATIVE_CHANGED if mode == "changed" else NATIVE}


@native.handler(EXECUTE_ACTION)
async def native_execute(message: Message) -> Any:
    _record(message)
    name = message.action
    echo = {"ids": message.ids, "values": dict(message.values),
            "caller": message.caller.get("email"), "parent": message.parent,
            "batch": message.batch}
    if name == "Report":
        return File(filename="report-é.txt", content=f"report {message.ids[0]}".encode(),
                    mime="text/plain")
    if name == "Show html":
        return Html('<p class="ok" onclick="x()">Paid<script>alert(1)</script></p>')
    if name == "Hook":
        return Webhook("https://hooks.example.com/x", headers={"X-T": "1"}, body={"a": 1})
    if name == "Go inside":
        return Redirect("/collections/transactions")
    if name == "Go outside":
        return {"redirectTo": "https://example.com/track?id=1"}
    if name == "Evil redirect":
        return {"redirectTo": "javascript:alert(1)"}
    if name == "Refresh":
        return Refresh(["emitter_company_transactions"], message="Refreshed")
    if name == "Nothing":
        return None
    if name == "Decline":
        return {"error": "Card declined", "html": "<b>no</b><img src=x onerror=alert(1)>"}
    if name == "Raise":
        raise ActionError("Not today")
    if name == "Crash":
        raise RuntimeError("secret internal detail")
    if name == "Fail batch" and message.batch and message.batch["index"] == 1:
        return {"error": "batch 1 failed"}
    if name == "Ship" and message.values.get("f"):
        file = message.file("f")
        assert file is not None
        echo["file"] = [file.filename, file.mime, file.content.decode()]
    return Success(json.dumps(echo))


# -- Jet's format, Jet's bridge style --------------------------------------------------------

jet = RemoteActions(SECRET)


def get_action_list(message: Message) -> Any:
    return JET


def execute_action(message: Message) -> Any:
    _record(message)
    params = message.params
    if params["action"] == "refuse":
        return {"result": False}
    if params["action"] == "transfer":
        return {"result": f"moved {params['data']['amount']} from {params['id']}"}
    return {"result": True}


jet.add_message_handler(GET_ACTION_LIST, get_action_list)
jet.add_message_handler(EXECUTE_ACTION, execute_action)


# -- garbage ---------------------------------------------------------------------------------

GARBAGE_NAMES = ["non-json", "wrong-shape", "list-json", "bad-webhook", "huge", "huge-chunked",
                 "slow", "drip", "unsigned", "bad-signature", "wrong-nonce", "expired",
                 "status-500", "die", "empty-error"]


def _signed(status: int, body: bytes, nonce: str, content_type: str = "application/json",
            secret: str = SECRET, now: float | None = None) -> Response:
    headers = sign_answer(secret, body, nonce, now=now)
    return Response(body, status_code=status, headers=headers, media_type=content_type)


async def garbage(request: Request) -> Response:
    body = await request.body()
    nonce = verify(SECRET, dict(request.headers), body)
    message = json.loads(body)
    if message["name"] == GET_ACTION_LIST:
        actions = [{"name": n, "collection": "companies"} for n in GARBAGE_NAMES]
        return _signed(200, json.dumps(actions).encode(), nonce)
    CALLS.append(message)
    mode = message["params"]["action"]
    if mode == "non-json":
        return _signed(200, b"<html>oops</html>", nonce, "text/html")
    if mode == "wrong-shape":
        return _signed(200, b'{"foo": 1}', nonce)
    if mode == "list-json":
        return _signed(200, b"[1, 2]", nonce)
    if mode == "bad-webhook":
        return _signed(200, b'{"webhook": {"url": "ftp://x"}}', nonce)
    if mode == "empty-error":
        return _signed(200, b'{"error": ""}', nonce)
    if mode == "huge":
        return _signed(200, b'{"success": "' + b"x" * 2_000_000 + b'"}', nonce)
    if mode == "huge-chunked":
        async def chunks() -> Any:
            for _ in range(100):
                yield b"y" * 100_000
        return StreamingResponse(chunks(), media_type="application/json")
    if mode == "slow":
        await asyncio.sleep(30)
    if mode == "drip":
        async def drip() -> Any:
            for _ in range(60):
                yield b" "
                await asyncio.sleep(0.5)
        return StreamingResponse(drip(), media_type="application/json")
    if mode == "unsigned":
        return JSONResponse({"success": "trust me"})
    if mode == "bad-signature":
        return _signed(200, b'{"success": "forged"}', nonce, secret="x" * 40)
    if mode == "wrong-nonce":
        return _signed(200, b'{"success": "replayed"}', "0123456789abcdef0123")
    if mode == "expired":
        return _signed(200, b'{"success": "old"}', nonce, now=time.time() - 3600)
    if mode == "status-500":
        return _signed(500, b'{"error": "the database is down"}', nonce)
    if mode == "die":
        os._exit(3)
    return _signed(200, b'{"success": "ok"}', nonce)


async def slowlist(request: Request) -> Response:
    await asyncio.sleep(30)
    return Response(b"[]")


# -- Forest-style endpoints ------------------------------------------------------------------

async def endpoint(request: Request) -> Response:
    body = await request.body()
    try:
        nonce = verify(SECRET, dict(request.headers), body)
    except Exception as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    document = json.loads(body)
    CALLS.append({"endpoint": request.path_params["name"], "method": request.method,
                  "document": document})
    name = request.path_params["name"]
    if name == "file":
        content = b"col\n1\n"
        headers = sign_answer(SECRET, content, nonce)
        headers["Content-Disposition"] = 'attachment; filename="export.csv"'
        return Response(content, headers=headers, media_type="text/csv")
    if name == "fail":
        return _signed(400, b'{"error": "cannot ship"}', nonce)
    ids = document["data"]["attributes"]["ids"]
    answer = {"success": f"shipped {len(ids)}"}
    return _signed(200, json.dumps(answer).encode(), nonce)


# -- test controls ---------------------------------------------------------------------------

async def calls(request: Request) -> Response:
    if request.method == "DELETE":
        CALLS.clear()
        return Response(status_code=204)
    return JSONResponse(CALLS)


async def control(request: Request) -> Response:
    CONTROL.update(await request.json())
    return JSONResponse(CONTROL)


app = Starlette(routes=[
    Mount("/native", app=native.asgi),
    Mount("/jet", app=jet.asgi),
    Route("/garbage", garbage, methods=["POST"]),
    Route("/slowlist", slowlist, methods=["POST"]),
    Route("/endpoint/{name}", endpoint, methods=["POST", "PUT", "PATCH", "DELETE", "GET"]),
    Route("/calls", calls, methods=["GET", "DELETE"]),
    Route("/control", control, methods=["POST"]),
])

# The WSGI side: a small list, served by the standard library's WSGI server.
wsgi_remote = RemoteActions(SECRET)
wsgi_remote.add_message_handler(GET_ACTION_LIST, lambda message: [
    {"name": "Wsgi ping", "scope": "global"},
    {"name": "Wsgi count", "collection": "companies", "scope": "bulk"},
])


@wsgi_remote.handler(EXECUTE_ACTION)
def wsgi_execute(message: Message) -> Any:
    return {"success": f"wsgi {message.action} {len(message.ids)}"}


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def signature_for(body: bytes, timestamp: str, nonce: str) -> str:
    return compute(SECRET, timestamp, nonce, body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--wsgi-port", type=int, required=True)
    args = parser.parse_args()
    wsgi_server = make_server("127.0.0.1", args.wsgi_port, wsgi_remote.wsgi,
                              handler_class=_Quiet)
    threading.Thread(target=wsgi_server.serve_forever, daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
