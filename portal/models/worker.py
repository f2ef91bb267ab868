"""The worker's heartbeat: written at the end of every cycle, so pages and `portal cluster
status` can say when the worker is late (a dead or stuck worker freezes every cached state)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    # One row per worker name ("worker"); a second worker host would overwrite it, and the
    # pid/host columns say which one beat last.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(DateTime)  # end of the last cycle (UTC)
    cycle_started_at: Mapped[datetime] = mapped_column(DateTime)
    duration: Mapped[float] = mapped_column(Float)  # seconds the last cycle took
    interval: Mapped[float] = mapped_column(Float)  # the pause that worker takes between cycles
    cycles: Mapped[int] = mapped_column(Integer)  # cycles since that process started
    process_started_at: Mapped[datetime] = mapped_column(DateTime)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    # {step: {"ok": bool, "seconds": float, "error": str | None, "failing_since": iso | None}}
    steps: Mapped[dict] = mapped_column(JSON)
