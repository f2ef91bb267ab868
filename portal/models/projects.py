"""Projects are Slurm accounts; memberships are associations (managers are coordinators).

A project's limits live in Slurm (ARCHITECTURE.md decision 9): GPU/CPU/memory quota as
GrpTRES, the per-user GPU cap as MaxTRESPerUser and the session limit as MaxWall, all on
the project's own QOS (`qos_name`), which is the account's default and only QOS besides
the ones an admin attaches (`extra_qos`). The columns here are the portal's intent;
`portal accounts check` compares them with sacctmgr.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class ProjectRole(enum.StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    # Past its end date: the account association's GrpJobs/GrpSubmitJobs are 0.
    EXPIRED = "expired"
    # Before its start date: blocked in Slurm the same way; opened on the start date.
    NOT_STARTED = "not_started"
    # Archived by an admin (issue #16): account, approved child and QOS blocked the same
    # way, its jobs cancelled; kept for cost reports (portal/services/lifecycle.py).
    ARCHIVED = "archived"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The Slurm account name; never changes once created.
    account: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Quota (None: no limit). Memory in GB; the session limit in minutes (QOS MaxWall).
    gpu_limit: Mapped[int | None] = mapped_column(Integer)
    cpu_limit: Mapped[int | None] = mapped_column(Integer)
    mem_limit_gb: Mapped[int | None] = mapped_column(Integer)
    gpu_per_user: Mapped[int | None] = mapped_column(Integer)
    max_wall_minutes: Mapped[int | None] = mapped_column(Integer)
    # Sessions idle this long may be reclaimed (the sessions feature enforces it).
    idle_reclaim_minutes: Mapped[int | None] = mapped_column(Integer)
    members_see_sessions: Mapped[bool] = mapped_column(Boolean, default=False)
    # Requests for more GPUs than this wait for a manager (None: never); enforced by
    # Slurm as MaxTRES=gres/gpu=<n> on the account (see portal/services/approvals.py).
    approval_threshold: Mapped[int | None] = mapped_column(Integer)
    # The project's own QOS (None: a project the portal adopted without one, e.g. demo).
    qos_name: Mapped[str | None] = mapped_column(String(64))
    extra_qos: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[ProjectStatus] = mapped_column(
        Enum(ProjectStatus, native_enum=False, length=16), default=ProjectStatus.ACTIVE
    )
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime)
    blocked_reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_blocked(self) -> bool:
        """Slurm refuses the project's jobs (GrpJobs=0, GrpSubmitJobs=0): outside its dates."""
        return self.status in (ProjectStatus.EXPIRED, ProjectStatus.NOT_STARTED,
                               ProjectStatus.ARCHIVED)

    memberships = relationship(
        "Membership", back_populates="project", cascade="all, delete-orphan"
    )
    extension_requests = relationship(
        "ExtensionRequest", back_populates="project", cascade="all, delete-orphan",
        order_by="ExtensionRequest.id.desc()",
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    role: Mapped[ProjectRole] = mapped_column(
        Enum(ProjectRole, native_enum=False, length=16), default=ProjectRole.MEMBER
    )

    user = relationship("User", back_populates="memberships")
    project = relationship("Project", back_populates="memberships")


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ExtensionRequest(Base):
    """A member asks for N more days; a platform admin approves or rejects it (F2)."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ExtensionStatus] = mapped_column(
        Enum(ExtensionStatus, native_enum=False, length=16),
        default=ExtensionStatus.PENDING,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_message: Mapped[str] = mapped_column(Text, default="")
    # The end date before and after an approval, for the record.
    old_end_date: Mapped[date | None] = mapped_column(Date)
    new_end_date: Mapped[date | None] = mapped_column(Date)

    project = relationship("Project", back_populates="extension_requests")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
