"""A project's idle-reclaim policy (issue #17 item 2): what
/api/v1/projects/{project_id}/idle-policy answers and accepts."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, Number, Text

MAX_LIMIT_S = 30 * 24 * 3600


class IdlePolicy(Out):
    project_id: int
    account: str
    enabled: bool
    limit_s: int = Field(json_schema_extra={"minimum": 0})
    warn_s: list[int]
    gpu_threshold: Number
    updated_at: ISO
    updated_by: Text


class IdlePolicyInput(In):
    """Types only, and strictly: JSON numbers ("90" or true are refused, not guessed) and
    no other fields. The values (ranges, warnings below the limit) are idle.clean_policy's
    to check, with its messages; the bounds here are what it allows."""

    model_config = ConfigDict(extra="forbid", strict=True)

    limit_s: Number = Field(description="Seconds idle before the session is ended; 0: off",
                            json_schema_extra={"minimum": 0, "maximum": MAX_LIMIT_S})
    warn_s: list[Number] = Field(
        default_factory=list, description="Seconds idle at which the owner is warned (each "
                                          "below limit_s)",
        json_schema_extra={"maxItems": 10, "items": {"type": "number", "minimum": 1}})
    gpu_threshold: Number = Field(5.0, description="GPU sessions: mean utilisation (%) under "
                                                   "which they count as idle",
                                  json_schema_extra={"minimum": 0, "maximum": 100})


OUTPUTS = [IdlePolicy]
INPUTS = [IdlePolicyInput]
