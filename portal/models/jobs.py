"""Batch jobs (F6), job templates (F7) and schedules (F8).

Slurm is the source of truth for what runs; these rows hold intent (the spec, the
rendered script, the tag put in --comment) and the worker's cached view of each job's
state, so pages never ask Slurm per request (decision 3).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class JobSpecMixin:
    """The hardware, image and command a job runs with; shared by jobs and templates."""

    gpu_model: Mapped[str | None] = mapped_column(String(32))
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    cpus: Mapped[int] = mapped_column(Integer, default=1)
    mem_gb: Mapped[int] = mapped_column(Integer, default=1)
    shm_gb: Mapped[int] = mapped_column(Integer, default=0)
    image_type: Mapped[str] = mapped_column(String(16), default="public")
    image: Mapped[str] = mapped_column(String(64))
    framework: Mapped[str] = mapped_column(String(64), default="")
    command: Mapped[str] = mapped_column(Text)
    # sbatch --time in minutes (issue #16). A job records the limit it was submitted with;
    # a template None: the project's MaxWall (else the partition default) when it runs.
    time_limit_min: Mapped[int | None] = mapped_column(Integer)
    # sbatch --nodes (issue #15); gpu_count, cpus and mem_gb are per node.
    node_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Job(JobSpecMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_schedule_upcoming", "schedule_id", "upcoming"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The submission's tag, put in --comment so the worker can find and adopt the job.
    uuid: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_templates.id", ondelete="SET NULL")
    )
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str | None] = mapped_column(String(64))
    directory: Mapped[str] = mapped_column(String(255))
    script: Mapped[str] = mapped_column(Text, default="")
    sbatch_args: Mapped[list] = mapped_column(JSON, default=list)
    slurm_job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # "submitting" until sbatch answered, then a JobState value (or "lost").
    state: Mapped[str] = mapped_column(String(20), default="submitting", index=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    nodes: Mapped[str | None] = mapped_column(String(255))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    exit_signal: Mapped[int | None] = mapped_column(Integer)
    # A scheduled run: when it is due (UTC), and whether it is its schedule's next run.
    run_at: Mapped[datetime | None] = mapped_column(DateTime)
    upcoming: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The last sbatch attempt: when it began (files first), and when it ended without an
    # answer (None once answered). See portal/services/submission.py (issue #13).
    submit_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    submit_ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)

    user = relationship("User")
    project = relationship("Project")
    template = relationship("JobTemplate")
    schedule = relationship("Schedule", foreign_keys=[schedule_id])
    events = relationship(
        "JobEvent", back_populates="job", cascade="all, delete-orphan", order_by="JobEvent.id"
    )


class JobEvent(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # submitted, held, started, completed…
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    job = relationship("Job", back_populates="events")


class JobTemplate(JobSpecMixin, Base):
    __tablename__ = "job_templates"
    __table_args__ = (UniqueConstraint("project_id", "user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(48))
    # Jobs run from this template are named "<name>-<n>"; n only grows.
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user = relationship("User")
    project = relationship("Project")


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_templates.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(48))
    description: Mapped[str] = mapped_column(Text, default="")
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    end_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    mode: Mapped[str] = mapped_column(String(8), default="single")  # single | multi
    missed_policy: Mapped[str] = mapped_column(String(12), default="skip")  # skip | run_late
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    # The due time (UTC) of the newest run submitted: the next run comes after it.
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    # A short lease: whoever holds it may submit this schedule's next run.
    lock_owner: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    user = relationship("User")
    project = relationship("Project")
    template = relationship("JobTemplate")
    events = relationship(
        "ScheduleEvent",
        back_populates="schedule",
        cascade="all, delete-orphan",
        order_by="ScheduleEvent.id",
    )


class ScheduleEvent(Base):
    """The schedule's history: runs submitted, skipped, run late, errors, its end."""

    __tablename__ = "schedule_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    schedule = relationship("Schedule", back_populates="events")
