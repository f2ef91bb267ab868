"""Idle reclaim (issue #17, item 2): the per-project policy and each session's idle state.

`IdlePolicy` is set by platform admins per project (off by default: no row, or limit 0).
`SessionIdle` holds what the portal saw of a session's use: the last proxy, terminal or
SSH activity (written at most once a minute per session and process, never per request),
the last Keep, and which warning points of the current idle period were already sent.
Times are naive UTC like every time the portal stores.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class IdlePolicy(Base):
    __tablename__ = "idle_policies"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    limit_s: Mapped[int] = mapped_column(Integer, default=0)  # 0: idle reclaim off
    warn_s: Mapped[list] = mapped_column(JSON, default=list)  # seconds idle, ascending
    gpu_threshold: Mapped[float] = mapped_column(Float, default=5.0)  # % mean utilisation
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class SessionIdle(Base):
    __tablename__ = "session_idle"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_activity_kind: Mapped[str | None] = mapped_column(String(16))  # proxy|terminal|ssh
    kept_at: Mapped[datetime | None] = mapped_column(DateTime)
    period_start: Mapped[datetime | None] = mapped_column(DateTime)  # idle since (warnings)
    warned: Mapped[list] = mapped_column(JSON, default=list)  # warning points sent (s)
    reclaimed_at: Mapped[datetime | None] = mapped_column(DateTime)
