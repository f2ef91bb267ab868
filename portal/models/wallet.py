"""The wallet (F11): a per-project ledger of top-ups and charges, and the budget as set in
Slurm (ARCHITECTURE.md decision 9).

The balance is the sum of a project's transactions (top-ups positive, charges negative).
A charge is one finished Slurm allocation; `job_id` is UNIQUE, so a job is charged at most
once however often (or however interrupted) the worker runs. Rows are never updated or
deleted by the application, except `order_id`, filled in when an order shows up later.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

TOPUP = "topup"
CHARGE = "charge"
KINDS = (TOPUP, CHARGE)
SERVICES = ("session", "job", "schedule", "shell")


class WalletTransaction(Base):
    __tablename__ = "wallet_transactions"
    __table_args__ = (
        Index("ix_wallet_transactions_project_at", "project_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    account: Mapped[str] = mapped_column(String(64))  # the Slurm account, kept for the record
    kind: Mapped[str] = mapped_column(String(16))  # TOPUP | CHARGE
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 4))  # signed: charges are negative
    # When it happened: a top-up's time, or the charged job's end.
    occurred_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Charges: the Slurm job (sacct JobIDRaw), at most one charge per job.
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    service: Mapped[str | None] = mapped_column(String(16))  # SERVICES, charges only
    user: Mapped[str] = mapped_column(String(64), default="")  # the job's Unix user
    qos: Mapped[str] = mapped_column(String(64), default="")
    billing: Mapped[int] = mapped_column(Integer, default=0)  # sacct AllocTRES billing=
    elapsed_s: Mapped[int] = mapped_column(Integer, default=0)
    order_id: Mapped[int | None] = mapped_column(Integer)  # the order, when there is one
    # Top-ups: who and why.
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")

    created_by = relationship("User")


class WalletBudget(Base):
    """The Slurm side of one project's budget: the limit the worker last set on its QOS.

    limit = baseline + (top-ups − charges of jobs outside this QOS) in billing-minutes, where
    `baseline` is the QOS usage that is not the wallet's business (before the wallet began,
    or lost to a usage reset); see portal.services.wallet.sync_budget.
    """

    __tablename__ = "wallet_budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    qos: Mapped[str] = mapped_column(String(64))
    baseline_minutes: Mapped[int] = mapped_column(BigInteger, default=0)
    limit_minutes: Mapped[int | None] = mapped_column(BigInteger)
    used_minutes: Mapped[int] = mapped_column(BigInteger, default=0)  # at the last sync
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str] = mapped_column(Text, default="")
