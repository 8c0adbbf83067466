"""Who runs an action, and the record it was triggered from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Caller:
    """The person (or script) running an action: Forest's ``req.user``."""

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    team: str = ""
    role: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "team": self.team,
            "role": self.role,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Caller:
        """The caller ``to_json`` wrote (a run's or an approval request's stored caller)."""
        return cls(
            id=str(data.get("id", "")), email=str(data.get("email", "")),
            first_name=str(data.get("firstName", "")), last_name=str(data.get("lastName", "")),
            team=str(data.get("team", "")), role=str(data.get("role", "")),
            tags=dict(data.get("tags") or {}),
        )


@dataclass(frozen=True)
class ParentContext:
    """The record whose related-data view the action was triggered from."""

    collection: str
    id: str
    association: str
