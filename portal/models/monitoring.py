"""Session monitoring (F3): the samples the worker ingests from each session's sampler.

`SessionMetric` rows are buckets: resolution 10 s (the raw samples, kept for the last
hour of the session), 60 s (kept for its last day) and 300 s (kept for its lifetime).
Each bucket holds the mean of its `n` samples, so later samples merge in without the
older ones. `SessionMetricCursor` says how far the worker has read the session's file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow

# Field name in a sample → column; all means over the bucket.
SERIES = ("cpu", "mem", "node_cpu", "disk_ws", "disk_scratch", "net_rx", "net_tx",
          "gpu_util", "gpu_mem", "gpu_mem_total")


class SessionMetric(Base):
    __tablename__ = "session_metrics"
    __table_args__ = (
        UniqueConstraint("session_id", "resolution", "at", name="uq_session_metrics_bucket"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    resolution: Mapped[int] = mapped_column(Integer)  # seconds: 10, 60 or 300
    at: Mapped[datetime] = mapped_column(DateTime)  # bucket start, naive UTC
    n: Mapped[int] = mapped_column(Integer, default=0)
    cpu: Mapped[float | None] = mapped_column(Float)  # cores
    mem: Mapped[float | None] = mapped_column(Float)  # bytes
    node_cpu: Mapped[float | None] = mapped_column(Float)  # % of the node
    disk_ws: Mapped[float | None] = mapped_column(Float)  # bytes
    disk_scratch: Mapped[float | None] = mapped_column(Float)  # bytes
    net_rx: Mapped[float | None] = mapped_column(Float)  # bytes/s
    net_tx: Mapped[float | None] = mapped_column(Float)  # bytes/s
    gpu_util: Mapped[float | None] = mapped_column(Float)  # % mean over the job's GPUs
    gpu_mem: Mapped[float | None] = mapped_column(Float)  # MiB used, all the job's GPUs
    gpu_mem_total: Mapped[float | None] = mapped_column(Float)  # MiB


class SessionMetricCursor(Base):
    """Where ingestion stands for one session (one row per monitored session)."""

    __tablename__ = "session_metric_cursors"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    offset: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes read of metrics.jsonl
    last_n: Mapped[int] = mapped_column(Integer, default=0)  # last sample number ingested
    last_at: Mapped[datetime | None] = mapped_column(DateTime)  # its time
    source: Mapped[str | None] = mapped_column(String(16))  # cgroup2 | cgroup1 | proc
    ncpu: Mapped[int | None] = mapped_column(Integer)
    mem_limit: Mapped[int | None] = mapped_column(BigInteger)
    gpu_note: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
