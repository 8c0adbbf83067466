"""Request and response models of the settings API (roles, policies, action settings).

Rules, names and conditions are checked by the permissions service, which names the
offending field in a 400; the models give the shapes, and document them in OpenAPI.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_FILTER = (
    'A filter: {"field", "operator", "value"} or {"aggregator": "and"|"or", "conditions": '
    "[...]}."
)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=2000)
    is_admin: bool = Field(
        default=False, description="May use the settings API and sees every run."
    )
    read_all: bool = Field(default=False, description="May read every collection.")
    readable: list[str] = Field(
        default_factory=list,
        description="Without read_all: the collections the role may read.",
        max_length=1000,
    )
    can_export: bool = Field(
        default=False, description="May export the lists it reads (CSV, JSON lines)."
    )


class RoleOut(BaseModel):
    name: str
    description: str | None
    is_admin: bool
    read_all: bool
    readable: list[str]
    can_export: bool = False


class RoleData(RoleIn):
    name: str = Field(max_length=100)


class RoleList(BaseModel):
    roles: list[RoleOut]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(max_length=100)
    collection: str | None = Field(
        default=None, max_length=120, description="None (or omitted) for a global action."
    )
    action: str = Field(max_length=120, description="The action's slug.")
    rule: str = Field(
        default="trigger",
        description="hidden, trigger or approval (trigger, once approved).",
        json_schema_extra={"enum": ["hidden", "trigger", "approval"]},
    )
    condition: dict[str, Any] | None = Field(
        default=None,
        description="For rule approval: approval is required only when this holds. " + _FILTER,
    )
    condition_on: str = Field(
        default="records",
        description="What the condition tests: the selected records, or the form values.",
        json_schema_extra={"enum": ["records", "values"]},
    )
    can_approve: bool = Field(default=False, description="The role may approve this action.")
    approvals_required: int = Field(default=1, description="Approvals a request needs.")
    self_approval: bool = Field(
        default=False, description="Whether a requester may approve their own request."
    )


class PolicyOut(BaseModel):
    role: str
    collection: str | None
    action: str
    rule: str
    condition: dict[str, Any] | None
    condition_on: str
    can_approve: bool
    approvals_required: int
    self_approval: bool


class PolicyList(BaseModel):
    policies: list[PolicyOut]


class ActionSettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: str | None = Field(
        default=None, max_length=120, description="None (or omitted) for a global action."
    )
    action: str = Field(max_length=120, description="The action's slug.")
    visible: bool = Field(
        default=True, description="An invisible action is listed for nobody and runs for nobody."
    )
    enabled_if: dict[str, Any] | None = Field(
        default=None,
        description="A condition on the records, required in addition to the one in code. "
        + _FILTER,
    )


class ActionSettingOut(BaseModel):
    collection: str | None
    action: str
    visible: bool
    enabled_if: dict[str, Any] | None


class ActionSettingList(BaseModel):
    actions: list[ActionSettingOut]


class PermissionsData(BaseModel):
    """Every role, policy and action setting: what export gives and import takes."""

    roles: list[RoleOut]
    policies: list[PolicyOut]
    actions: list[ActionSettingOut]


class PermissionsImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[RoleData] = Field(default_factory=list)
    policies: list[PolicyIn] = Field(default_factory=list)
    actions: list[ActionSettingIn] = Field(default_factory=list)
