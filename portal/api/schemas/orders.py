"""Orders and approvals (F11): what /api/v1/orders and /approvals answer and accept."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, Text

Approval = Literal["none", "pending", "approved", "rejected", "closed"]


class OrderEvent(Out):
    at: ISO
    kind: str
    actor: str
    details: dict[str, Any] | None


class Order(Out):
    id: int
    created_at: ISO
    kind: Literal["session", "job", "scheduled"]
    ref_id: int | None
    user: Text
    project_id: int | None
    account: str
    name: str
    spec: dict[str, Any] | None
    unit_price: str = Field(description="Hourly price when ordered")
    slurm_job_id: Text
    state: str
    job_state: Text = Field(description="The session's or job's state now")
    reason: Text
    approval: Approval
    decided_by: Text
    decided_at: ISO
    decision_message: Text
    history: list[OrderEvent] = Field(None, description="With one order (not in lists)")


class RejectInput(In):
    message: str = Field(min_length=1, max_length=1000,
                         description="For the requester (message_required)")


OUTPUTS = [Order]
INPUTS = [RejectInput]
