"""The operation log (F11): what /api/v1/audit answers."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from portal.api.schemas import Out


class AuditEvent(Out):
    id: int
    at: str = Field(json_schema_extra={"format": "date-time"})
    actor: str
    source_ip: str
    action: str
    target: str
    details: dict[str, Any]


class AuditPage(Out):
    page: int
    per_page: int
    has_next: bool
    events: list[AuditEvent] = Field(description="Newest first")


OUTPUTS = [AuditPage]
