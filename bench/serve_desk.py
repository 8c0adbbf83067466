"""Helper for the benchmarks (not a benchmark itself): serve a Desk with uvicorn.

    python bench/serve_desk.py --database-url URL --state-url URL --port PORT [--include T ...]

Runs in its own process so the benchmark's client and the server do not share an event loop.
"""

from __future__ import annotations

import argparse

import uvicorn

from actiondesk import Desk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--state-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--include", nargs="+", default=None, help="tables to serve")
    args = parser.parse_args()
    desk = Desk(
        database_url=args.database_url,
        state_url=args.state_url,
        secret_key="bench-not-secret",  # noqa: S106 - a throwaway local server
        include=args.include,
    )
    uvicorn.run(desk, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
