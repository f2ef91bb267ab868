"""Interactive container sessions (F3) and the public images admins register (F13).

A Session row holds intent (the spec the user confirmed, the tag put in --comment) and
the worker's cached view of its Slurm job. Connection details (node, ports, Jupyter
token) are copied from the 0600 file the job writes in the owner's workspace once the
session is up; the token is kept encrypted with a key derived from the portal's secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

SERVICES = ("jupyter", "ssh", "webterm")
AUTH_METHODS = ("key", "password")


class PublicImage(Base):
    """A container image every user may start, registered by a platform admin."""

    __tablename__ = "public_images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The key jobs, templates and sessions store ("jupyter"); never changes.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    path: Mapped[str] = mapped_column(String(1024))
    framework: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    services: Mapped[list] = mapped_column(JSON, default=list)  # subset of SERVICES
    auth_methods: Mapped[list] = mapped_column(JSON, default=list)  # subset of AUTH_METHODS
    shell: Mapped[str] = mapped_column(String(255), default="/bin/bash")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


session_whitelists = Table(
    "session_whitelists",
    Base.metadata,
    Column("session_id", ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("whitelist_id", ForeignKey("whitelists.id", ondelete="CASCADE"), primary_key=True),
)


class Session(Base):
    """One interactive session = one Slurm batch job running the image's services."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The submission's tag (--comment=portal-session-<uuid>), for adoption after a crash.
    uuid: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    # Who pressed the button: the owner, or the manager who batch-created it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str | None] = mapped_column(String(64))
    gpu_model: Mapped[str | None] = mapped_column(String(32))
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    cpus: Mapped[int] = mapped_column(Integer, default=1)
    mem_gb: Mapped[int] = mapped_column(Integer, default=1)
    shm_gb: Mapped[int] = mapped_column(Integer, default=0)
    image_type: Mapped[str] = mapped_column(String(16), default="public")
    image: Mapped[str] = mapped_column(String(64))
    image_path: Mapped[str] = mapped_column(String(1024), default="")
    framework: Mapped[str] = mapped_column(String(64), default="")
    shell: Mapped[str] = mapped_column(String(255), default="/bin/bash")
    services: Mapped[list] = mapped_column(JSON, default=list)
    ssh_key_ids: Mapped[list] = mapped_column(JSON, default=list)
    webterm_password_hash: Mapped[str | None] = mapped_column(String(255))
    allow_all: Mapped[bool] = mapped_column(Boolean, default=False)
    # F4: the job copies the image to a kept per-session layer that can become a custom
    # image (slower start, more disk); off: the image runs as it is.
    writable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    begin_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC; None: at once
    end_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC; None: never
    time_limit_min: Mapped[int | None] = mapped_column(Integer)
    directory: Mapped[str] = mapped_column(String(1024), default="")
    sbatch_args: Mapped[list] = mapped_column(JSON, default=list)
    slurm_job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # submitting, pending, starting, running, deleting, ended, failed (see services);
    # awaiting (asked for by a manager, waits for the owner), declined, withdrawn (#12).
    state: Mapped[str] = mapped_column(String(16), default="submitting", index=True)
    slurm_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(255))
    nodes: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    # From the job's connection file (host must be one of `nodes` to be used).
    host: Mapped[str | None] = mapped_column(String(255))
    jupyter_port: Mapped[int | None] = mapped_column(Integer)
    ssh_port: Mapped[int | None] = mapped_column(Integer)
    token_enc: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The last sbatch attempt, as on jobs (portal/services/submission.py, issue #13).
    submit_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    submit_ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime)  # the portal read its file
    # Issue #17 item 5, time to ready per stage: submitted_at (queued), started_at (Slurm
    # says RUNNING), container_up_at (its services listened: the connection file's own
    # time), app_ready_at (Jupyter answered /api/status through the portal's path).
    container_up_at: Mapped[datetime | None] = mapped_column(DateTime)
    app_ready_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    delete_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Last time the portal looked for the connection file of a starting session.
    probed_at: Mapped[datetime | None] = mapped_column(DateTime)

    user = relationship("User", foreign_keys=[user_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    project = relationship("Project")
    whitelists = relationship("Whitelist", secondary=session_whitelists, order_by="Whitelist.name")
