"""Handlers of actions that run elsewhere: they send the validated request, signed, and turn
the answer into the action's result. Everything before (permissions, approvals, record
conditions, form validation) and after (the audit) is the engine's, as for local actions.

The selection travels as record ids, ``batch_size`` at a time: a small selection is one
message; a larger one (a select-all, an approved request) is one message per batch, read
with keyset paging so memory stays flat. Each batch carries ``batch: {index, size, records,
last}``; the answer to the last batch is the action's result, an ``error`` answer to an
earlier one stops the run with that error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from actiondesk.actions.context import ActionContext
from actiondesk.actions.results import Error, Result
from actiondesk.actions.selection import Selection
from actiondesk.actions.spec import Handler
from actiondesk.data.record_ids import encode_id
from actiondesk.remote.client import ProviderClient
from actiondesk.remote.declarations import Target
from actiondesk.remote.protocol import (
    EXECUTE_ACTION,
    Answer,
    result_of_answer,
    wire_values,
)

Send = Callable[[dict[str, Any]], Awaitable[Answer]]
ClientOf = Callable[[], ProviderClient]


def message_handler(client_of: ClientOf, target: Target) -> Handler:
    """The handler of an action from a provider's list: EXECUTE_ACTION messages."""

    async def execute_remotely(ctx: ActionContext) -> Result:
        client = client_of()
        params: dict[str, Any] = {
            "action": target.name,
            "collection": ctx.action.collection,
            "data" if target.dialect == "jet" else "values": wire_values(ctx.values),
            "parent": _parent(ctx),
            "caller": ctx.caller.to_json(),
            "run_id": ctx.run_id,
        }
        if target.model is not None:
            params["model"] = target.model

        async def send(batch: dict[str, Any]) -> Answer:
            message = {**params, **batch}
            if target.dialect == "jet" and ctx.action.scope.value == "single":
                message["id"] = batch["ids"][0] if batch["ids"] else None
            return await client.message(EXECUTE_ACTION, message)

        return await _in_batches(ctx, client, send)

    return execute_remotely


def endpoint_handler(client_of: ClientOf, endpoint: str, http_method: str) -> Handler:
    """The handler of an action declared here and run at an endpoint, as Forest's
    ``endpoint`` / ``httpMethod``: its JSON:API request, signed, then the answer relayed."""

    async def execute_at_endpoint(ctx: ActionContext) -> Result:
        client = client_of()
        url = client.provider.url_for(endpoint)
        action = ctx.action
        attributes: dict[str, Any] = {
            "collection_name": action.collection,
            "values": wire_values(ctx.values),
            "all_records": False,
            "all_records_ids_excluded": [],
            "smart_action_id": f"{action.collection or 'global'}-{action.slug}",
        }
        if ctx.parent is not None:
            attributes.update(parent_collection_name=ctx.parent.collection,
                              parent_collection_id=ctx.parent.id,
                              parent_association_name=ctx.parent.association)
        meta = {"caller": ctx.caller.to_json(), "run_id": ctx.run_id, "action": action.name}

        async def send(batch: dict[str, Any]) -> Answer:
            extra = {"batch": batch["batch"]} if "batch" in batch else {}
            document = {
                "data": {"type": "custom-action-requests",
                         "attributes": {**attributes, "ids": batch["ids"]}},
                "meta": {**meta, **extra},
            }
            return await client.send_json(http_method, url, document)

        return await _in_batches(ctx, client, send)

    return execute_at_endpoint


async def _in_batches(ctx: ActionContext, client: ProviderClient, send: Send) -> Result:
    where = client.where
    selection = ctx.selection
    if selection is None:
        return result_of_answer(await send({"ids": []}), where)
    size = client.provider.batch_size
    total = await selection.count()
    if total <= size:
        ids = [i async for batch in _id_batches(selection, size) for i in batch]
        return result_of_answer(await send({"ids": ids}), where)
    index = 0
    result: Result = None
    async for ids, last in _with_last(_id_batches(selection, size)):
        batch = {"index": index, "size": len(ids), "records": total, "last": last}
        result = result_of_answer(await send({"ids": ids, "batch": batch}), where)
        if isinstance(result, Error) and not last:
            return result
        index += 1
    return result


async def _id_batches(selection: Selection, size: int) -> AsyncIterator[list[str]]:
    collection = selection.collection
    names = collection.primary_key
    async for rows in selection.batches(size=size):
        yield [encode_id(collection, [row[n] for n in names]) for row in rows]


async def _with_last(
    batches: AsyncIterator[list[str]],
) -> AsyncIterator[tuple[list[str], bool]]:
    """Each batch with whether it is the last (one batch read ahead)."""
    pending: list[str] | None = None
    async for batch in batches:
        if pending is not None:
            yield pending, False
        pending = batch
    if pending is not None:
        yield pending, True


def _parent(ctx: ActionContext) -> dict[str, str] | None:
    if ctx.parent is None:
        return None
    return {"collection": ctx.parent.collection, "id": ctx.parent.id,
            "association": ctx.parent.association}
