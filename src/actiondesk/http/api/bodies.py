"""Reading request bodies with a size limit and clear errors."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from actiondesk.errors import BadRequestError, PayloadTooLargeError


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body (None when empty); 413 past ``limit`` bytes, 400 when not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the request body is larger than {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the request body is larger than {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(
            f"the request body is not valid JSON: {exc}", fields={"body": "not valid JSON"}
        ) from None
