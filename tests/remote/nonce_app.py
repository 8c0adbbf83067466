"""A remote service process whose nonces live in a shared SQL database (SqlNonceStore):

``python -m tests.remote.nonce_app --url URL --port P [--wsgi]``

ASGI under uvicorn, or with ``--wsgi`` the WSGI application under the standard library's
server; without ``--url``, the default per-process NonceCache.
"""

from __future__ import annotations

import argparse
from wsgiref.simple_server import WSGIRequestHandler, make_server

import uvicorn

from actiondesk.remote import GET_ACTION_LIST, RemoteActions, SqlNonceStore
from tests.remote.remote_app import SECRET


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--wsgi", action="store_true")
    options = parser.parse_args()
    remote = RemoteActions(SECRET, nonces=SqlNonceStore(options.url) if options.url else None)
    remote.add_message_handler(GET_ACTION_LIST, lambda message: [{"name": "Ping"}])
    if options.wsgi:
        make_server("127.0.0.1", options.port, remote.wsgi,
                    handler_class=_Quiet).serve_forever()
    else:
        uvicorn.run(remote.asgi, host="127.0.0.1", port=options.port, log_level="warning",
                    lifespan="off")


if __name__ == "__main__":
    main()
