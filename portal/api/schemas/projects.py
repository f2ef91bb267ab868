"""Projects, their members and extension requests (F2), users' activation and QOS (F13):
what /api/v1/projects, /extensions, /users/{user_id}/... and /qos answer and accept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, Number, Text

Day = Annotated[str | None, Field(json_schema_extra={"format": "date"})]
Limit = int | None  # null: no limit
Role = Literal["member", "manager"]


class Quota(Out):
    gpus: Limit
    cpus: Limit
    mem_gb: Limit
    gpus_per_user: Limit
    max_wall_minutes: Limit
    idle_reclaim_minutes: Limit
    approval_threshold: Limit


class Member(Out):
    user_id: int
    username: str
    unix_user: Text
    role: Role


class ProjectUsage(Out):
    """Live usage from the worker's cached job list (as of `as_of`)."""

    gpus: int
    cpus: int
    mem_gb: Number
    running: int
    pending: int
    partial: bool
    as_of: ISO


class Project(Out):
    id: int
    account: str
    name: str
    description: str
    start_date: Day
    end_date: Day
    status: Literal["active", "expired", "not_started", "archived"]
    blocked_reason: Text
    role: Role | None = Field(description="Yours in it (null: not a member)")
    qos: Text
    extra_qos: list[str]
    members_see_sessions: bool
    quota: Quota
    members: list[Member]
    usage: ProjectUsage


class ArchivedProject(Project):
    cancelled: list[str] = Field(description="Slurm job ids cancelled")
    blocked: list[str] = Field(description="Slurm accounts blocked")


class UserStatus(Out):
    id: int
    username: str
    unix_user: Text
    active: bool


class DeactivatedUser(UserStatus):
    cancelled: list[str] = Field(description="Slurm job ids cancelled")
    removed_from: list[str] = Field(description="Slurm accounts whose association was "
                                                "removed")


class Extension(Out):
    id: int
    project: str
    days: int
    reason: str
    status: Literal["pending", "approved", "rejected"]
    requested_by: Text
    created_at: ISO
    decided_by: Text
    decision_message: Text
    new_end_date: Day
    end_date: Day = Field(description="The project's end date now")
    resulting_end_date: Day = Field(description="Pending: the end date approving it today "
                                                "gives (from the end date, or from today "
                                                "once that has passed)")


class Qos(Out):
    """A QOS as the admin pages show it (memory in GB; null: no limit)."""

    name: str
    description: str
    priority: int
    grp_gpus: Limit
    grp_gpus_by_model: dict[str, int] = Field(description="GPU model: GPUs")
    grp_cpus: Limit
    grp_mem_gb: Limit
    max_gpus_per_user: Limit
    max_cpus_per_user: Limit
    max_wall_minutes: Limit
    max_jobs_per_user: Limit
    used_by: list[str] = Field(description="The accounts (and portal projects) that list it")
    project_qos: bool = Field(description="A project's own QOS (made with the project)")
    id: int | None = Field(description="Slurm's QOS id (the API's handle)")


class Settings(In):
    """What admins set on a project (portal.services.project_rules checks the values)."""

    start_date: Day = None
    end_date: Day = None
    gpu_limit: Limit = None
    cpu_limit: Limit = None
    mem_limit_gb: Limit = None
    gpu_per_user: Limit = None
    max_wall_minutes: Limit = None
    idle_reclaim_minutes: Limit = None
    approval_threshold: Limit = None
    members_see_sessions: bool | None = None


class ProjectInput(Settings):
    account: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")
    name: str = Field(max_length=120)
    description: str | None = None
    managers: list[str] | None = Field(None, description="Usernames (else invalid_body)")
    members: list[str] | None = Field(None, description="Usernames (else invalid_body)")


class ProjectUpdateInput(Settings):
    """Managers: name, description. Admins: also the settings and extra_qos. Other fields
    are refused (invalid_body)."""

    name: str | None = None
    description: str | None = None
    extra_qos: list[str] | None = None


class MemberInput(In):
    username: str
    role: Role = "member"


class RoleInput(In):
    role: Role = Field(description="Else invalid_role")


class ExtensionInput(In):
    days: int = Field(ge=1, le=365)
    reason: str | None = None


class DecisionInput(In):
    decision: Literal["approve", "reject"]
    message: str | None = None
    expected_end_date: str | None = Field(
        None, json_schema_extra={"format": "date"},
        description="The resulting_end_date you were shown; refused (end_date_changed) if "
                    "it moved")


class ReasonInput(In):
    reason: str | None = Field(None, description="For the audit log")


class QosInput(In):
    """Every field optional; in a PATCH, null clears a limit."""

    name: str | None = None
    description: str | None = None
    priority: int | None = None
    grp_gpus_by_model: dict[str, int] | None = None
    grp_gpus: Limit = None
    grp_cpus: Limit = None
    grp_mem_gb: Limit = None
    max_gpus_per_user: Limit = None
    max_cpus_per_user: Limit = None
    max_wall_minutes: Limit = None
    max_jobs_per_user: Limit = None


OUTPUTS = [Project, ArchivedProject, UserStatus, DeactivatedUser, Extension, Qos]
INPUTS = [ProjectInput, ProjectUpdateInput, MemberInput, RoleInput, ExtensionInput,
          DecisionInput, ReasonInput, QosInput]
