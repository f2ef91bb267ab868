"""What an ended job or session used against what it held (issue #17 item 6, like `seff`).

One row per job or session (kind "job" | "session", ref_id its id), written once by the
worker's efficiency step from sacct (portal/services/efficiency.py) and, for sessions, the
mean GPU utilisation of the portal's own monitoring samples. Pages, the API and the
"ended" notification read it; none of them asks Slurm (decision 3).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class Efficiency(Base):
    __tablename__ = "efficiency"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_efficiency_kind_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # job | session
    ref_id: Mapped[int] = mapped_column(Integer)
    slurm_job_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))  # Slurm's final word
    elapsed_s: Mapped[int] = mapped_column(Integer, default=0)
    total_cpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    alloc_cpus: Mapped[int] = mapped_column(Integer, default=0)
    max_rss_mb: Mapped[float | None] = mapped_column(Float)  # None: Slurm took no sample
    alloc_mem_mb: Mapped[int] = mapped_column(Integer, default=0)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    gpu_util: Mapped[float | None] = mapped_column(Float)  # % mean; None: no samples
    gpu_samples: Mapped[int] = mapped_column(Integer, default=0)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
