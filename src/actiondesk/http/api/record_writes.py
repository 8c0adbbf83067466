"""``PATCH``, ``POST`` and ``DELETE`` on records: thin routes onto the built-in record
actions (``edit``, ``create``, ``delete``), with the same checks and answers as executing
them (permissions, conditions, approval, audit, Idempotency-Key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from actiondesk.actions.document import ActionRequest
from actiondesk.editing.forms import ORIGINAL
from actiondesk.errors import ClientError
from actiondesk.http.api.actions import (
    EXECUTE_RESPONSES,
    IdempotencyHeader,
    outcome_response,
    refusal_headers,
)
from actiondesk.http.api.models import ErrorOut
from actiondesk.http.dependencies import CurrentAccess, ServicesDep

router = APIRouter(tags=["records"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **EXECUTE_RESPONSES,
    409: {"model": ErrorOut, "description": "The record changed since the values the edit "
          "was made from (fields named), other records refer to it (delete), or the "
          "Idempotency-Key was used for another request."},
}


class RecordCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(default_factory=dict, description="Field values, as the "
                                   "records API shows them; a reference is the record's id.")


class RecordEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(description="The fields to change; the others keep their "
                                   "value.")
    original: dict[str, Any] = Field(description="The record's values the edit was made "
                                     "from (as read from the records API): if one of them "
                                     "changed since, the answer is 409 naming it and nothing "
                                     "is written.")


async def _run(request: Request, services: ServicesDep, access: CurrentAccess,
               collection: str, slug: str, document: ActionRequest,
               key: str | None) -> Response:
    try:
        outcome = await services.actions.execute(collection, slug, document, access,
                                                 idempotency_key=key)
    except ClientError as exc:
        refusal_headers(exc)
        raise
    return outcome_response(outcome, request.scope.get("root_path", "").rstrip("/"))


@router.post("/collections/{collection}/records", responses=_RESPONSES,
             summary="Create a record (the built-in create action)")
async def create_record(request: Request, collection: str, body: RecordCreateIn,
                        services: ServicesDep, access: CurrentAccess,
                        idempotency_key: IdempotencyHeader = None) -> Response:
    document = ActionRequest(values=body.values)
    return await _run(request, services, access, collection, "create", document,
                      idempotency_key)


@router.patch("/collections/{collection}/records/{record_id}", responses=_RESPONSES,
              summary="Edit a record (the built-in edit action)")
async def edit_record(request: Request, collection: str, record_id: str, body: RecordEditIn,
                      services: ServicesDep, access: CurrentAccess,
                      idempotency_key: IdempotencyHeader = None) -> Response:
    document = ActionRequest(ids=(record_id,), values={**body.values, ORIGINAL: body.original})
    return await _run(request, services, access, collection, "edit", document,
                      idempotency_key)


@router.delete("/collections/{collection}/records/{record_id}", responses=_RESPONSES,
               summary="Delete a record (the built-in delete action)")
async def delete_record(request: Request, collection: str, record_id: str,
                        services: ServicesDep, access: CurrentAccess,
                        idempotency_key: IdempotencyHeader = None) -> Response:
    return await _run(request, services, access, collection, "delete",
                      ActionRequest(ids=(record_id,)), idempotency_key)
