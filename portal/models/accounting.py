"""Slurm accounting as the portal keeps it (F5, F11): finished allocations imported from
`sacct` incrementally by the worker, and the unit prices admins set.

Cost analysis, the wallet's charges and the GPU rental overview all read these rows, so
pages never run `sacct` per request (decision 3).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class AccountingRecord(Base):
    """One finished Slurm allocation (steps are folded into it), as `sacct` reported it."""

    __tablename__ = "accounting_records"
    __table_args__ = (
        Index("ix_accounting_records_account_end", "account", "end_at"),
        Index("ix_accounting_records_user_end", "user", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)  # sacct JobIDRaw
    user: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(64), default="")
    qos: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(32))
    submit_at: Mapped[datetime | None] = mapped_column(DateTime)
    start_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    end_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    elapsed_s: Mapped[int] = mapped_column(Integer, default=0)
    alloc_cpus: Mapped[int] = mapped_column(Integer, default=0)
    alloc_mem_mb: Mapped[int] = mapped_column(Integer, default=0)
    alloc_gpus: Mapped[int] = mapped_column(Integer, default=0)
    gpu_model: Mapped[str | None] = mapped_column(String(32))
    billing: Mapped[int] = mapped_column(Integer, default=0)  # AllocTRES billing=
    comment: Mapped[str] = mapped_column(String(255), default="")  # the portal's tag
    # "session" | "job" | "schedule" | "shell" (submitted around the portal)
    service: Mapped[str] = mapped_column(String(16), default="shell", index=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Price(Base):
    """A unit price per hour, from `effective_from` until the next row for that resource.

    `resource` is "cpu" (per CPU-hour) or "gpu:<model>" (per GPU-hour, e.g. "gpu:a100").
    Old rows are kept: an order keeps the price of its time.
    """

    __tablename__ = "prices"
    __table_args__ = (Index("ix_prices_resource_from", "resource", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource: Mapped[str] = mapped_column(String(48))
    hourly: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    effective_from: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
