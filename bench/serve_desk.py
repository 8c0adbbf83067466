"""Helper for the benchmarks (not a benchmark itself): serve a Desk with uvicorn.

    ACTIONDESK_DATABASE_URL=URL python bench/serve_desk.py --state-url URL --port PORT \
        [--include TABLE ...]

Runs in its own process so the benchmark's client and the server do not share an event loop.
The database URL comes from ``--database-url`` or, kept out of the process list, from
``ACTIONDESK_DATABASE_URL`` (which ``Desk`` reads itself).
"""

from __future__ import annotations

import argparse

import uvicorn
from _common import SECRET_KEY, stop_when_orphaned

from actiondesk import Desk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--state-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--include", nargs="+", default=None, help="tables to serve")
    args = parser.parse_args()
    desk = Desk(
        database_url=args.database_url,
        state_url=args.state_url,
        secret_key=SECRET_KEY,
        include=args.include,
    )
    stop_when_orphaned()
    uvicorn.run(desk, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
