"""What an approval request is: its statuses, the stored record, the history filters, and
the rules that need no database (who may decide or see a request, checks of what a caller
sends)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from actiondesk.data.filters import Filter, Group
from actiondesk.errors import BadRequestError, ConflictError, ForbiddenError
from actiondesk.permissions.service import Policy, describe_action

if TYPE_CHECKING:
    from actiondesk.permissions.access import Access
    from actiondesk.permissions.service import Decision

ApprovalStatus = Literal[
    "pending", "executing", "executed", "failed", "rejected", "cancelled", "expired"
]
APPROVAL_STATUSES: tuple[str, ...] = get_args(ApprovalStatus)
EventKind = Literal["requested", "approved", "rejected", "cancelled", "expired", "executed",
                    "failed"]
DEFAULT_TTL = dt.timedelta(days=7)
NOT_STARTED = ("interrupted before it ran: the server stopped after the approval and before "
               "the action started; nothing was executed, request it again if still needed")
INTERRUPTED = ("interrupted while it ran: the server running the action stopped; it may have "
               "done part of its work, check the records before requesting it again")
MAX_PAGE_SIZE = 200
MAX_MESSAGE = 2000
RECORDS_PAGE_SIZE = 100
NO_COLLECTION = ""  # stored for an action of no collection
EXPORT_COLUMNS = ["id", "requested_at", "action", "collection", "requester", "record_count",
                  "values", "status", "approvals_required", "approvers", "decision",
                  "reviewer", "decided_at", "decision_message", "reason", "run_id"]


@dataclass(frozen=True)
class Decided:
    """What ended a request's review: the last approval (that made it run), the rejection,
    the cancellation or the expiry; ``by`` is None for an expiry."""

    kind: str
    by: dict[str, str] | None
    at: dt.datetime
    message: str | None


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval request as stored (the frozen typed values are not part of its JSON)."""

    id: str
    action_slug: str
    action_name: str
    collection: str | None
    scope: str
    requester: dict[str, Any]
    requester_id: str
    requester_email: str
    values: dict[str, Any]  # redacted, for display
    parent: dict[str, Any] | None
    selection: dict[str, Any]
    record_count: int | None
    status: str
    approvals_required: int
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None
    run_id: str | None
    result: Any
    result_kind: str | None
    result_status_code: int | None
    result_filename: str | None
    result_mime: str | None
    reason: str | None
    approvers: list[dict[str, str]] = field(default_factory=list)
    decision: Decided | None = None

    @property
    def decided(self) -> Decided | None:
        """The decision, once the request left ``pending``."""
        return None if self.status == "pending" else self.decision

    def summary_json(self) -> dict[str, Any]:
        """What the 202 of a request answers."""
        return {
            "id": self.id,
            "status": self.status,
            "action": {"slug": self.action_slug, "name": self.action_name,
                       "collection": self.collection, "scope": self.scope},
            "record_count": self.record_count,
            "values": self.values,
            "approvals_required": self.approvals_required,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary_json(),
            "requester": self.requester,
            "parent": self.parent,
            "selection": self.selection,
            "approvals": len(self.approvers),
            "approvers": self.approvers,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision": self.decided.kind if self.decided else None,
            "reviewer": self.decided.by if self.decided else None,
            "decision_message": self.decided.message if self.decided else None,
            "run_id": self.run_id,
            "result": self.result,
            "result_kind": self.result_kind,
            "result_status_code": self.result_status_code,
            "result_filename": self.result_filename,
            "result_mime": self.result_mime,
            "has_file": self.result_kind == "file" and self.run_id is not None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ApprovalNews:
    """What just happened to a request, told to the workflow's listeners once committed:
    ``requested``, ``approved`` (one approval of several), ``rejected``, ``cancelled``,
    ``executed`` or ``failed``; ``actor`` is None for what the system did."""

    kind: EventKind
    approval: ApprovalRecord
    actor: dict[str, str] | None
    message: str | None


@dataclass(frozen=True)
class HistoryFilters:
    """History filters: ``requester`` and ``reviewer`` match an id or an email exactly;
    ``since`` is inclusive and ``until`` exclusive (both on the request time)."""

    action: str | None = None
    requester: str | None = None
    reviewer: str | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def check_filters(filters: HistoryFilters) -> None:
    """BadRequestError for a filter that can match nothing by mistake (an unknown status)."""
    if filters.status is not None and filters.status not in APPROVAL_STATUSES:
        raise BadRequestError(
            f"unknown approval status {filters.status!r}",
            fields={"status": "must be one of " + ", ".join(APPROVAL_STATUSES)},
        )


# -- who may do what --------------------------------------------------------------------------

def approver_policy(access: Access, approval: ApprovalRecord) -> Policy | None:
    """The caller's policy for the request's action, if it lets the caller approve."""
    policy = access.snapshot.policies.get(
        (access.caller.role, approval.collection, approval.action_slug)
    )
    return policy if policy is not None and policy.can_approve else None


def require_decider(access: Access, approval: ApprovalRecord) -> Policy:
    """The caller's approving policy; ForbiddenError if the caller may not decide."""
    caller = access.caller
    where = describe_action(approval.collection, approval.action_slug)
    policy = approver_policy(access, approval)
    if policy is None:
        raise ForbiddenError(
            f"role {caller.role!r} may not approve {where} (its policy has no can_approve)"
        )
    if approval.requester_id == caller.id and not policy.self_approval:
        raise ForbiddenError(
            f"{caller.email} requested this and may not approve it too: the policy of role "
            f"{caller.role!r} for {where} does not allow self-approval"
        )
    return policy


def require_visible(access: Access, approval: ApprovalRecord) -> None:
    if (access.is_admin or approval.requester_id == access.caller.id
            or approver_policy(access, approval) is not None):
        return
    raise ForbiddenError(
        "only the requester, the roles that may approve "
        f"{describe_action(approval.collection, approval.action_slug)} and admins may "
        "see this request"
    )


def require_pending(approval: ApprovalRecord) -> None:
    if approval.status != "pending":
        raise conflict(approval)


def conflict(approval: ApprovalRecord) -> ConflictError:
    return ConflictError(
        f"this request is {approval.status}; only a pending request can be decided",
        detail={"status": approval.status, "approval": approval.to_json()},
    )


# -- what a caller sends ----------------------------------------------------------------------

def clean_message(message: str | None) -> str | None:
    """A decision's message, checked and trimmed (None when empty)."""
    if message is None:
        return None
    if not isinstance(message, str):
        raise BadRequestError("message must be text", fields={"message": "must be text"})
    if len(message) > MAX_MESSAGE:
        raise BadRequestError(f"message must be at most {MAX_MESSAGE} characters",
                              fields={"message": f"at most {MAX_MESSAGE} characters"})
    return message.replace("\x00", "").strip() or None


def paging(page: int, page_size: int) -> tuple[int, int]:
    """The page and its size, checked (the size capped at ``MAX_PAGE_SIZE``)."""
    if page < 1:
        raise BadRequestError("page must be at least 1", fields={"page": "must be >= 1"})
    if page_size < 1:
        raise BadRequestError("page_size must be at least 1",
                              fields={"page_size": "must be >= 1"})
    return page, min(page_size, MAX_PAGE_SIZE)


# -- why a request needs approval -------------------------------------------------------------

def why(decision: Decision) -> str:
    """Why the request needs approval, frozen with it: the rule, and its condition if any."""
    policy = decision.policy
    if policy is None or policy.condition is None:
        return decision.reason
    return f"{decision.reason}; condition: {describe(policy.condition)}"


def describe(filter_: Filter) -> str:
    """``amount greater than 1000 and (status is live or note is null)``."""
    if isinstance(filter_, Group):
        parts = [f"({describe(c)})" if isinstance(c, Group) else describe(c)
                 for c in filter_.conditions]
        return f" {filter_.aggregator} ".join(parts)
    operator = str(getattr(filter_.operator, "value", filter_.operator)).replace("_", " ")
    if filter_.value is None:
        return f"{filter_.field} {operator}"
    value = ", ".join(map(str, filter_.value)) if isinstance(filter_.value, list) else filter_.value
    return f"{filter_.field} {operator} {value}"
